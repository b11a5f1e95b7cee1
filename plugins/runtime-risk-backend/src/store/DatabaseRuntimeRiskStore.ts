import type { DatabaseService } from '@backstage/backend-plugin-api';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { createHash } from 'node:crypto';
import { assetIdentifiers } from '../correlation/identifiers';
import {
  appendAuditRecord,
  appendAuditRecords,
  listAuditRecords,
  prepareAuditEntry,
  verifyAuditLog,
  type AuditEntry,
  type AuditRecord,
} from '../audit/log';
import { canonicalJson, type ChainVerification } from '../audit/chain';
import type {
  CommitBatchOptions,
  DecisionOutcome,
  DecisionRecord,
  DecisionTransition,
  ExceptionRecord,
  ExceptionTransition,
  IdentifiedSignal,
  IdentifierKind,
  IndexedEntity,
  ListDecisionsOptions,
  ListExceptionsOptions,
  ListSignalsOptions,
  Page,
  RecordFailureOptions,
  RuntimeRiskStore,
  SignalAssetPage,
  SourceState,
} from './types';
import { GroupCommitter } from './groupCommit';
import { isNestableJson, pgDeleteWhereIn, pgInsertRows, pgSelectWhereIn } from './bulkWrite';

const migrationsDir = resolvePackagePath('@runtime-risk/backstage-plugin-runtime-risk-backend', 'migrations');

const T = {
  signals: 'runtime_risk_signals',
  identifiers: 'runtime_risk_signal_identifiers',
  sources: 'runtime_risk_source_state',
  decisions: 'runtime_risk_decisions',
  entities: 'runtime_risk_entities',
  entityHosts: 'runtime_risk_entity_hosts',
  exceptions: 'runtime_risk_exceptions',
  dataVersion: 'runtime_risk_data_version',
} as const;

/** The actor of automatic changes (same as the exception service's). */
const SYSTEM_ACTOR = 'runtime-risk';

/** Values per `IN (...)` list. */
const IN_CHUNK = 500;
/**
 * Bound variables per statement: SQLite allows 32,766, PostgreSQL 65,535; both
 * kept well below.
 */
const MAX_VARIABLES = { sqlite: 30_000, pg: 60_000 } as const;
/**
 * Rows per multi-row insert on SQLite: knex writes them as one compound
 * `SELECT ... UNION ALL ...`, which SQLite caps at 500 terms.
 */
const SQLITE_MAX_ROWS = 500;
/** Rows per multi-row insert on PostgreSQL (bounds the statement's size). */
const PG_MAX_ROWS = 5_000;

function isPostgres(db: Knex): boolean {
  const client = db.client.config.client;
  return client === 'pg' || client === 'postgres' || client === 'postgresql';
}

/** Rows of `columns` columns per multi-row insert on this database. */
export function rowsPerInsert(db: Knex, columns: number): number {
  const pg = isPostgres(db);
  const byVariables = Math.floor((pg ? MAX_VARIABLES.pg : MAX_VARIABLES.sqlite) / Math.max(1, columns));
  return Math.max(1, Math.min(byVariables, pg ? PG_MAX_ROWS : SQLITE_MAX_ROWS));
}

/** Values per `IN (...)` list on this database (PostgreSQL takes longer lists well). */
function inListSize(db: Knex): number {
  return isPostgres(db) ? 5_000 : IN_CHUNK;
}

/** Number of columns of a batch of rows (all rows of a batch have the same keys). */
function columnsOf(rows: Row[]): number {
  return rows.length ? Object.keys(rows[0]).length : 1;
}

type Row = Record<string, unknown>;

function chunks<X>(items: X[], size: number): X[][] {
  const out: X[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Inserts `rows` (values of `columns`), with `conflictKeys` an upsert that
 * replaces every other column. PostgreSQL: one JSON parameter per 10,000 rows
 * (`pgInsertRows`; `jsonColumns` may hold nested values, see {@link jsonText});
 * SQLite: knex multi-row statements as large as its limits allow.
 */
async function insertRows(
  tx: Knex.Transaction,
  table: string,
  columns: string[],
  rows: Row[],
  options: { conflictKeys?: string[]; jsonColumns?: readonly string[] } = {},
): Promise<void> {
  if (rows.length === 0) return;
  if (isPostgres(tx)) {
    const conflict = options.conflictKeys ? { keys: options.conflictKeys, update: true } : undefined;
    await pgInsertRows(tx, table, columns, rows, conflict, options.jsonColumns);
    return;
  }
  for (const chunk of chunks(rows, rowsPerInsert(tx, columnsOf(rows)))) {
    const insert = tx(table).insert(chunk);
    await (options.conflictKeys ? insert.onConflict(options.conflictKeys).merge() : insert);
  }
}

function str(v: unknown): string {
  return String(v);
}
function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
function json<X>(v: unknown, fallback: X): X {
  if (v === null || v === undefined) return fallback;
  return JSON.parse(String(v)) as X;
}

/**
 * A JSON text column's value: its JSON text, or with `nest` (PostgreSQL bulk
 * writes, see `pgInsertRows`) an array or plain object as is, stringified once
 * with the rest of the parameter.
 */
function jsonText(v: unknown, nest: boolean): unknown {
  return nest && isNestableJson(v) ? v : JSON.stringify(v);
}

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
  };
}

/** The JSON text columns of a signal row. */
const SIGNAL_JSON_COLUMNS = ['tactics', 'techniques', 'asset', 'raw'];

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
  return s;
}

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
  };
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

function rowToIndexedEntity(row: Row, hostRows: Row[]): IndexedEntity {
  return {
    entityRef: str(row.entity_ref),
    kind: str(row.kind),
    namespace: str(row.namespace),
    name: str(row.name),
    owner: strOrNull(row.owner),
    system: strOrNull(row.system),
    updatedAt: str(row.updated_at),
    hosts: hostRows.map(h => ({ environment: str(h.environment), value: str(h.value), matchedBy: str(h.matched_by) })),
  };
}

/** {@link RuntimeRiskStore} on knex; runs on SQLite and PostgreSQL. */
export class DatabaseRuntimeRiskStore implements RuntimeRiskStore {
  static async create(options: { database: DatabaseService; skipMigrations?: boolean }): Promise<DatabaseRuntimeRiskStore> {
    const knex = await options.database.getClient();
    if (!options.skipMigrations && !options.database.migrations?.skip) {
      await knex.migrate.latest({ directory: migrationsDir });
    }
    return new DatabaseRuntimeRiskStore(knex);
  }

  private readonly decisionWriter: GroupCommitter<DecisionRecord>;

  private constructor(private readonly db: Knex) {
    this.decisionWriter = new GroupCommitter(records => this.writeDecisions(records));
  }

  /**
   * A transaction that changes what the gate reads (signals, source state, the
   * entity index, exceptions): bumps the data version last, in the same
   * transaction, so cached gate inputs of the old version are never used again
   * once the change is visible. (Lock order: the audit head, then the version.)
   */
  private async writeTx<X>(fn: (tx: Knex.Transaction) => Promise<X>): Promise<X> {
    return this.db.transaction(async tx => {
      const result = await fn(tx);
      await tx(T.dataVersion).where({ id: 1 }).increment('version', 1);
      return result;
    });
  }

  async getDataVersion(): Promise<string> {
    const row = await this.db(T.dataVersion).where({ id: 1 }).first('epoch', 'version');
    if (!row) throw new Error(`${T.dataVersion} has no row; the migrations did not run`);
    return `${row.epoch}.${row.version}`;
  }

  async commitBatch(options: CommitBatchOptions): Promise<void> {
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
    await this.writeTx(async tx => {
      for (const [i, { rows, identifiers }] of writes.entries()) {
        // the commit before is done before the shared signals and this batch's source state (and cursor) are written
        if (i === 1 && after) await after.commit;
        if (!rows.length) continue;
        await insertRows(tx, T.signals, SIGNAL_COLUMNS, rows, { conflictKeys: ['source', 'source_id'], jsonColumns: SIGNAL_JSON_COLUMNS });
        await this.replaceIdentifiers(tx, identifiers);
      }
      const existing = await tx(T.sources).where({ id: options.sourceId }).first();
      const state: Row = {
        type: options.sourceType,
        last_success_at: options.at,
        last_attempt_at: options.at,
        last_error: null,
        consecutive_failures: 0,
        rejected_count: Number(existing?.rejected_count ?? 0) + (options.rejected ?? 0),
      };
      if (options.cursor !== undefined) state.cursor = options.cursor;
      if (options.asOf !== undefined) state.as_of = options.asOf;
      if (existing) {
        await tx(T.sources).where({ id: options.sourceId }).update(state);
      } else {
        await tx(T.sources).insert({ id: options.sourceId, cursor: null, as_of: null, ...state });
      }
    });
  }

  /**
   * Makes the identifier rows of `signals` match their assets: rows of signals
   * whose identifiers did not change stay as they are; the others are replaced.
   * Runs after the signals' upsert in the same transaction (which holds their
   * row locks), so concurrent commits of the same signals see committed rows.
   */
  private async replaceIdentifiers(tx: Knex.Transaction, wanted: Map<string, IdentifierRow[]>): Promise<void> {
    if (wanted.size === 0) return;
    const pg = isPostgres(tx);
    const ids = [...wanted.keys()];
    const stored = new Map<string, Set<string>>();
    const storedRows: Row[] = [];
    if (pg) {
      storedRows.push(...(await pgSelectWhereIn(tx, T.identifiers, 'signal_id', ids, ['signal_id', 'kind', 'value'])));
    } else {
      for (const chunk of chunks(ids, inListSize(tx))) {
        storedRows.push(...(await tx(T.identifiers).whereIn('signal_id', chunk).select('signal_id', 'kind', 'value')));
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
      await pgDeleteWhereIn(tx, T.identifiers, 'signal_id', changed);
    } else {
      for (const chunk of chunks(changed, inListSize(tx))) await tx(T.identifiers).whereIn('signal_id', chunk).delete();
    }
    await insertRows(tx, T.identifiers, IDENTIFIER_COLUMNS, insert);
  }

  async recordFailure(options: RecordFailureOptions): Promise<void> {
    await this.writeTx(async tx => {
      const existing = await tx(T.sources).where({ id: options.sourceId }).first();
      if (existing) {
        await tx(T.sources)
          .where({ id: options.sourceId })
          .update({
            type: options.sourceType,
            last_attempt_at: options.at,
            last_error: options.error,
            consecutive_failures: Number(existing.consecutive_failures ?? 0) + 1,
            rejected_count: Number(existing.rejected_count ?? 0) + (options.rejected ?? 0),
          });
      } else {
        await tx(T.sources).insert({
          id: options.sourceId,
          type: options.sourceType,
          cursor: null,
          last_success_at: null,
          last_attempt_at: options.at,
          last_error: options.error,
          consecutive_failures: 1,
          as_of: null,
          rejected_count: options.rejected ?? 0,
        });
      }
    });
  }

  async getSourceState(id: string): Promise<SourceState | undefined> {
    const row = await this.db(T.sources).where({ id }).first();
    return row ? rowToSourceState(row) : undefined;
  }

  async listSourceStates(): Promise<SourceState[]> {
    const rows: Row[] = await this.db(T.sources).select().orderBy('id');
    return rows.map(rowToSourceState);
  }

  async findSignalsByIdentifiers(values: string[]): Promise<IdentifiedSignal[]> {
    const wanted = [...new Set(values.map(v => v.toLowerCase()))];
    const identRows: Row[] = [];
    for (const chunk of chunks(wanted, IN_CHUNK)) {
      identRows.push(...(await this.db(T.identifiers).whereIn('value', chunk).select()));
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
      signalRows.push(...(await this.db(T.signals).whereIn('id', chunk).select()));
    }
    return signalRows
      .map(r => ({ signal: rowToSignal(r), identifiers: bySignal.get(str(r.id)) ?? [] }))
      .sort((a, b) => (a.signal.id < b.signal.id ? -1 : a.signal.id > b.signal.id ? 1 : 0));
  }

  async listSignals(options: ListSignalsOptions): Promise<{ items: Signal[]; totalCount: number }> {
    const base = () => {
      const q = this.db(T.signals);
      if (options.identifierValues) {
        const values = [...new Set(options.identifierValues.map(v => v.toLowerCase()))];
        q.whereIn('id', this.db(T.identifiers).whereIn('value', values.length ? values : ['\u0000']).select('signal_id'));
      }
      if (options.status) q.where('status', options.status);
      return q;
    };
    return this.offsetPage(base, 'last_seen_at', options, rowToSignal);
  }

  async listSignalAssets(options: { after?: { lastSeenAt: string; id: string }; limit: number }): Promise<SignalAssetPage> {
    const q = this.db(T.signals).select('id', 'last_seen_at', 'asset');
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
    await this.db.transaction(async tx => {
      await insertRows(tx, T.decisions, DECISION_COLUMNS, rows, { jsonColumns: DECISION_JSON_COLUMNS });
      await appendAuditRecords(tx, audit);
    });
  }

  async transitionDecision(t: DecisionTransition): Promise<boolean> {
    return this.db.transaction(async tx => {
      const update: Row = { status: t.to, decided_by: t.by, decided_at: t.at };
      if (t.outcome) update.outcome = JSON.stringify(t.outcome);
      const count = await tx(T.decisions).where({ id: t.id }).whereIn('status', t.from).update(update);
      if (Number(count) !== 1) return false;
      const row = await tx(T.decisions).where({ id: t.id }).first('entity_ref', 'environment', 'decision');
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
    const q = this.db(T.decisions).where({ status: 'pending' });
    if (options.createdBefore) q.where('created_at', '<', options.createdBefore);
    const rows: Row[] = await q.orderBy('seq', 'asc').limit(options.limit);
    return rows.map(rowToDecision);
  }

  async listAuditRecords(options: { afterSeq?: number; limit: number; subject?: string }): Promise<AuditRecord[]> {
    return listAuditRecords(this.db, options);
  }

  async verifyAuditLog(): Promise<ChainVerification> {
    return verifyAuditLog(this.db);
  }

  async getDecision(id: string): Promise<DecisionRecord | undefined> {
    const row = await this.db(T.decisions).where({ id }).first();
    return row ? rowToDecision(row) : undefined;
  }

  async listDecisions(options: ListDecisionsOptions): Promise<Page<DecisionRecord>> {
    const filtered = () => {
      const q = this.db(T.decisions);
      if (options.entityRef) q.where('entity_ref', options.entityRef);
      if (options.environment) q.where('environment', options.environment);
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

  async replaceEntityIndex(entities: IndexedEntity[]): Promise<void> {
    await this.writeTx(async tx => {
      await tx(T.entityHosts).delete();
      await tx(T.entities).delete();
      await this.insertEntities(tx, entities);
    });
  }

  async upsertEntity(entity: IndexedEntity): Promise<void> {
    await this.writeTx(async tx => {
      await tx(T.entityHosts).where({ entity_ref: entity.entityRef }).delete();
      await tx(T.entities).where({ entity_ref: entity.entityRef }).delete();
      await this.insertEntities(tx, [entity]);
    });
  }

  private async insertEntities(tx: Knex.Transaction, entities: IndexedEntity[]): Promise<void> {
    const rows = entities.map(e => ({
      entity_ref: e.entityRef,
      kind: e.kind,
      namespace: e.namespace,
      name: e.name,
      owner: e.owner ?? null,
      system: e.system ?? null,
      updated_at: e.updatedAt,
    }));
    const hostRows = entities.flatMap(e =>
      e.hosts.map(h => ({ entity_ref: e.entityRef, environment: h.environment, value: h.value, matched_by: h.matchedBy })),
    );
    await insertRows(tx, T.entities, ['entity_ref', 'kind', 'namespace', 'name', 'owner', 'system', 'updated_at'], rows);
    await insertRows(tx, T.entityHosts, ['entity_ref', 'environment', 'value', 'matched_by'], hostRows);
  }

  async listEntityIndex(): Promise<IndexedEntity[]> {
    const rows: Row[] = await this.db(T.entities).select().orderBy('entity_ref');
    const hostRows: Row[] = await this.db(T.entityHosts).select().orderBy(['entity_ref', 'environment', 'value']);
    const hosts = new Map<string, Row[]>();
    for (const h of hostRows) {
      const list = hosts.get(str(h.entity_ref)) ?? [];
      list.push(h);
      hosts.set(str(h.entity_ref), list);
    }
    return rows.map(row => rowToIndexedEntity(row, hosts.get(str(row.entity_ref)) ?? []));
  }

  async getEntity(entityRef: string): Promise<IndexedEntity | undefined> {
    const row = await this.db(T.entities).where({ entity_ref: entityRef }).first();
    if (!row) return undefined;
    const hosts: Row[] = await this.db(T.entityHosts)
      .where({ entity_ref: entityRef })
      .orderBy(['environment', 'value']);
    return rowToIndexedEntity(row, hosts);
  }

  async listActiveExceptions(entityRef: string, environment: string, now?: string): Promise<ExceptionRecord[]> {
    const q = this.db(T.exceptions).where({ entity_ref: entityRef, environment, status: 'approved' });
    if (now !== undefined) q.where('expires_at', '>', now);
    const rows: Row[] = await q.orderBy('id');
    return rows.map(rowToException);
  }

  async getException(id: string): Promise<ExceptionRecord | undefined> {
    const row = await this.db(T.exceptions).where({ id }).first();
    return row ? rowToException(row) : undefined;
  }

  async listExceptions(options: ListExceptionsOptions): Promise<{ items: ExceptionRecord[]; totalCount: number }> {
    const filtered = () => {
      const q = this.db(T.exceptions);
      if (options.entityRef) q.where('entity_ref', options.entityRef);
      if (options.environment) q.where('environment', options.environment);
      if (options.status) q.where('status', options.status);
      return q;
    };
    return this.offsetPage(filtered, 'created_at', options, rowToException);
  }

  /** One page of a filtered query, newest first (ties by id), with the total count of the filter. */
  private async offsetPage<T>(
    filtered: () => Knex.QueryBuilder,
    newestColumn: string,
    options: { limit: number; offset: number },
    map: (row: Row) => T,
  ): Promise<{ items: T[]; totalCount: number }> {
    const countRow = await filtered().count({ n: '*' }).first();
    const rows: Row[] = await filtered()
      .select()
      .orderBy([
        { column: newestColumn, order: 'desc' },
        { column: 'id', order: 'asc' },
      ])
      .limit(options.limit)
      .offset(options.offset);
    return { items: rows.map(map), totalCount: Number((countRow as Row | undefined)?.n ?? 0) };
  }

  async transitionException(t: ExceptionTransition): Promise<boolean> {
    const update: Row = { status: t.to, decided_by: t.by, decided_at: t.at, decision_comment: t.comment ?? null };
    if (t.approvedBy !== undefined) update.approved_by = t.approvedBy;
    return this.writeTx(async tx => {
      const before = await tx(T.exceptions).where({ id: t.id }).first('status', 'entity_ref', 'environment');
      const count = await tx(T.exceptions).where({ id: t.id }).whereIn('status', t.from).update(update);
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
    });
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
    await this.writeTx(async tx => {
      await this.insertExceptionRow(tx, record);
      await appendAuditRecord(tx, audit);
    });
  }

  private async insertExceptionRow(tx: Knex.Transaction, record: ExceptionRecord): Promise<void> {
    await tx(T.exceptions).insert({
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
