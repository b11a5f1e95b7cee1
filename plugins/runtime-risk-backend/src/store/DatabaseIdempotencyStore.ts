import type { Knex } from 'knex';
import { str, type Row } from './db';
import type { IdempotencyClaim, IdempotencyStore } from './types';

/** The table of idempotency keys (migration 20261204030000_idempotency_keys). */
export const IDEMPOTENCY_TABLE = 'runtime_risk_idempotency_keys';

function rowToClaim(r: Row): IdempotencyClaim {
  return {
    caller: str(r.caller),
    key: str(r.idempotency_key),
    requestHash: str(r.request_hash),
    decisionId: str(r.decision_id),
    createdAt: str(r.created_at),
  };
}

/**
 * {@link IdempotencyStore} on knex. A claim is an insert that the primary key
 * (caller, key) lets only one request win, on SQLite and PostgreSQL and across
 * replicas: never a read-then-write.
 */
export class DatabaseIdempotencyStore implements IdempotencyStore {
  constructor(private readonly db: Knex) {}

  async claimIdempotencyKey(claim: IdempotencyClaim): Promise<{ claimed: boolean; current?: IdempotencyClaim }> {
    await this.db(IDEMPOTENCY_TABLE)
      .insert({
        caller: claim.caller,
        idempotency_key: claim.key,
        request_hash: claim.requestHash,
        decision_id: claim.decisionId,
        created_at: claim.createdAt,
      })
      .onConflict(['caller', 'idempotency_key'])
      .ignore();
    const current = await this.getIdempotencyKey(claim.caller, claim.key);
    return { claimed: current?.decisionId === claim.decisionId, current };
  }

  async getIdempotencyKey(caller: string, key: string): Promise<IdempotencyClaim | undefined> {
    const row = await this.db(IDEMPOTENCY_TABLE).where({ caller, idempotency_key: key }).first();
    return row ? rowToClaim(row) : undefined;
  }

  async takeOverIdempotencyKey(previous: IdempotencyClaim, claim: IdempotencyClaim): Promise<boolean> {
    const count = await this.db(IDEMPOTENCY_TABLE)
      .where({ caller: previous.caller, idempotency_key: previous.key, decision_id: previous.decisionId })
      .update({ request_hash: claim.requestHash, decision_id: claim.decisionId, created_at: claim.createdAt });
    return Number(count) === 1;
  }

  async releaseIdempotencyKey(claim: IdempotencyClaim): Promise<void> {
    await this.db(IDEMPOTENCY_TABLE)
      .where({ caller: claim.caller, idempotency_key: claim.key, decision_id: claim.decisionId })
      .delete();
  }

  async sweepIdempotencyKeys(createdBefore: string): Promise<number> {
    const count = await this.db(IDEMPOTENCY_TABLE).where('created_at', '<', createdBefore).delete();
    return Number(count);
  }
}
