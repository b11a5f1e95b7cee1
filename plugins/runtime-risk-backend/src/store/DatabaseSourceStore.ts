import type { Knex } from 'knex';
import { TABLES, str, strOrNull, type Row } from './db';
import { transaction } from './transaction';
import type { CommitBatchOptions, RecordFailureOptions, SourceState, SourceStore } from './types';

function rowToSourceState(r: Row): SourceState {
  return {
    id: str(r.id),
    type: str(r.type),
    cursor: strOrNull(r.cursor),
    lastSuccessAt: strOrNull(r.last_success_at),
    lastAttemptAt: strOrNull(r.last_attempt_at),
    lastError: strOrNull(r.last_error),
    consecutiveFailures: Number(r.consecutive_failures ?? 0),
    asOf: strOrNull(r.as_of),
    rejectedCount: Number(r.rejected_count ?? 0),
    lastRejectedReason: strOrNull(r.last_rejected_reason),
  };
}

/**
 * Saves a successful sync of a source inside `tx` (the transaction that commits
 * its batch of signals, see `DatabaseSignalStore.commitBatch`): the new cursor
 * and `asOf` when given, success time, failures reset, rejected records counted.
 */
export async function saveSyncSuccess(
  tx: Knex.Transaction,
  options: Pick<CommitBatchOptions, 'sourceId' | 'sourceType' | 'cursor' | 'asOf' | 'rejected' | 'rejectedReason' | 'at'>,
): Promise<void> {
  const rejected = options.rejected ?? 0;
  const state: Row = {
    type: options.sourceType,
    last_success_at: options.at,
    last_attempt_at: options.at,
    last_error: null,
    consecutive_failures: 0,
  };
  if (options.rejectedReason) state.last_rejected_reason = options.rejectedReason.slice(0, 500);
  if (options.cursor !== undefined) state.cursor = options.cursor;
  if (options.asOf !== undefined) state.as_of = options.asOf;
  // one atomic upsert (concurrent first deliveries of a new source race on the insert)
  await tx(TABLES.sources)
    .insert({ id: options.sourceId, cursor: null, as_of: null, ...state, rejected_count: rejected })
    .onConflict('id')
    .merge({ ...state, rejected_count: plus(tx, TABLES.sources, 'rejected_count', rejected) });
}

/** `<table>.<column> + n` for an upsert's update: the stored row's value, added to in the database. */
export function plus(tx: Knex.Transaction, table: string, column: string, n: number): Knex.Raw {
  return tx.raw('?? + ?', [`${table}.${column}`, n]);
}

/** {@link SourceStore} on knex. */
export class DatabaseSourceStore implements SourceStore {
  constructor(private readonly db: Knex) {}

  async recordFailure(options: RecordFailureOptions): Promise<void> {
    await transaction(this.db, async tx => {
      // one atomic upsert: concurrent failures of a new source neither collide on the insert nor lose a count
      await tx(TABLES.sources)
        .insert({
          id: options.sourceId,
          type: options.sourceType,
          cursor: null,
          last_success_at: null,
          last_attempt_at: options.at,
          last_error: options.error,
          consecutive_failures: 1,
          as_of: null,
          rejected_count: options.rejected ?? 0,
        })
        .onConflict('id')
        .merge({
          type: options.sourceType,
          last_attempt_at: options.at,
          last_error: options.error,
          consecutive_failures: plus(tx, TABLES.sources, 'consecutive_failures', 1),
          rejected_count: plus(tx, TABLES.sources, 'rejected_count', options.rejected ?? 0),
        });
    }, { changesGateInputs: true });
  }

  async getSourceState(id: string): Promise<SourceState | undefined> {
    const row = await this.db(TABLES.sources).where({ id }).first();
    return row ? rowToSourceState(row) : undefined;
  }

  async listSourceStates(): Promise<SourceState[]> {
    const rows: Row[] = await this.db(TABLES.sources).select().orderBy('id');
    return rows.map(rowToSourceState);
  }
}
