import type { Knex } from 'knex';
import { prepareAuditEntry, type AuditEntry } from '../audit/entry';
import { pgInsertRows } from './bulkWrite';
import { appendAuditRecord, appendAuditRecords } from './DatabaseAuditLogStore';
import { TABLES, chunks, insertRows, isPostgres, json, jsonText, rowsPerInsert, str, strOrNull, type Row } from './db';
import { DECISION_INPUTS_TABLE, loadInputBodies, mergeDecisionInputs, splitDecisionInputs, type SplitInputs } from './decisionInputs';
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
export function whereStatus(q: Knex.QueryBuilder, filter: DecisionStatusFilter): void {
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

/**
 * A stored decision; `bodies` holds the shared inputs (JSON text by hash) of rows
 * that name one (`inputs_hash`): their full inputs are the shared part merged
 * with the row's own. Rows without a hash have their full inputs inline.
 */
function rowToDecision(r: Row, bodies?: Map<string, string>): DecisionRecord {
  let inputs = json<unknown>(r.inputs, null);
  if (r.inputs_hash !== null && r.inputs_hash !== undefined) {
    const body = bodies?.get(String(r.inputs_hash));
    if (body === undefined) throw new Error(`decision ${str(r.id)}: inputs ${str(r.inputs_hash)} are missing from ${DECISION_INPUTS_TABLE}`);
    inputs = mergeDecisionInputs(inputs, JSON.parse(body));
  }
  const d: DecisionRecord = {
    id: str(r.id),
    entityRef: str(r.entity_ref),
    environment: str(r.environment),
    decision: str(r.decision),
    riskLevel: str(r.risk_level),
    score: r.score === null || r.score === undefined ? null : Number(r.score),
    reasons: json<unknown[]>(r.reasons, []),
    inputs,
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
  'inputs_hash',
];

/**
 * The row of a decision; `nestJson` as in {@link jsonText}. With `split`, the row
 * keeps the inputs' own part and names the shared part by hash.
 */
function decisionRow(record: DecisionRecord, nestJson = false, split?: SplitInputs): Row {
  const json = (v: unknown) => jsonText(v, nestJson);
  return {
    id: record.id,
    entity_ref: record.entityRef,
    environment: record.environment,
    decision: record.decision,
    risk_level: record.riskLevel,
    score: record.score,
    reasons: json(record.reasons),
    inputs: json(split ? split.own : record.inputs),
    result: json(record.result),
    policy_id: record.policyId,
    policy_hash: record.policyHash,
    dry_run: record.dryRun,
    status: record.status,
    created_at: record.createdAt,
    prev_hash: null,
    hash: null,
    inputs_hash: split?.hash ?? null,
  };
}

/**
 * What the audit log records of a gate decision. The inputs stay in the decisions
 * table; the record names their shared part by its content hash (`inputsHash`:
 * sha256 of the canonical JSON body in runtime_risk_decision_inputs) and holds
 * the rest (entityRef, environment, `at` = now, dryRun). Records written before
 * issue 18 hashed the full inputs instead; both verify as they were written.
 */
function decisionAuditEntry(record: DecisionRecord, split: SplitInputs | undefined): AuditEntry {
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
  };
  if (split) payload.inputsHash = split.hash;
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
  /**
   * Hashes of shared inputs this store has committed (rows are never deleted):
   * a batch does not send them again. Bounded; forgetting one only costs an
   * insert that does nothing.
   */
  private readonly knownInputs = new Set<string>();
  private static readonly KNOWN_INPUTS_MAX = 10_000;

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
    const splits = records.map(r => splitDecisionInputs(r.inputs, r.policyHash));
    // the shared inputs this batch must write: each distinct hash once, sorted (concurrent
    // writers of the same hashes take their row locks in one order), none already known
    const bodies = new Map<string, string>();
    for (const s of splits) if (s && !this.knownInputs.has(s.hash)) bodies.set(s.hash, s.body);
    const inputRows: Row[] = [...bodies.keys()].sort().map(hash => ({ hash, body: bodies.get(hash) }));
    // PostgreSQL: one JSON parameter for the whole batch, the JSON columns nested in it (serialized once)
    const rows = records.map((r, i) => decisionRow(r, pg, splits[i]));
    const audit = records.map((r, i) => prepareAuditEntry(decisionAuditEntry(r, splits[i])));
    await transaction(this.db, async tx => {
      // before the audit head is locked (appendAuditRecords locks it first)
      await insertInputRows(tx, inputRows);
      await insertRows(tx, TABLES.decisions, DECISION_COLUMNS, rows, { jsonColumns: DECISION_JSON_COLUMNS });
      await appendAuditRecords(tx, audit);
    });
    if (this.knownInputs.size + inputRows.length > DatabaseDecisionStore.KNOWN_INPUTS_MAX) this.knownInputs.clear();
    for (const r of inputRows) this.knownInputs.add(String(r.hash));
  }

  /** Decisions of the given rows, their shared inputs read in one query per page (each distinct hash once). */
  private async decisionsOf(rows: Row[]): Promise<DecisionRecord[]> {
    const hashes = rows.map(r => r.inputs_hash).filter((h): h is string => typeof h === 'string');
    const bodies = hashes.length ? await loadInputBodies(this.db, hashes) : undefined;
    return rows.map(r => rowToDecision(r, bodies));
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
    return this.decisionsOf(rows);
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    // one round trip: the shared inputs joined (null for a row with inline inputs)
    const row: Row | undefined = await this.db({ d: TABLES.decisions })
      .leftJoin({ i: DECISION_INPUTS_TABLE }, 'i.hash', 'd.inputs_hash')
      .where('d.id', id)
      .first('d.*', { inputs_body: 'i.body' });
    if (!row) return undefined;
    const bodies = row.inputs_hash && typeof row.inputs_body === 'string' ? new Map([[String(row.inputs_hash), row.inputs_body]]) : undefined;
    return rowToDecision(row, bodies);
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
    const result: Page<DecisionRecord> = { items: await this.decisionsOf(items), totalCount: Number(countRow?.n ?? 0) };
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

/** Inserts shared inputs rows; a hash already stored is left as it is (same hash, same body). */
async function insertInputRows(tx: Knex.Transaction, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  if (isPostgres(tx)) {
    await pgInsertRows(tx, DECISION_INPUTS_TABLE, ['hash', 'body'], rows, { keys: ['hash'], update: false });
    return;
  }
  for (const chunk of chunks(rows, rowsPerInsert(tx, 2))) {
    await tx(DECISION_INPUTS_TABLE).insert(chunk).onConflict('hash').ignore();
  }
}
