import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { prepareAuditEntry, type AuditEntry } from '../audit/entry';
import { canonicalJson } from '../lib/canonicalJson';
import { appendAuditRecord, appendAuditRecords } from './DatabaseAuditLogStore';
import { TABLES, insertRows, isPostgres, json, jsonText, str, strOrNull, type Row } from './db';
import { GroupCommitter } from './groupCommit';
import { transaction } from './transaction';
import type {
  DecisionOutcome,
  DecisionRecord,
  DecisionStatusFilter,
  DecisionStore,
  DecisionTransition,
  ListDecisionsOptions,
  Page,
} from './types';

/** Restricts `q` to the decisions `filter` names by status (see {@link DecisionStatusFilter}). */
function whereStatus(q: Knex.QueryBuilder, filter: DecisionStatusFilter): void {
  const { status, pendingSince } = filter;
  if (!status) return;
  if ((status !== 'pending' && status !== 'expired') || !pendingSince) {
    q.where('status', status);
    return;
  }
  const envs = Object.keys(pendingSince.byEnvironment);
  /** Pending decisions still awaiting approval (created after their environment's cut-off). */
  const awaiting = (b: Knex.QueryBuilder) =>
    b.where('status', 'pending').andWhere(inner => {
      for (const env of envs) {
        inner.orWhere(x => x.where('environment', env).andWhere('created_at', '>', pendingSince.byEnvironment[env]));
      }
      inner.orWhere(x => {
        if (envs.length) x.whereNotIn('environment', envs);
        x.andWhere('created_at', '>', pendingSince.other);
      });
    });
  if (status === 'pending') {
    q.where(awaiting);
  } else {
    q.where(b => b.where('status', 'expired').orWhere(x => x.where('status', 'pending').whereNot(awaiting)));
  }
}

function rowToDecision(r: Row): DecisionRecord {
  const d: DecisionRecord = {
    id: str(r.id),
    entityRef: str(r.entity_ref),
    environment: str(r.environment),
    decision: str(r.decision),
    riskLevel: str(r.risk_level),
    score: r.score === null || r.score === undefined ? null : Number(r.score),
    reasons: json<unknown[]>(r.reasons, []),
    inputs: json<unknown>(r.inputs, null),
    result: json<unknown>(r.result, null),
    policyId: str(r.policy_id),
    policyHash: str(r.policy_hash),
    dryRun: r.dry_run === true || r.dry_run === 1 || r.dry_run === '1',
    status: str(r.status),
    createdAt: str(r.created_at),
  };
  if (r.outcome !== null && r.outcome !== undefined) d.outcome = json<DecisionOutcome | null>(r.outcome, null);
  if (r.decided_by !== null && r.decided_by !== undefined) d.decidedBy = str(r.decided_by);
  if (r.decided_at !== null && r.decided_at !== undefined) d.decidedAt = str(r.decided_at);
  return d;
}

const DECISION_JSON_COLUMNS = ['reasons', 'inputs', 'result'] as const;
const DECISION_COLUMNS = [
  'id',
  'entity_ref',
  'environment',
  'decision',
  'risk_level',
  'score',
  ...DECISION_JSON_COLUMNS,
  'policy_id',
  'policy_hash',
  'dry_run',
  'status',
  'created_at',
  'prev_hash',
  'hash',
];

/** The row of a decision; `nestJson` as in {@link jsonText}. */
function decisionRow(record: DecisionRecord, nestJson = false): Row {
  const json = (v: unknown) => jsonText(v, nestJson);
  return {
    id: record.id,
    entity_ref: record.entityRef,
    environment: record.environment,
    decision: record.decision,
    risk_level: record.riskLevel,
    score: record.score,
    reasons: json(record.reasons),
    inputs: json(record.inputs),
    result: json(record.result),
    policy_id: record.policyId,
    policy_hash: record.policyHash,
    dry_run: record.dryRun,
    status: record.status,
    created_at: record.createdAt,
    prev_hash: null,
    hash: null,
  };
}

/** What the audit log records of a gate decision (the full inputs stay in the decisions table; their hash is logged). */
function decisionAuditEntry(record: DecisionRecord): AuditEntry {
  const result = (record.result ?? {}) as { exception?: { id?: string }; request?: Record<string, unknown> };
  const payload: Record<string, unknown> = {
    decisionId: record.id,
    entityRef: record.entityRef,
    environment: record.environment,
    decision: record.decision,
    riskLevel: record.riskLevel,
    score: record.score,
    status: record.status,
    dryRun: record.dryRun,
    policy: { id: record.policyId, hash: record.policyHash },
    reasons: (record.reasons as { code?: unknown }[]).map(r => r?.code ?? null),
    inputsHash: createHash('sha256').update(canonicalJson(record.inputs)).digest('hex'),
  };
  if (result.exception?.id) payload.exceptionId = result.exception.id;
  if (result.request) payload.request = result.request;
  return {
    at: record.createdAt,
    type: 'gate-decision',
    actor: record.requestedBy ?? 'unknown',
    subject: record.id,
    payload,
  };
}

function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ seq }), 'utf8').toString('base64url');
}

/** Decodes a decision-list cursor; undefined when it is not one of ours. */
export function decodeDecisionCursor(cursor: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && 'seq' in parsed) {
      const seq = (parsed as { seq: unknown }).seq;
      if (typeof seq === 'number' && Number.isInteger(seq) && seq > 0) return seq;
    }
  } catch (e) {
    // not base64url JSON: the caller reports an InputError naming `cursor`
    return undefined;
  }
  return undefined;
}

/** {@link DecisionStore} on knex. */
export class DatabaseDecisionStore implements DecisionStore {
  private readonly decisionWriter: GroupCommitter<DecisionRecord>;

  constructor(private readonly db: Knex) {
    this.decisionWriter = new GroupCommitter(records => this.writeDecisions(records));
  }

  /**
   * Records a gate decision and its audit record. Concurrent calls are written
   * together (group commit, {@link GroupCommitter}): each resolves once its own
   * decision is committed, and the audit head is locked once per batch.
   */
  async insertDecision(record: DecisionRecord): Promise<void> {
    await this.decisionWriter.submit(record);
  }

  private async writeDecisions(records: DecisionRecord[]): Promise<void> {
    // serialize and hash before the transaction: it then holds a connection, and the
    // audit head's lock, only for the writes
    const pg = isPostgres(this.db);
    // PostgreSQL: one JSON parameter for the whole batch, the JSON columns nested in it (serialized once)
    const rows = records.map(r => decisionRow(r, pg));
    const audit = records.map(r => prepareAuditEntry(decisionAuditEntry(r)));
    await transaction(this.db, async tx => {
      await insertRows(tx, TABLES.decisions, DECISION_COLUMNS, rows, { jsonColumns: DECISION_JSON_COLUMNS });
      await appendAuditRecords(tx, audit);
    });
  }

  async transitionDecision(t: DecisionTransition): Promise<boolean> {
    return transaction(this.db, async tx => {
      const update: Row = { status: t.to, decided_by: t.by, decided_at: t.at };
      if (t.outcome) update.outcome = JSON.stringify(t.outcome);
      const count = await tx(TABLES.decisions).where({ id: t.id }).whereIn('status', t.from).update(update);
      if (Number(count) !== 1) return false;
      const row = await tx(TABLES.decisions).where({ id: t.id }).first('entity_ref', 'environment', 'decision');
      const payload: Record<string, unknown> = {
        decisionId: t.id,
        entityRef: strOrNull(row?.entity_ref),
        environment: strOrNull(row?.environment),
        from: str(row?.decision),
        status: t.to,
      };
      if (t.outcome) {
        payload.decision = t.outcome.decision;
        payload.reason = t.outcome.reason;
        if (t.outcome.comment !== undefined) payload.comment = t.outcome.comment;
      }
      await appendAuditRecord(tx, { at: t.at, type: t.auditType, actor: t.by, subject: t.id, payload });
      return true;
    });
  }

  async listPendingDecisions(options: { createdBefore?: string; limit: number }): Promise<DecisionRecord[]> {
    const q = this.db(TABLES.decisions).where({ status: 'pending' });
    if (options.createdBefore) q.where('created_at', '<', options.createdBefore);
    const rows: Row[] = await q.orderBy('seq', 'asc').limit(options.limit);
    return rows.map(rowToDecision);
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    const row = await this.db(TABLES.decisions).where({ id }).first();
    return row ? rowToDecision(row) : undefined;
  }

  async listDecisions(options: ListDecisionsOptions): Promise<Page<DecisionRecord>> {
    const filtered = () => {
      const q = this.db(TABLES.decisions);
      if (options.entityRef) q.where('entity_ref', options.entityRef);
      if (options.environment) q.where('environment', options.environment);
      if (options.excludeEntityRefs?.length) q.whereNotIn('entity_ref', options.excludeEntityRefs);
      whereStatus(q, options);
      return q;
    };
    const countRow = await filtered().count({ n: '*' }).first();
    const page = filtered();
    if (options.cursor) {
      const seq = decodeDecisionCursor(options.cursor);
      if (seq === undefined) throw new TypeError('invalid cursor');
      page.where('seq', '<', seq);
    }
    const rows: Row[] = await page.select().orderBy('seq', 'desc').limit(options.limit + 1);
    const items = rows.slice(0, options.limit);
    const result: Page<DecisionRecord> = { items: items.map(rowToDecision), totalCount: Number(countRow?.n ?? 0) };
    if (rows.length > options.limit) result.nextCursor = encodeCursor(Number(items[items.length - 1].seq));
    return result;
  }

  async listDecisionEntityRefs(options: { environment?: string } & DecisionStatusFilter): Promise<string[]> {
    const q = this.db(TABLES.decisions).distinct('entity_ref');
    if (options.environment) q.where('environment', options.environment);
    whereStatus(q, options);
    const rows: Row[] = await q;
    return rows.map(r => String(r.entity_ref));
  }
}
