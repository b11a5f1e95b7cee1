import type { Knex } from 'knex';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { createHash } from 'node:crypto';
import { pgDeleteWhereIn, pgInsertRows, pgSelectWhereIn } from './bulkWrite';
import { pgCopyRows, pgCopyUpsert } from './copyRows';
import { IN_CHUNK, TABLES, chunks, inListSize, insertRows, isPostgres, json, jsonText, offsetPage, rowsPerInsert, str, type Row } from './db';
import { saveSyncSuccess } from './DatabaseSourceStore';
import { assetIdentifiers } from './signalIdentifiers';
import { transaction } from './transaction';
import type {
  FetchedSignalAssetPage,
  CommitBatchOptions,
  IdentifiedSignal,
  IdentifierKind,
  ListSignalsOptions,
  SignalAssetPage,
  SignalStore,
} from './types';

function signalToRow(s: Signal, nestJson = false): Row {
  return {
    source: s.source,
    source_id: s.sourceId,
    id: s.id,
    kind: s.kind,
    severity: s.severity,
    confidence: s.confidence,
    status: s.status,
    title: s.title,
    description: s.description ?? null,
    tactics: jsonText(s.tactics ?? [], nestJson),
    techniques: jsonText(s.techniques ?? [], nestJson),
    asset: jsonText(s.asset, nestJson),
    first_seen_at: s.firstSeenAt,
    last_seen_at: s.lastSeenAt,
    fetched_at: s.fetchedAt,
    url: s.url ?? null,
    raw: s.raw === undefined ? null : jsonText(s.raw, nestJson),
    indicators: s.indicators && Object.keys(s.indicators).length ? jsonText(s.indicators, nestJson) : null,
    updated_at: s.updatedAt ?? s.lastSeenAt,
  };
}

/** A PostgreSQL data exception (SQLSTATE class 22: a value too long, an untranslatable character, ...). */
function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}

/** Accepted push deliveries by replay key (the replay guard every replica shares). */
export const PUSH_DELIVERIES_TABLE = 'runtime_risk_push_deliveries';

/** A push delivery whose replay key another delivery (on any replica) already used. */
export class ReplayedDeliveryError extends Error {
  constructor(sourceId: string) {
    super(`signature: replayed request to source '${sourceId}'`);
    this.name = 'ReplayedDeliveryError';
  }
}

/**
 * Upsert condition: a stored signal is replaced only by an equal or newer state
 * (the vendor's `updatedAt`, else `lastSeenAt`), so a late or replayed delivery
 * never brings an older one back. ISO 8601 UTC strings compare as times.
 */
const NEWER_OR_EQUAL = `excluded.updated_at >= ${TABLES.signals}.updated_at or ${TABLES.signals}.updated_at is null`;

/** The JSON text columns of a signal row. */
const SIGNAL_JSON_COLUMNS = ['tactics', 'techniques', 'asset', 'raw', 'indicators'];

/** The columns of a signal row (`signalToRow`), for bulk upserts. */
const SIGNAL_COLUMNS = [
  'source',
  'source_id',
  'id',
  'kind',
  'severity',
  'confidence',
  'status',
  'title',
  'description',
  'tactics',
  'techniques',
  'asset',
  'first_seen_at',
  'last_seen_at',
  'fetched_at',
  'url',
  'raw',
  'indicators',
  'updated_at',
];

type IdentifierRow = { signal_id: string; kind: string; value: string };

const IDENTIFIER_COLUMNS = ['signal_id', 'kind', 'value'];

/** The identifier rows each signal should have (by signal id, in batch order). */
function signalIdentifierRows(signals: Signal[]): Map<string, IdentifierRow[]> {
  const wanted = new Map<string, IdentifierRow[]>();
  for (const s of signals) {
    wanted.set(
      s.id,
      assetIdentifiers(s.asset).map(i => ({ signal_id: s.id, kind: i.kind, value: i.value })),
    );
  }
  return wanted;
}

function rowToSignal(r: Row): Signal {
  const s: Signal = {
    id: str(r.id),
    source: str(r.source),
    sourceId: str(r.source_id),
    kind: str(r.kind) as Signal['kind'],
    severity: str(r.severity) as Signal['severity'],
    confidence: Number(r.confidence),
    status: str(r.status) as Signal['status'],
    title: str(r.title),
    tactics: json<string[]>(r.tactics, []),
    techniques: json<string[]>(r.techniques, []),
    asset: json<Signal['asset']>(r.asset, { ips: [], macs: [] }),
    firstSeenAt: str(r.first_seen_at),
    lastSeenAt: str(r.last_seen_at),
    fetchedAt: str(r.fetched_at),
  };
  if (r.description !== null && r.description !== undefined) s.description = str(r.description);
  if (r.url !== null && r.url !== undefined) s.url = str(r.url);
  if (r.raw !== null && r.raw !== undefined) s.raw = json<unknown>(r.raw, undefined);
  if (r.indicators !== null && r.indicators !== undefined) s.indicators = json<NonNullable<Signal['indicators']>>(r.indicators, {});
  return s;
}

/** {@link SignalStore} on knex. */
export class DatabaseSignalStore implements SignalStore {
  /**
   * @param options.copyFrom On PostgreSQL, batches of at least this many signals are
   * upserted through COPY into a staging table (issue 18 part 3, `pgCopyUpsert`);
   * smaller ones (a webhook push) with one insert statement. Default 100.
   */
  constructor(
    private readonly db: Knex,
    private readonly options: { copyFrom?: number } = {},
  ) {}

  /**
   * Commits the batch (see {@link CommitBatchOptions}). When PostgreSQL refuses a
   * value that validation let through (a data exception, SQLSTATE class 22, e.g.
   * a string over its column), the records it refuses are found one by one (each
   * in a savepoint of a probe transaction that is rolled back) and the batch is
   * committed without them, counted as rejected: one bad record never stalls a
   * source.
   */
  async commitBatch(options: CommitBatchOptions): Promise<void> {
    try {
      await this.commitOnce(options);
    } catch (e) {
      if (!isDataError(e) || options.signals.length === 0 || !isPostgres(this.db)) throw e;
      const refused = await this.refusedSignals(options.signals);
      if (refused.size === 0) throw e;
      await this.commitOnce({
        ...options,
        signals: options.signals.filter(s => !refused.has(s.id)),
        rejected: (options.rejected ?? 0) + refused.size,
        rejectedReason: [...refused.values()].pop(),
      });
    }
  }

  /** The signals of `signals` PostgreSQL refuses to store, with why (never the value); nothing is written. */
  private async refusedSignals(signals: Signal[]): Promise<Map<string, string>> {
    const refused = new Map<string, string>();
    const probeDone = new Error('probe done');
    await this.db
      .transaction(async tx => {
        for (const s of signals) {
          try {
            await tx.transaction(async savepoint => {
              await upsertSignalRows(savepoint, [signalToRow(s, true)]);
              await insertRows(savepoint, TABLES.identifiers, IDENTIFIER_COLUMNS, signalIdentifierRows([s]).get(s.id) ?? [], {
                conflictKeys: IDENTIFIER_COLUMNS,
              });
              throw probeDone;
            });
          } catch (err) {
            if (err === probeDone) continue;
            if (!isDataError(err)) throw err;
            refused.set(s.id, `${s.sourceId.slice(0, 100)}: refused by the database (SQLSTATE ${(err as { code: string }).code})`);
          }
        }
        throw probeDone;
      })
      .catch(err => {
        if (err !== probeDone) throw err;
      });
    return refused;
  }

  private async commitOnce(options: CommitBatchOptions): Promise<void> {
    // the same signal twice in one batch: the last one wins (as consecutive upserts would)
    const byId = new Map<string, Signal>();
    for (const s of options.signals) {
      byId.delete(s.id);
      byId.set(s.id, s);
    }
    const after = options.after;
    // signals the commit before this one writes too: written only after it, so neither waits for the other's row locks
    const early = after ? [...byId.values()].filter(s => !after.signalIds.has(s.id)) : [...byId.values()];
    const late = after ? [...byId.values()].filter(s => after.signalIds.has(s.id)) : [];
    // rows and identifiers are computed before the transaction holds a connection
    const pg = isPostgres(this.db);
    const writes = [early, late].map(signals => ({
      rows: signals.map(s => signalToRow(s, pg)),
      identifiers: signalIdentifierRows(signals),
    }));
    // SQLite has one connection: the commit before finishes before this transaction begins
    if (!pg && after) await after.commit;
    await transaction(this.db, async tx => {
      if (options.delivery) await claimDelivery(tx, options.sourceId, options.delivery);
      for (const [i, { rows, identifiers }] of writes.entries()) {
        // the commit before is done before the shared signals and this batch's source state (and cursor) are written
        if (i === 1 && after) await after.commit;
        if (!rows.length) continue;
        const written = await upsertSignalRows(tx, rows, rows.length >= (this.options.copyFrom ?? DEFAULT_COPY_FROM));
        // identifiers of a signal whose older state was not written stay those of the stored state
        if (written.size < identifiers.size) for (const id of [...identifiers.keys()]) if (!written.has(id)) identifiers.delete(id);
        await this.replaceIdentifiers(tx, identifiers, rows.length >= (this.options.copyFrom ?? DEFAULT_COPY_FROM));
      }
      await saveSyncSuccess(tx, options);
    }, { changesGateInputs: true });
  }

  /**
   * Makes the identifier rows of `signals` match their assets: rows of signals
   * whose identifiers did not change stay as they are; the others are replaced.
   * Runs after the signals' upsert in the same transaction (which holds their
   * row locks), so concurrent commits of the same signals see committed rows.
   */
  private async replaceIdentifiers(tx: Knex.Transaction, wanted: Map<string, IdentifierRow[]>, copy = false): Promise<void> {
    if (wanted.size === 0) return;
    const pg = isPostgres(tx);
    const ids = [...wanted.keys()];
    const stored = new Map<string, Set<string>>();
    const storedRows: Row[] = [];
    if (pg) {
      storedRows.push(...(await pgSelectWhereIn(tx, TABLES.identifiers, 'signal_id', ids, ['signal_id', 'kind', 'value'])));
    } else {
      for (const chunk of chunks(ids, inListSize(tx))) {
        storedRows.push(...(await tx(TABLES.identifiers).whereIn('signal_id', chunk).select('signal_id', 'kind', 'value')));
      }
    }
    for (const r of storedRows) {
      const id = str(r.signal_id);
      const set = stored.get(id) ?? new Set<string>();
      set.add(`${str(r.kind)}\u0000${str(r.value)}`);
      stored.set(id, set);
    }
    const changed: string[] = [];
    const insert: IdentifierRow[] = [];
    for (const [id, rows] of wanted) {
      const have = stored.get(id);
      if (have) {
        const same = have.size === rows.length && rows.every(r => have.has(`${r.kind}\u0000${r.value}`));
        if (same) continue;
        changed.push(id);
      }
      for (const r of rows) insert.push(r);
    }
    if (pg) {
      await pgDeleteWhereIn(tx, TABLES.identifiers, 'signal_id', changed);
    } else {
      for (const chunk of chunks(changed, inListSize(tx))) await tx(TABLES.identifiers).whereIn('signal_id', chunk).delete();
    }
    // a plain insert (the rows of changed signals were deleted): COPY straight into the table
    if (copy && pg) await pgCopyRows(tx, TABLES.identifiers, IDENTIFIER_COLUMNS, insert);
    else await insertRows(tx, TABLES.identifiers, IDENTIFIER_COLUMNS, insert);
  }

  async findSignalsByIdentifiers(values: string[]): Promise<IdentifiedSignal[]> {
    const wanted = [...new Set(values.map(v => v.toLowerCase()))];
    const identRows: Row[] = [];
    for (const chunk of chunks(wanted, IN_CHUNK)) {
      identRows.push(...(await this.db(TABLES.identifiers).whereIn('value', chunk).select()));
    }
    if (identRows.length === 0) return [];
    const bySignal = new Map<string, { kind: IdentifierKind; value: string }[]>();
    for (const r of identRows) {
      const list = bySignal.get(str(r.signal_id)) ?? [];
      list.push({ kind: str(r.kind) as IdentifierKind, value: str(r.value) });
      bySignal.set(str(r.signal_id), list);
    }
    const signalRows: Row[] = [];
    for (const chunk of chunks([...bySignal.keys()], IN_CHUNK)) {
      signalRows.push(...(await this.db(TABLES.signals).whereIn('id', chunk).select()));
    }
    return signalRows
      .map(r => ({ signal: rowToSignal(r), identifiers: bySignal.get(str(r.id)) ?? [] }))
      .sort((a, b) => (a.signal.id < b.signal.id ? -1 : a.signal.id > b.signal.id ? 1 : 0));
  }

  async listSignals(options: ListSignalsOptions): Promise<{ items: Signal[]; totalCount: number }> {
    const base = () => {
      const q = this.db(TABLES.signals);
      if (options.identifierValues) {
        const values = [...new Set(options.identifierValues.map(v => v.toLowerCase()))];
        q.whereIn('id', this.db(TABLES.identifiers).whereIn('value', values.length ? values : ['\u0000']).select('signal_id'));
      }
      if (options.status) q.where('status', options.status);
      return q;
    };
    return offsetPage(base, 'last_seen_at', options, rowToSignal);
  }

  async listSignalAssets(options: { after?: { lastSeenAt: string; id: string }; limit: number }): Promise<SignalAssetPage> {
    const q = this.db(TABLES.signals).select('id', 'last_seen_at', 'asset');
    const after = options.after;
    if (after) {
      // keyset on (last_seen_at DESC, id ASC): the rows after the last one returned
      // (the `<=` bound alone lets the database scan the last_seen_at index from there)
      q.where('last_seen_at', '<=', after.lastSeenAt).andWhere(w =>
        w.where('last_seen_at', '<', after.lastSeenAt).orWhere('id', '>', after.id),
      );
    }
    const rows: Row[] = await q
      .orderBy([
        { column: 'last_seen_at', order: 'desc' },
        { column: 'id', order: 'asc' },
      ])
      .limit(options.limit);
    const items = rows.map(r => ({
      id: str(r.id),
      lastSeenAt: str(r.last_seen_at),
      asset: json<Signal['asset']>(r.asset, { ips: [], macs: [] }),
    }));
    const page: SignalAssetPage = { items };
    if (items.length === options.limit) {
      const last = items[items.length - 1];
      page.next = { lastSeenAt: last.lastSeenAt, id: last.id };
    }
    return page;
  }

  async listSignalAssetsFetchedSince(options: {
    since: string;
    after?: { fetchedAt: string; id: string };
    limit: number;
  }): Promise<FetchedSignalAssetPage> {
    const q = this.db(TABLES.signals).select('id', 'last_seen_at', 'fetched_at', 'asset').where('fetched_at', '>=', options.since);
    const after = options.after;
    if (after) {
      // keyset on (fetched_at, id), served by the fetched_at index
      q.where('fetched_at', '>=', after.fetchedAt).andWhere(w =>
        w.where('fetched_at', '>', after.fetchedAt).orWhere('id', '>', after.id),
      );
    }
    const rows: Row[] = await q.orderBy([{ column: 'fetched_at' }, { column: 'id' }]).limit(options.limit);
    const items = rows.map(r => ({
      id: str(r.id),
      lastSeenAt: str(r.last_seen_at),
      fetchedAt: str(r.fetched_at),
      asset: json<Signal['asset']>(r.asset, { ips: [], macs: [] }),
    }));
    const page: FetchedSignalAssetPage = { items };
    if (items.length === options.limit) {
      const last = items[items.length - 1];
      page.next = { fetchedAt: last.fetchedAt, id: last.id };
    }
    return page;
  }

  async latestSignalFetchedAt(): Promise<string | undefined> {
    const row = await this.db(TABLES.signals).max({ m: 'fetched_at' }).first();
    return row?.m ? str(row.m) : undefined;
  }

  async listSignalAssetsByIdentifiers(kind: string, values: string[]): Promise<{ value: string; id: string; lastSeenAt: string; asset: Signal['asset'] }[]> {
    const out: { value: string; id: string; lastSeenAt: string; asset: Signal['asset'] }[] = [];
    for (const chunk of chunks([...new Set(values)], IN_CHUNK)) {
      const rows: Row[] = await this.db(`${TABLES.identifiers} as i`)
        .join(`${TABLES.signals} as s`, 's.id', 'i.signal_id')
        .where('i.kind', kind)
        .whereIn('i.value', chunk)
        .select('i.value as value', 's.id as id', 's.last_seen_at as last_seen_at', 's.asset as asset');
      for (const r of rows) {
        out.push({ value: str(r.value), id: str(r.id), lastSeenAt: str(r.last_seen_at), asset: json<Signal['asset']>(r.asset, { ips: [], macs: [] }) });
      }
    }
    // listSignalAssets order: last seen first, then id
    return out.sort((a, b) =>
      a.lastSeenAt !== b.lastSeenAt ? (a.lastSeenAt > b.lastSeenAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
  }

  async existingSignalIdentifiers(kind: string, values: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const chunk of chunks([...new Set(values)], IN_CHUNK)) {
      const rows: Row[] = await this.db(TABLES.identifiers).where('kind', kind).whereIn('value', chunk).distinct('value');
      for (const r of rows) found.add(str(r.value));
    }
    return found;
  }
}

/**
 * Inserts or replaces signal rows, a stored row only by an equal or newer state
 * ({@link NEWER_OR_EQUAL}); answers the ids of the rows written.
 */
/** Signals per batch from which PostgreSQL upserts go through COPY (see DatabaseSignalStore's `copyFrom`). */
const DEFAULT_COPY_FROM = 100;

async function upsertSignalRows(tx: Knex.Transaction, rows: Row[], copy = false): Promise<Set<string>> {
  const written = new Set<string>();
  if (copy && isPostgres(tx)) {
    const returned = await pgCopyUpsert(tx, TABLES.signals, SIGNAL_COLUMNS, rows, { keys: ['source', 'source_id'], where: NEWER_OR_EQUAL }, 'id');
    for (const r of returned) written.add(str(r.id));
    return written;
  }
  if (isPostgres(tx)) {
    const returned = await pgInsertRows(
      tx,
      TABLES.signals,
      SIGNAL_COLUMNS,
      rows,
      { keys: ['source', 'source_id'], update: true, where: NEWER_OR_EQUAL },
      SIGNAL_JSON_COLUMNS,
      'id',
    );
    for (const r of returned) written.add(str(r.id));
    return written;
  }
  const update = SIGNAL_COLUMNS.filter(c => c !== 'source' && c !== 'source_id');
  for (const chunk of chunks(rows, rowsPerInsert(tx, SIGNAL_COLUMNS.length))) {
    const returned: Row[] = await tx(TABLES.signals)
      .insert(chunk)
      .onConflict(['source', 'source_id'])
      .merge(update)
      .where(tx.raw(NEWER_OR_EQUAL))
      .returning('id');
    for (const r of returned) written.add(str(r.id));
  }
  return written;
}

/**
 * Records a push delivery's replay key inside the batch's transaction (expired
 * keys of the source are removed first); throws {@link ReplayedDeliveryError}
 * when the key is already there: the delivery was accepted before, by this
 * replica or another one sharing the database.
 */
async function claimDelivery(tx: Knex.Transaction, sourceId: string, delivery: { key: string; expiresAt: string }): Promise<void> {
  await tx(PUSH_DELIVERIES_TABLE).where({ source: sourceId }).where('expires_at', '<', new Date().toISOString()).delete();
  const key = createHash('sha256').update(delivery.key).digest('hex');
  const inserted: Row[] = await tx(PUSH_DELIVERIES_TABLE)
    .insert({ source: sourceId, delivery_key: key, expires_at: delivery.expiresAt })
    .onConflict(['source', 'delivery_key'])
    .ignore()
    .returning('delivery_key');
  if (inserted.length === 0) throw new ReplayedDeliveryError(sourceId);
}
