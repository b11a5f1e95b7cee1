import type { Knex } from 'knex';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { TABLES, chunks, inListSize, isPostgres, str, type Row } from './db';
import { loadInputBodies } from './decisionInputs';
import { whereStatus } from './DatabaseDecisionStore';
import type { DecisionScanRow, DecisionScanStore, IdentifiedSignal, IdentifierKind, PendingDecisionHead, PendingDecisionsSummary } from './types';

const PENDING_HEAD_COLUMNS = ['seq', 'id', 'entity_ref', 'environment', 'decision', 'risk_level', 'score', 'created_at'];
/** A pending decision's head from its row (with its seq, for ordering). */
const pendingHead = (r: Row): PendingDecisionHead & { seq: number } => ({
  seq: Number(r.seq),
  id: str(r.id),
  entityRef: str(r.entity_ref),
  environment: str(r.environment),
  decision: str(r.decision),
  riskLevel: str(r.risk_level),
  score: numOrNull(r.score),
  createdAt: str(r.created_at),
});

/** The decisions a dry run may have been, as its stored answer's `wouldHaveBeen` says. */
const WOULD_HAVE_BEEN = ['block', 'approval_required', 'proceed'] as const;
const isTrue = (v: unknown) => v === true || v === 1 || v === '1';
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));
/** The JSON text of a column (PostgreSQL drivers may hand back parsed JSON for json-typed expressions). */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v ?? null));

/**
 * {@link DecisionScanStore} on knex: reads over many decisions, selecting only
 * the columns the caller uses and leaving JSON columns as stored text (a
 * backtest parses the reasons of changed decisions only).
 */
export class DatabaseDecisionScanStore implements DecisionScanStore {
  constructor(private readonly db: Knex) {}

  async scanDecisions(options: {
    since: string;
    until: string;
    environment?: string;
    entityRef?: string;
    after?: { createdAt: string; seq: number };
    limit: number;
    known?: (inputsHash: string) => boolean;
  }): Promise<DecisionScanRow[]> {
    // PostgreSQL: the page is one ordered walk of the (created_at, seq) index. Right after many
    // decisions are written (before autovacuum's ANALYZE) the planner takes the range for a few rows and
    // answers each page with a bitmap scan of everything after it plus a sort (O(n) per page); the
    // walk costs the page's rows alone, so it is asked for in so many words.
    if (isPostgres(this.db)) {
      return this.db.transaction(async trx => {
        await trx.raw('set local enable_bitmapscan = off');
        await trx.raw('set local enable_sort = off');
        return this.scanPage(trx, options);
      });
    }
    return this.scanPage(this.db, options);
  }

  private async scanPage(
    db: Knex,
    options: {
      since: string;
      until: string;
      environment?: string;
      entityRef?: string;
      after?: { createdAt: string; seq: number };
      limit: number;
      known?: (inputsHash: string) => boolean;
    },
  ): Promise<DecisionScanRow[]> {
    const q = db(TABLES.decisions)
      .where('created_at', '>=', options.since)
      .where('created_at', '<', options.until);
    if (options.environment) q.where('environment', options.environment);
    if (options.entityRef) q.where('entity_ref', options.entityRef);
    const after = options.after;
    if (after) {
      // a row value: an index condition of (created_at, seq), where `a > x or (a = x and b > y)` is a filter
      // applied to every row from `since` on (PostgreSQL and SQLite alike)
      q.whereRaw('(created_at, seq) > (?, ?)', [after.createdAt, after.seq]);
    }
    const rows: Row[] = await q
      .select(
        'seq',
        'id',
        'entity_ref',
        'environment',
        'decision',
        'risk_level',
        'score',
        'dry_run',
        'created_at',
        'policy_hash',
        'inputs',
        'inputs_hash',
        // what a dry run would have been, read in the database (the answer itself is not sent)
        db.raw(
          `case when dry_run = ? then (case ${WOULD_HAVE_BEEN.map(() => 'when result like ? or result like ? then ?').join(' ')} else null end) else null end as would_have_been`,
          [true, ...WOULD_HAVE_BEEN.flatMap(d => [`%"wouldHaveBeen":"${d}"%`, `%"wouldHaveBeen": "${d}"%`, d])],
        ),
      )
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'seq', order: 'asc' },
      ])
      .limit(options.limit);
    // the page's shared inputs, each distinct hash read once (many decisions share one), none the caller holds
    const known = options.known;
    const hashes = rows.map(r => r.inputs_hash).filter((h): h is string => typeof h === 'string' && !known?.(h));
    const bodies = hashes.length ? await loadInputBodies(db, hashes) : undefined;
    return rows.map(r => ({
      seq: Number(r.seq),
      id: str(r.id),
      entityRef: str(r.entity_ref),
      environment: str(r.environment),
      decision: str(r.decision),
      riskLevel: str(r.risk_level),
      score: numOrNull(r.score),
      dryRun: isTrue(r.dry_run),
      createdAt: str(r.created_at),
      policyHash: str(r.policy_hash),
      inputs: text(r.inputs),
      inputsHash: r.inputs_hash === null || r.inputs_hash === undefined ? null : str(r.inputs_hash),
      sharedInputs: r.inputs_hash === null || r.inputs_hash === undefined ? null : (bodies?.get(str(r.inputs_hash)) ?? null),
      wouldHaveBeen: r.would_have_been === null || r.would_have_been === undefined ? null : str(r.would_have_been),
    }));
  }

  async getDecisionReasons(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const chunk of chunks([...new Set(ids)], inListSize(this.db))) {
      const rows: Row[] = await this.db(TABLES.decisions).whereIn('id', chunk).select('id', 'reasons');
      for (const r of rows) out.set(str(r.id), text(r.reasons));
    }
    return out;
  }

  async summarizePendingDecisions(options: {
    environment?: string;
    pendingSince: { byEnvironment: Record<string, string>; other: string };
    first: number;
  }): Promise<PendingDecisionsSummary> {
    const awaiting = () => {
      const q = this.db(TABLES.decisions);
      whereStatus(q, { status: 'pending', pendingSince: options.pendingSince });
      if (options.environment) q.where('environment', options.environment);
      return q;
    };
    // counted in the database: busy pipelines retrying one held deploy leave thousands of pending rows
    const [counts, first] = await Promise.all([
      awaiting().select('entity_ref').count({ n: '*' }).groupBy('entity_ref') as Promise<Row[]>,
      awaiting().select(PENDING_HEAD_COLUMNS).orderBy('seq', 'asc').limit(options.first) as Promise<Row[]>,
    ]);
    return {
      byEntity: counts.map(r => ({ entityRef: str(r.entity_ref), count: Number(r.n) })),
      first: first.map(r => {
        const { seq: _seq, ...head } = pendingHead(r);
        return head;
      }),
    };
  }

  async listPendingDecisionHeads(options: {
    environment?: string;
    pendingSince: { byEnvironment: Record<string, string>; other: string };
    entityRefs: string[];
    limit: number;
  }): Promise<PendingDecisionHead[]> {
    const out: (PendingDecisionHead & { seq: number })[] = [];
    for (const chunk of chunks([...new Set(options.entityRefs)], inListSize(this.db))) {
      const q = this.db(TABLES.decisions).whereIn('entity_ref', chunk);
      whereStatus(q, { status: 'pending', pendingSince: options.pendingSince });
      if (options.environment) q.where('environment', options.environment);
      const rows: Row[] = await q.select(PENDING_HEAD_COLUMNS).orderBy('seq', 'asc').limit(options.limit);
      out.push(...rows.map(pendingHead));
    }
    return out.sort((a, b) => a.seq - b.seq).slice(0, options.limit).map(({ seq: _seq, ...head }) => head);
  }

  async countDryRunOutcomes(options: {
    since: string;
    environment?: string;
  }): Promise<{ day: string; entityRef: string; total: number; block: number; approval: number }[]> {
    // the answer is JSON text written by JSON.stringify (SQLite) or PostgreSQL's json output: `"k":"v"` or `"k": "v"`;
    // a quote inside a string value is escaped, so the pattern matches the answer's own key only
    const would = (decision: string) =>
      this.db.raw(`sum(case when result like ? or result like ? then 1 else 0 end)`, [
        `%"wouldHaveBeen":"${decision}"%`,
        `%"wouldHaveBeen": "${decision}"%`,
      ]);
    const day = this.db.raw('substr(created_at, 1, 10)');
    const q = this.db(TABLES.decisions).where('created_at', '>=', options.since).where('dry_run', true);
    if (options.environment) q.where('environment', options.environment);
    const rows: Row[] = await q
      .select({ day, entity_ref: 'entity_ref' })
      .count({ total: '*' })
      .select({ block: would('block'), approval: would('approval_required') })
      .groupByRaw('substr(created_at, 1, 10), entity_ref');
    return rows.map(r => ({
      day: str(r.day),
      entityRef: str(r.entity_ref),
      total: Number(r.total),
      block: Number(r.block ?? 0),
      approval: Number(r.approval ?? 0),
    }));
  }

  async findSignalHeadsByIdentifiers(values: string[]): Promise<IdentifiedSignal[]> {
    const wanted = [...new Set(values.map(v => v.toLowerCase()))];
    const bySignal = new Map<string, IdentifiedSignal>();
    for (const chunk of chunks(wanted, inListSize(this.db))) {
      const rows: Row[] = await this.db(`${TABLES.identifiers} as i`)
        .join(`${TABLES.signals} as s`, 's.id', 'i.signal_id')
        .whereIn('i.value', chunk)
        .select(
          'i.signal_id',
          'i.kind',
          'i.value',
          's.source',
          's.severity',
          's.confidence',
          's.status',
          's.title',
          's.last_seen_at',
          's.fetched_at',
        );
      for (const r of rows) {
        const id = str(r.signal_id);
        let found = bySignal.get(id);
        if (!found) {
          const signal = {
            id,
            source: str(r.source),
            severity: str(r.severity),
            confidence: Number(r.confidence),
            status: str(r.status),
            title: str(r.title),
            lastSeenAt: str(r.last_seen_at),
            fetchedAt: str(r.fetched_at),
          } as unknown as Signal;
          bySignal.set(id, (found = { signal, identifiers: [] }));
        }
        found.identifiers.push({ kind: str(r.kind) as IdentifierKind, value: str(r.value) });
      }
    }
    return [...bySignal.values()].sort((a, b) => (a.signal.id < b.signal.id ? -1 : a.signal.id > b.signal.id ? 1 : 0));
  }

}
