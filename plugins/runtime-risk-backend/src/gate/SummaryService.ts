import type { Decision, Reason, RiskLevel } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { correlate, type Correlated } from '../correlate/correlate';
import { candidateIdentifiers } from '../correlate/identifiers';
import { evaluate } from '../engine';
import type { ExceptionRecord, IdentifiedSignal, IndexedEntity, PendingDecisionsSummary, RuntimeRiskStore, SourceState } from '../store/types';
import type { GateReadSession } from './GateReads';
import type { RiskService } from './RiskService';

/** How long an evaluated snapshot is reused while the data version does not change. */
export const SUMMARY_SNAPSHOT_TTL_MS = 15_000;
const EXCEPTION_PAGE = 1_000;
/** The longest the snapshot evaluation holds the event loop before it lets requests in. */
const EVALUATION_SLICE_MS = 4;
const REASON_ORDER: Record<string, number> = {
  source_unavailable: 0,
  signals_stale: 1,
  uncorrelated: 2,
  score_unavailable: 3,
  signal_active: 4,
  exception_applied: 5,
  partial_coverage: 6,
  no_active_signals: 7,
};

/** The current risk of one entity in one environment, as the summary keeps it. */
interface Row {
  entityRef: string;
  name: string;
  owner: string | null;
  system: string | null;
  environment: string;
  riskLevel: RiskLevel;
  score: number | null;
  decision: Decision;
  reasons: Reason[];
  correlated: boolean;
}

/** One read of the decisions awaiting approval: what was asked and what the store answered. */
interface PendingHeads {
  environment: string | undefined;
  pendingSince: { byEnvironment: Record<string, string>; other: string };
  summary: PendingDecisionsSummary;
}
type PendingHead = PendingDecisionsSummary['first'][number];
/** The oldest pending decisions read with the counts; the summary lists the first 20 the caller may see. */
const PENDING_FIRST = 200;
const PENDING_ITEMS = 20;

interface Snapshot {
  key: string;
  at: number;
  generatedAt: string;
  rows: Row[];
}

export interface OrgSummary {
  generatedAt: string;
  environments: string[];
  entities: { total: number; correlated: number };
  counts: { environment: string; byLevel: Record<RiskLevel, number>; byDecision: Record<Decision, number> }[];
  topRisky: Omit<Row, 'correlated'>[];
  topRiskyTotal: number;
  uncorrelated: { entityRef: string; environments: string[] }[];
  shadow: { since: string; buckets: { start: string; total: number; wouldHaveBlocked: number; wouldHaveRequiredApproval: number }[] };
  pending: {
    totalCount: number;
    items: { decisionId: string; entityRef: string; environment: string; riskLevel: RiskLevel; score: number | null; createdAt: string; expiresAt: string }[];
  };
}

/**
 * Reads of every indexed entity at once, served from memory: the signals of
 * every host (one identifier lookup for all of them), the source states and
 * the approved exceptions, read once. Gives `RiskService.buildInput` the same
 * answers its per-request session would.
 */
class BatchReadSession implements GateReadSession {
  private readonly byValue = new Map<string, IdentifiedSignal[]>();
  /** Correlation does not depend on the time: kept while the data version stays (see `SummaryService.reads`). */
  private readonly correlations = new Map<string, Promise<Correlated>>();

  constructor(
    private readonly entities: Map<string, IndexedEntity>,
    found: IdentifiedSignal[],
    private readonly states: SourceState[],
    private readonly exceptions: Map<string, ExceptionRecord[]>,
  ) {
    for (const f of found) {
      for (const i of f.identifiers) {
        const list = this.byValue.get(i.value) ?? [];
        if (!list.includes(f)) list.push(f);
        this.byValue.set(i.value, list);
      }
    }
  }

  async entity(entityRef: string) {
    return this.entities.get(entityRef);
  }

  correlated(entity: IndexedEntity, environment: string | undefined): Promise<Correlated> {
    const key = `${entity.entityRef}\u0000${environment ?? ''}`;
    let found = this.correlations.get(key);
    if (!found) this.correlations.set(key, (found = this.correlate(entity, environment)));
    return found;
  }

  private correlate(entity: IndexedEntity, environment: string | undefined): Promise<Correlated> {
    return correlate(
      {
        findSignalsByIdentifiers: async values => {
          const out = new Map<string, IdentifiedSignal>();
          for (const v of values) for (const f of this.byValue.get(v.toLowerCase()) ?? []) out.set(f.signal.id, f);
          return [...out.values()].sort((a, b) => (a.signal.id < b.signal.id ? -1 : a.signal.id > b.signal.id ? 1 : 0));
        },
      },
      entity,
      environment,
    );
  }

  async sourceStates() {
    return this.states;
  }

  async activeExceptions(entityRef: string, environment: string, now: string) {
    return (this.exceptions.get(`${entityRef}\u0000${environment}`) ?? []).filter(e => e.expiresAt > now);
  }
}

/**
 * The org summary (`GET /v1/summary`): the current risk of every indexed
 * Component in every environment, evaluated in one pass from one read of the
 * index, signals, source states and exceptions (the gate's own input assembly
 * and engine, nothing recorded), reused for up to {@link SUMMARY_SNAPSHOT_TTL_MS}
 * while the data version stays; the caller's visibility, pending approvals and
 * shadow-mode counts are applied per request.
 */
export class SummaryService {
  private snapshotRun?: { key: string; promise: Promise<Snapshot> };
  private last?: Snapshot;

  constructor(
    private readonly options: {
      store: RuntimeRiskStore;
      risk: RiskService;
      clock?: () => Date;
      ttlMs?: number;
    },
  ) {}

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  /**
   * The evaluated snapshot: the last one while it is current (same data version
   * and policy, younger than the TTL); else the last one while a new one is
   * evaluated in the background (stale while revalidating: the org page never
   * waits for every entity to be evaluated, except on the first call of a process,
   * or when `fresh`).
   */
  private async snapshot(fresh = false): Promise<Snapshot> {
    const { store, risk } = this.options;
    const version = await store.getDataVersion();
    const key = `${version}|${risk.policy.hash}`;
    const nowMs = this.now().getTime();
    const ttl = this.options.ttlMs ?? SUMMARY_SNAPSHOT_TTL_MS;
    if (this.last && this.last.key === key && nowMs - this.last.at < ttl) return this.last;
    const running = this.snapshotRun?.key === key ? this.snapshotRun.promise : this.refresh(key, version);
    if (this.last && !fresh) {
      running.catch(() => {});
      return this.last;
    }
    return running;
  }

  private refresh(key: string, version: string): Promise<Snapshot> {
    if (this.snapshotRun?.key === key) return this.snapshotRun.promise;
    const promise = this.evaluateAll(key, version).then(s => {
      this.last = s;
      return s;
    });
    this.snapshotRun = { key, promise };
    promise.then(
      () => {
        if (this.snapshotRun?.promise === promise) this.snapshotRun = undefined;
      },
      () => {
        if (this.snapshotRun?.promise === promise) this.snapshotRun = undefined;
      },
    );
    return promise;
  }

  /**
   * The reads of the last snapshot, with the correlations made from them: while
   * the data version stays, a new snapshot (the scores decay, exceptions and
   * approvals expire) only evaluates again.
   */
  private reads?: { version: string; entities: IndexedEntity[]; session: BatchReadSession };

  private async readAll(version: string): Promise<{ entities: IndexedEntity[]; session: BatchReadSession }> {
    if (this.reads?.version === version) return this.reads;
    const { store } = this.options;
    const [index, states, exceptions] = await Promise.all([store.listEntityIndex(), store.listSourceStates(), this.approvedExceptions()]);
    const entities = index.filter(e => e.kind.toLowerCase() === 'component');
    const values = new Set<string>();
    for (const e of entities) for (const h of e.hosts) for (const c of candidateIdentifiers(h.value)) values.add(c.value);
    const found = values.size ? await store.findSignalHeadsByIdentifiers([...values]) : [];
    const session = new BatchReadSession(new Map(entities.map(e => [e.entityRef, e])), found, states, exceptions);
    // the version read before these reads: a write meanwhile gives a newer version, so they are read again
    this.reads = { version, entities, session };
    return this.reads;
  }

  private async evaluateAll(key: string, version: string): Promise<Snapshot> {
    const { risk } = this.options;
    const now = this.now();
    const nowIso = now.toISOString();
    const environments = Object.keys(risk.policy.environments).sort();
    const { entities, session } = await this.readAll(version);
    const rows: Row[] = [];
    let slice = performance.now();
    for (const entity of entities) {
      // let requests in between (the evaluation is CPU only once the reads are done): a slice of at most a
      // few ms, since this runs in the background while requests are answered from the last snapshot, and
      // each of their I/O steps waits for the slice that runs
      if (performance.now() - slice >= EVALUATION_SLICE_MS) {
        await new Promise(resolve => setImmediate(resolve));
        slice = performance.now();
      }
      for (const environment of environments) {
        const input = await risk.buildInput(entity, environment, false, now, session);
        const evaluation = evaluate(input, risk.policy);
        rows.push({
          entityRef: entity.entityRef,
          name: entity.name,
          owner: entity.owner ?? null,
          system: entity.system ?? null,
          environment,
          riskLevel: evaluation.riskLevel,
          score: evaluation.score,
          decision: evaluation.decision,
          reasons: [...evaluation.reasons].sort((a, b) => (REASON_ORDER[a.code] ?? 9) - (REASON_ORDER[b.code] ?? 9)).slice(0, 3),
          correlated: !evaluation.reasons.some(r => r.code === 'uncorrelated'),
        });
      }
    }
    return { key, at: now.getTime(), generatedAt: nowIso, rows };
  }

  /** Rows of a snapshot in the summary's ranking order, per environment list (sorted once per snapshot, filtered per request). */
  private readonly ranked = new WeakMap<Snapshot, Map<string, Row[]>>();

  private rankedRows(snap: Snapshot, environments: string[]): Row[] {
    let byEnvironments = this.ranked.get(snap);
    if (!byEnvironments) this.ranked.set(snap, (byEnvironments = new Map()));
    const key = environments.join('\u0000');
    let rows = byEnvironments.get(key);
    if (!rows) {
      const wanted = new Set(environments);
      rows = snap.rows.filter(r => wanted.has(r.environment)).sort(RANKING);
      byEnvironments.set(key, rows);
    }
    return rows;
  }

  /** One read of the pending decisions at a time per environment; a request waits for a read that started after it arrived. */
  private readonly pendingReads = new Map<string, { inflight?: Promise<PendingHeads>; queued?: Promise<PendingHeads> }>();

  private pendingHeads(environment: string | undefined): Promise<PendingHeads> {
    const key = environment ?? '';
    let reads = this.pendingReads.get(key);
    if (!reads) this.pendingReads.set(key, (reads = {}));
    const slot = reads;
    const read = (): Promise<PendingHeads> => {
      const pendingSince = this.options.risk.pendingSince(this.now());
      const p = this.options.store
        .summarizePendingDecisions({ environment, pendingSince, first: PENDING_FIRST })
        .then(summary => ({ environment, pendingSince, summary }))
        .finally(() => {
        if (slot.inflight === p) slot.inflight = undefined;
      });
      slot.inflight = p;
      return p;
    };
    if (!slot.inflight) return read();
    if (!slot.queued) {
      const next = () => {
        slot.queued = undefined;
        return read();
      };
      slot.queued = slot.inflight.then(next, next);
    }
    return slot.queued;
  }

  /** Pending decisions with their approval expiry. */
  private withExpiry(heads: PendingHead[]) {
    const { risk } = this.options;
    return heads.map(p => {
      const expiresMs = Date.parse(p.createdAt) + risk.approvalTtlMs(p.environment);
      return { ...p, expiresAt: new Date(expiresMs).toISOString(), expiresMs };
    });
  }

  /**
   * The first {@link PENDING_ITEMS} decisions awaiting approval the caller may see, oldest first: from the
   * oldest read with the counts, else (a caller who sees few of them) read for the caller's entities.
   */
  private async visiblePending(pending: PendingHeads, visible: Set<string>, visibleTotal: number, nowMs: number) {
    const { first } = pending.summary;
    let heads = first.filter(p => visible.has(p.entityRef));
    if (heads.length < Math.min(PENDING_ITEMS, visibleTotal) && first.length >= PENDING_FIRST) {
      heads = await this.options.store.listPendingDecisionHeads({
        environment: pending.environment,
        pendingSince: pending.pendingSince,
        entityRefs: pending.summary.byEntity.map(c => c.entityRef).filter(ref => visible.has(ref)),
        limit: PENDING_ITEMS,
      });
    }
    return this.withExpiry(heads.slice(0, PENDING_ITEMS)).filter(p => p.expiresMs > nowMs);
  }

  private readonly dryRuns = new Map<string, { at: number; rows: ReturnType<RuntimeRiskStore['countDryRunOutcomes']> }>();

  /** The shadow-mode counts of the window, reused for the snapshot TTL (they only grow with new dry runs). */
  private dryRunCounts(since: string, environment: string | undefined): ReturnType<RuntimeRiskStore['countDryRunOutcomes']> {
    const key = `${since}|${environment ?? ''}`;
    const nowMs = this.now().getTime();
    const hit = this.dryRuns.get(key);
    if (hit && nowMs - hit.at < (this.options.ttlMs ?? SUMMARY_SNAPSHOT_TTL_MS)) return hit.rows;
    const rows = this.options.store.countDryRunOutcomes({ since, environment });
    rows.catch(() => this.dryRuns.delete(key));
    if (this.dryRuns.size > 100) this.dryRuns.clear();
    this.dryRuns.set(key, { at: nowMs, rows });
    return rows;
  }

  private async approvedExceptions(): Promise<Map<string, ExceptionRecord[]>> {
    const out = new Map<string, ExceptionRecord[]>();
    for (let offset = 0; ; offset += EXCEPTION_PAGE) {
      const page = await this.options.store.listExceptions({ status: 'approved', limit: EXCEPTION_PAGE, offset });
      for (const e of page.items) {
        const k = `${e.entityRef}\u0000${e.environment}`;
        out.set(k, [...(out.get(k) ?? []), e]);
      }
      if (page.items.length < EXCEPTION_PAGE) return out;
    }
  }

  /** The summary of `environment` (or every environment) for a caller who may read `readable` of the entities. */
  async summary(options: {
    environment?: string;
    limit: number;
    days: number;
    readable: (entityRefs: string[]) => Promise<Set<string>>;
    /** Wait for a snapshot of the current data instead of answering the last one while it is evaluated. */
    fresh?: boolean;
    /**
     * The caller's principal (see Access): callers with the same key see the same
     * entities, so concurrent requests that share one read of the pending
     * decisions, the snapshot and the shadow counts share one answer.
     */
    principal?: string;
  }): Promise<OrgSummary> {
    const { store, risk } = this.options;
    const environments = options.environment !== undefined ? [options.environment] : Object.keys(risk.policy.environments).sort();
    const nowMs = this.now().getTime();
    const dayMs = 86_400_000;
    const since = new Date(Math.floor(nowMs / dayMs) * dayMs - (options.days - 1) * dayMs);
    const [snap, pending, dry] = await Promise.all([
      this.snapshot(options.fresh),
      this.pendingHeads(options.environment),
      this.dryRunCounts(since.toISOString(), options.environment),
    ]);
    const memoKey = options.principal === undefined ? undefined : `${options.principal}\u0000${options.environment ?? ''}\u0000${options.limit}\u0000${since.toISOString()}`;
    let memo = this.answers.get(pending);
    const hit = memoKey === undefined ? undefined : memo?.get(memoKey);
    if (hit && hit.snap === snap && hit.dry === dry && hit.policy === risk.policy.hash) return hit.answer;
    // remembered before it is computed: the requests that arrive meanwhile wait for it
    const answer = this.compute(options, environments, nowMs, since, snap, pending, dry);
    if (memoKey !== undefined) {
      if (!memo) this.answers.set(pending, (memo = new Map()));
      if (memo.size < 1_000) {
        const entry = { snap, dry, policy: risk.policy.hash, answer };
        memo.set(memoKey, entry);
        answer.catch(() => memo!.get(memoKey) === entry && memo!.delete(memoKey));
      }
    }
    return answer;
  }

  /**
   * Answers shared by the requests of one read of the pending decisions (the
   * read is current for one round trip: requests that arrive later wait for a
   * new read), per principal and query; nothing outlives that read.
   */
  private readonly answers = new WeakMap<PendingHeads, Map<string, { snap: Snapshot; dry: unknown; policy: string; answer: Promise<OrgSummary> }>>();

  private async compute(
    options: { limit: number; days: number; readable: (entityRefs: string[]) => Promise<Set<string>> },
    environments: string[],
    nowMs: number,
    since: Date,
    snap: Snapshot,
    pending: PendingHeads,
    dry: Awaited<ReturnType<RuntimeRiskStore['countDryRunOutcomes']>>,
  ): Promise<OrgSummary> {
    const dayMs = 86_400_000;
    const refs = new Set<string>(snap.rows.map(r => r.entityRef));
    pending.summary.byEntity.forEach(p => refs.add(p.entityRef));
    dry.forEach(d => refs.add(d.entityRef));
    const visible = await options.readable([...refs]);

    // in ranking order (sorted once per snapshot): filtering keeps the order
    const ranked = this.rankedRows(snap, environments).filter(r => visible.has(r.entityRef));
    const rows = ranked;
    const counts = environments.map(environment => ({
      environment,
      byLevel: { low: 0, moderate: 0, high: 0, unknown: 0 } as Record<RiskLevel, number>,
      byDecision: { proceed: 0, approval_required: 0, block: 0 } as Record<Decision, number>,
    }));
    const countOf = new Map(counts.map(c => [c.environment, c]));
    const entityRefs = new Set<string>();
    const correlated = new Set<string>();
    const uncorrelated = new Map<string, string[]>();
    for (const r of rows) {
      const c = countOf.get(r.environment)!;
      c.byLevel[r.riskLevel] += 1;
      c.byDecision[r.decision] += 1;
      entityRefs.add(r.entityRef);
      if (r.correlated) correlated.add(r.entityRef);
      else uncorrelated.set(r.entityRef, [...(uncorrelated.get(r.entityRef) ?? []), r.environment]);
    }

    const buckets = Array.from({ length: options.days }, (_, i) => ({
      start: new Date(since.getTime() + i * dayMs).toISOString(),
      total: 0,
      wouldHaveBlocked: 0,
      wouldHaveRequiredApproval: 0,
    }));
    for (const d of dry) {
      if (!visible.has(d.entityRef)) continue;
      const b = buckets[Math.round((Date.parse(`${d.day}T00:00:00Z`) - since.getTime()) / dayMs)];
      if (!b) continue;
      b.total += d.total;
      b.wouldHaveBlocked += d.block;
      b.wouldHaveRequiredApproval += d.approval;
    }

    // counted at the read (created after the cut-off of its environment's approvalTtl)
    const waitingTotal = pending.summary.byEntity.reduce((n, c) => (visible.has(c.entityRef) ? n + c.count : n), 0);
    const waiting = await this.visiblePending(pending, visible, waitingTotal, nowMs);

    return {
      generatedAt: snap.generatedAt,
      environments,
      entities: { total: entityRefs.size, correlated: correlated.size },
      counts,
      topRisky: ranked.slice(0, options.limit).map(({ correlated: _c, ...r }) => r),
      topRiskyTotal: ranked.length,
      uncorrelated: [...uncorrelated.entries()]
        .map(([entityRef, envs]) => ({ entityRef, environments: envs.sort() })) // snapshot order: environments sorted
        .sort((a, b) => (a.entityRef < b.entityRef ? -1 : 1)),
      shadow: { since: since.toISOString(), buckets },
      pending: {
        totalCount: waitingTotal,
        items: waiting.map(p => ({
          decisionId: p.id,
          entityRef: p.entityRef,
          environment: p.environment,
          riskLevel: p.riskLevel as RiskLevel,
          score: p.score,
          createdAt: p.createdAt,
          expiresAt: p.expiresAt,
        })),
      },
    };
  }
}

const LEVEL_RANK: Record<RiskLevel, number> = { low: 0, moderate: 1, high: 2, unknown: -1 };

/** Highest score first, then level, entity ref and environment (a total order: one row per entity + environment). */
function RANKING(a: Row, b: Row): number {
  return (
    (b.score ?? -1) - (a.score ?? -1) ||
    LEVEL_RANK[b.riskLevel] - LEVEL_RANK[a.riskLevel] ||
    (a.entityRef < b.entityRef ? -1 : a.entityRef > b.entityRef ? 1 : 0) ||
    (a.environment < b.environment ? -1 : 1)
  );
}
