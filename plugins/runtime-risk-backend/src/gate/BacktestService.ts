import type { Decision, Reason, RiskLevel } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { evaluate, type CompiledPolicy, type EvaluationInput } from '../engine';
import { scannedInputs } from '../store/decisionInputs';
import type { DecisionScanRow, DecisionScanStore } from '../store/types';

/** Decisions read per page: the next page is read while this one is evaluated. */
export const BACKTEST_PAGE = 2_000;
/** Parsed shared inputs kept across pages. */
const MAX_SHARED_INPUTS = 20_000;

export interface BacktestTransition {
  from: Decision;
  to: Decision;
  count: number;
}

export interface BacktestGroup {
  environment?: string;
  entityRef?: string;
  total: number;
  changed: number;
  transitions: BacktestTransition[];
}

export interface BacktestOutcome {
  decision: Decision;
  riskLevel: RiskLevel;
  score: number | null;
  reasons: Reason[];
}

export interface BacktestChange {
  decisionId: string;
  entityRef: string;
  environment: string;
  createdAt: string;
  dryRun: boolean;
  policyHash: string;
  old: BacktestOutcome;
  new: BacktestOutcome;
}

export interface BacktestResult {
  since: string;
  until: string;
  policy: { id: string; hash: string };
  total: number;
  changed: number;
  transitions: BacktestTransition[];
  byEnvironment: BacktestGroup[];
  byEntity: BacktestGroup[];
  notEvaluated: { count: number; environments: string[]; unreadable: number };
  changedDecisions: { items: BacktestChange[]; totalCount: number; nextCursor?: string };
}

export interface BacktestRequest {
  policy: CompiledPolicy;
  since: string;
  until: string;
  environment?: string;
  entityRef?: string;
  /** The page of changed decisions to return: skip `offset`, at most `limit`. */
  offset: number;
  limit: number;
  /** Decisions read per page (default {@link BACKTEST_PAGE}). */
  pageSize?: number;
  /** The subset of `entityRefs` the caller may read (one batched check per page of new refs). */
  readable: (entityRefs: string[]) => Promise<Set<string>>;
}

const ORDER: Record<Decision, number> = { proceed: 0, approval_required: 1, block: 2 };

/** Counts of one group: `from -> to` pairs. */
class Tally {
  total = 0;
  changed = 0;
  private readonly pairs = new Map<string, number>();

  add(from: Decision, to: Decision): void {
    this.total += 1;
    if (from !== to) this.changed += 1;
    const key = `${from}\u0000${to}`;
    this.pairs.set(key, (this.pairs.get(key) ?? 0) + 1);
  }

  transitions(): BacktestTransition[] {
    return [...this.pairs.entries()]
      .map(([key, count]) => {
        const [from, to] = key.split('\u0000') as [Decision, Decision];
        return { from, to, count };
      })
      .sort((a, b) => ORDER[a.from] - ORDER[b.from] || ORDER[a.to] - ORDER[b.to]);
  }
}

/** What the gate decided, before approvals: for a dry run, what it would have answered. */
function oldDecision(row: DecisionScanRow): Decision {
  const would = row.dryRun ? row.wouldHaveBeen : null;
  if (would === 'proceed' || would === 'approval_required' || would === 'block') return would;
  return row.decision as Decision;
}

/**
 * Backtests a proposed policy: replays the stored inputs of every decision
 * recorded in `[since, until)` under it (the engine is pure, so the stored
 * inputs and the policy decide alone) and counts what changes. Reads the
 * decisions a page at a time, oldest first; the stored inputs are trusted as
 * written by the gate (no schema validation per row); nothing is recorded.
 */
export async function backtest(store: Pick<DecisionScanStore, 'scanDecisions' | 'getDecisionReasons'>, request: BacktestRequest): Promise<BacktestResult> {
  const { policy } = request;
  const pageSize = request.pageSize ?? BACKTEST_PAGE;
  const all = new Tally();
  const byEnvironment = new Map<string, Tally>();
  const byEntity = new Map<string, Tally>();
  const visible = new Map<string, boolean>();
  const notEvaluated = new Set<string>();
  let notEvaluatedCount = 0;
  let unreadable = 0;
  let changedSeen = 0;
  const items: BacktestChange[] = [];

  // shared decision inputs parsed once per distinct hash for the whole backtest (issue 18 part 2;
  // busy pipelines share a few bodies): neither read nor parsed again on later pages (up to a bound)
  const sharedInputs = new Map<string, unknown>();
  const read = (after?: { createdAt: string; seq: number }) =>
    store.scanDecisions({
      since: request.since,
      until: request.until,
      environment: request.environment,
      entityRef: request.entityRef,
      after,
      limit: pageSize,
      known: hash => sharedInputs.has(hash),
    });
  let next: Promise<DecisionScanRow[]> | undefined = read();
  while (next) {
    const rows: DecisionScanRow[] = await next;
    // bounded: past MAX_SHARED_INPUTS, bodies are kept for this page only (the kept ones are never
    // dropped: the page read meanwhile counts on them)
    const pageInputs = new Map<string, unknown>();
    const inputsCache = {
      get: (hash: string) => sharedInputs.get(hash) ?? pageInputs.get(hash),
      set: (hash: string, body: unknown) => (sharedInputs.size < MAX_SHARED_INPUTS ? sharedInputs : pageInputs).set(hash, body),
    };
    // the page's new bodies parsed before the next page is asked for, so that it does not read them again
    for (const row of rows) {
      if (!row.inputsHash || row.sharedInputs === null || row.sharedInputs === undefined || inputsCache.get(row.inputsHash) !== undefined) continue;
      try {
        inputsCache.set(row.inputsHash, JSON.parse(row.sharedInputs));
      } catch {
        // left to scannedInputs, which counts the decision as unreadable
      }
    }
    // read the next page while this one is evaluated
    const last = rows[rows.length - 1];
    next = rows.length === pageSize ? read({ createdAt: last.createdAt, seq: last.seq }) : undefined;
    next?.catch(() => {});

    const unknown = [...new Set(rows.map(r => r.entityRef))].filter(ref => !visible.has(ref));
    if (unknown.length) {
      const readable = await request.readable(unknown);
      for (const ref of unknown) visible.set(ref, readable.has(ref));
    }

    for (const row of rows) {
      if (!visible.get(row.entityRef)) continue;
      if (!Object.prototype.hasOwnProperty.call(policy.environments, row.environment)) {
        notEvaluatedCount += 1;
        notEvaluated.add(row.environment);
        continue;
      }
      let evaluation: ReturnType<typeof evaluate>;
      try {
        evaluation = evaluate(scannedInputs(row, inputsCache) as EvaluationInput, policy);
      } catch {
        // stored inputs the engine cannot read (edited by hand, cut): counted, never a failed backtest
        notEvaluatedCount += 1;
        unreadable += 1;
        continue;
      }
      const from = oldDecision(row);
      const to = evaluation.wouldHaveBeen ?? evaluation.decision;
      all.add(from, to);
      let env = byEnvironment.get(row.environment);
      if (!env) byEnvironment.set(row.environment, (env = new Tally()));
      env.add(from, to);
      let entity = byEntity.get(row.entityRef);
      if (!entity) byEntity.set(row.entityRef, (entity = new Tally()));
      entity.add(from, to);
      if (from === to) continue;
      if (changedSeen >= request.offset && items.length < request.limit) {
        items.push({
          decisionId: row.id,
          entityRef: row.entityRef,
          environment: row.environment,
          createdAt: row.createdAt,
          dryRun: row.dryRun,
          policyHash: row.policyHash,
          // the stored reasons are read for the returned page only, after the scan
          old: { decision: from, riskLevel: row.riskLevel as RiskLevel, score: row.score, reasons: [] },
          new: { decision: to, riskLevel: evaluation.riskLevel, score: evaluation.score, reasons: evaluation.reasons },
        });
      }
      changedSeen += 1;
    }
  }

  if (items.length) {
    const reasons = await store.getDecisionReasons(items.map(i => i.decisionId));
    for (const item of items) item.old.reasons = JSON.parse(reasons.get(item.decisionId) ?? '[]') as Reason[];
  }

  const groups = (m: Map<string, Tally>, key: 'environment' | 'entityRef') =>
    [...m.entries()].map(([name, t]) => ({ [key]: name, total: t.total, changed: t.changed, transitions: t.transitions() }) as BacktestGroup);
  const result: BacktestResult = {
    since: request.since,
    until: request.until,
    policy: { id: policy.id, hash: policy.hash },
    total: all.total,
    changed: all.changed,
    transitions: all.transitions(),
    byEnvironment: groups(byEnvironment, 'environment').sort((a, b) => (a.environment! < b.environment! ? -1 : 1)),
    byEntity: groups(byEntity, 'entityRef')
      .filter(g => g.changed > 0)
      .sort((a, b) => b.changed - a.changed || (a.entityRef! < b.entityRef! ? -1 : 1)),
    notEvaluated: { count: notEvaluatedCount, environments: [...notEvaluated].sort(), unreadable },
    changedDecisions: { items, totalCount: changedSeen },
  };
  return result;
}
