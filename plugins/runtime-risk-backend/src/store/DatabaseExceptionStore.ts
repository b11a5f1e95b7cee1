import type { Knex } from 'knex';
import { prepareAuditEntry, type AuditEntry } from '../audit/entry';
import { appendAuditRecord } from './DatabaseAuditLogStore';
import { TABLES, json, offsetPage, str, strOrNull, type Row } from './db';
import { transaction } from './transaction';
import type { ExceptionRecord, ExceptionStatus, ExceptionStore, ExceptionTransition, ListExceptionsOptions } from './types';

/** The actor of automatic changes (same as the exception service's). */
const SYSTEM_ACTOR = 'runtime-risk';

function rowToException(r: Row): ExceptionRecord {
  return {
    id: str(r.id),
    entityRef: str(r.entity_ref),
    environment: str(r.environment),
    reason: str(r.reason),
    requestedBy: str(r.requested_by),
    status: str(r.status) as ExceptionRecord['status'],
    approvedBy: strOrNull(r.approved_by),
    expiresAt: str(r.expires_at),
    signalIds: r.signal_ids === null || r.signal_ids === undefined ? null : json<string[]>(r.signal_ids, []),
    maxLevel: strOrNull(r.max_level),
    createdAt: str(r.created_at),
    decidedBy: strOrNull(r.decided_by),
    decidedAt: strOrNull(r.decided_at),
    decisionComment: strOrNull(r.decision_comment),
  };
}

/** {@link ExceptionStore} on knex. */
export class DatabaseExceptionStore implements ExceptionStore {
  constructor(private readonly db: Knex) {}

  async listActiveExceptions(entityRef: string, environment: string, now?: string): Promise<ExceptionRecord[]> {
    const q = this.db(TABLES.exceptions).where({ entity_ref: entityRef, environment, status: 'approved' });
    if (now !== undefined) q.where('expires_at', '>', now);
    const rows: Row[] = await q.orderBy('id');
    return rows.map(rowToException);
  }

  async getException(id: string): Promise<ExceptionRecord | undefined> {
    const row = await this.db(TABLES.exceptions).where({ id }).first();
    return row ? rowToException(row) : undefined;
  }

  async listExceptions(options: ListExceptionsOptions): Promise<{ items: ExceptionRecord[]; totalCount: number }> {
    const filtered = () => {
      const q = this.db(TABLES.exceptions);
      if (options.entityRef) q.where('entity_ref', options.entityRef);
      if (options.environment) q.where('environment', options.environment);
      if (options.status) q.where('status', options.status);
      if (options.excludeEntityRefs?.length) q.whereNotIn('entity_ref', options.excludeEntityRefs);
      return q;
    };
    return offsetPage(filtered, 'created_at', options, rowToException);
  }

  async listExceptionEntityRefs(options: { environment?: string; status?: ExceptionStatus }): Promise<string[]> {
    const q = this.db(TABLES.exceptions).distinct('entity_ref');
    if (options.environment) q.where('environment', options.environment);
    if (options.status) q.where('status', options.status);
    const rows: Row[] = await q;
    return rows.map(r => String(r.entity_ref));
  }

  async transitionException(t: ExceptionTransition): Promise<boolean> {
    const update: Row = { status: t.to, decided_by: t.by, decided_at: t.at, decision_comment: t.comment ?? null };
    if (t.approvedBy !== undefined) update.approved_by = t.approvedBy;
    return transaction(this.db, async tx => {
      const before = await tx(TABLES.exceptions).where({ id: t.id }).first('status', 'entity_ref', 'environment');
      const count = await tx(TABLES.exceptions).where({ id: t.id }).whereIn('status', t.from).update(update);
      if (Number(count) !== 1) return false;
      const type: AuditEntry['type'] =
        t.to === 'approved'
          ? 'exception-approve'
          : t.to === 'rejected'
            ? 'exception-reject'
            : t.to === 'expired'
              ? 'exception-expire'
              : t.by === SYSTEM_ACTOR
                ? 'exception-auto-revoke'
                : 'exception-revoke';
      const payload: Record<string, unknown> = {
        exceptionId: t.id,
        entityRef: strOrNull(before?.entity_ref),
        environment: strOrNull(before?.environment),
        from: strOrNull(before?.status),
        status: t.to,
      };
      if (t.comment !== undefined) payload.comment = t.comment;
      await appendAuditRecord(tx, { at: t.at, type, actor: t.by, subject: t.id, payload });
      return true;
    }, { changesGateInputs: true });
  }

  async insertException(record: ExceptionRecord): Promise<void> {
    const audit = prepareAuditEntry({
      at: record.createdAt,
      type: 'exception-create',
      actor: record.requestedBy,
      subject: record.id,
      payload: {
        exceptionId: record.id,
        entityRef: record.entityRef,
        environment: record.environment,
        reason: record.reason,
        status: record.status,
        expiresAt: record.expiresAt,
        signalIds: record.signalIds,
        maxLevel: record.maxLevel,
      },
    });
    await transaction(this.db, async tx => {
      await this.insertExceptionRow(tx, record);
      await appendAuditRecord(tx, audit);
    }, { changesGateInputs: true });
  }

  private async insertExceptionRow(tx: Knex.Transaction, record: ExceptionRecord): Promise<void> {
    await tx(TABLES.exceptions).insert({
      id: record.id,
      entity_ref: record.entityRef,
      environment: record.environment,
      reason: record.reason,
      requested_by: record.requestedBy,
      status: record.status,
      approved_by: record.approvedBy,
      expires_at: record.expiresAt,
      signal_ids: record.signalIds ? JSON.stringify(record.signalIds) : null,
      max_level: record.maxLevel,
      created_at: record.createdAt,
    });
  }
}
