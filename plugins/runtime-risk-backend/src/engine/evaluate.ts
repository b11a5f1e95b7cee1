import { InputError } from '@backstage/errors';
import type {
  Decision,
  EnvironmentPolicy,
  FailureAction,
  FailureMode,
  MatchedHost,
  Reason,
  RiskLevel,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { CompiledPolicy } from './policy';
import { compareStrings, levelFor, parseTime, scoreSignals, type Contribution, type EngineSignal } from './score';
import { sourceDataAtMs, sourceStaleness } from './freshness';

/** A signal source covering the entity's hosts, as the engine sees it. */
export interface EngineSource {
  id: string;
  status: 'ok' | 'degraded' | 'down';
  lastSuccessAt: string | null;
  /** The time the source's data is current as of, when it says so (e.g. a file's own timestamp). */
  asOf?: string | null;
  /**
   * A push source (webhook): never stale for being quiet, unless it promised a
   * heartbeat (`heartbeatMs`) and has not been heard from (a push or a heartbeat,
   * `lastSuccessAt`) for longer than that (DESIGN "Coverage").
   */
  push?: boolean;
  heartbeatMs?: number;
}

/** An approved, unexpired exception for the entity + environment. */
export interface EngineException {
  id: string;
  expiresAt: string;
  signalIds?: string[];
  maxLevel?: RiskLevel;
}

export interface EvaluationInput {
  entityRef: string;
  environment: string;
  /** ISO time of evaluation; the only clock the engine uses. */
  now: string;
  /** Empty => uncorrelated. */
  hosts: MatchedHost[];
  /** What correlation tried, for the `uncorrelated` reason. */
  correlationTried?: string[];
  /** Signals correlated to the hosts, any status. */
  signals: EngineSignal[];
  /** Sources covering those hosts. */
  sources: EngineSource[];
  /**
   * What the answer does not cover (DESIGN "Catalog relations", "Coverage"):
   * `components`, a System's Components without hosts in the environment;
   * `hosts`, ids of `hosts` that no source has reported within the coverage
   * window. Hosts listed here are not correlated: when every host is, the
   * entity is `uncorrelated`; otherwise a `partial_coverage` reason names them
   * (it never changes the decision by itself).
   */
  uncovered?: { components?: string[]; hosts?: string[] };
  exceptions?: EngineException[];
  dryRun?: boolean;
}

/** A failure mode that applied, and what the environment's policy does about it. */
export interface AppliedFailureMode {
  mode: FailureMode;
  action: FailureAction;
  decision: Decision;
}

export interface Evaluation {
  decision: Decision;
  riskLevel: RiskLevel;
  score: number | null;
  reasons: Reason[];
  signals: { count: number; freshAt: string | null; stale: boolean };
  policy: { id: string; hash: string };
  /** Set when dryRun: the decision the gate would have made. */
  wouldHaveBeen?: Decision;
  exception?: { id: string; expiresAt: string };
  contributions: Contribution[];
  /** The decision the risk level alone maps to (`proceed` when the level is unknown). */
  levelDecision: Decision;
  /** Failure modes that applied, in a fixed order. */
  failureModes: AppliedFailureMode[];
}

const STRICTNESS: Record<Decision, number> = { proceed: 0, approval_required: 1, block: 2 };
const LEVEL_RANK: Record<RiskLevel, number> = { low: 0, moderate: 1, high: 2, unknown: 3 };
const FAILURE_MODE_ORDER: FailureMode[] = ['uncorrelated', 'scoreUnavailable', 'sourceUnavailable', 'signalsStale'];
const FAILURE_REASON_CODE: Record<FailureMode, Reason['code']> = {
  uncorrelated: 'uncorrelated',
  scoreUnavailable: 'score_unavailable',
  sourceUnavailable: 'source_unavailable',
  signalsStale: 'signals_stale',
};

/** The stricter of two decisions: proceed < approval_required < block. */
export function stricter(a: Decision, b: Decision): Decision {
  return STRICTNESS[b] > STRICTNESS[a] ? b : a;
}

/** What a failure action answers: `proceed_with_warning` proceeds (the reason stays). */
export function failureDecision(action: FailureAction): Decision {
  return action === 'proceed_with_warning' ? 'proceed' : action;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function describeAction(environment: string, action: FailureAction): string {
  if (action === 'proceed_with_warning') return `${environment} policy: proceed with warning`;
  return `${environment} policy: ${action}`;
}

interface SourceFinding {
  mode: 'sourceUnavailable' | 'signalsStale';
  reason: Reason;
}

function analyseSources(
  sources: EngineSource[],
  nowMs: number,
  maxAgeMs: number,
  environment: string,
  env: EnvironmentPolicy,
): { freshAtMs: number | null; stale: boolean; findings: SourceFinding[] } {
  const sorted = [...sources].sort((a, b) => compareStrings(a.id, b.id));
  const findings: SourceFinding[] = [];
  let freshAtMs: number | null = null;
  let stale = false;
  for (const src of sorted) {
    const success = parseTime(src.lastSuccessAt);
    const effective = sourceDataAtMs(src);
    if (!Number.isNaN(effective)) {
      freshAtMs = freshAtMs === null ? effective : Math.max(freshAtMs, effective);
    }

    if (src.status === 'down') {
      const action = env.onFailure.sourceUnavailable;
      findings.push({
        mode: 'sourceUnavailable',
        reason: {
          code: 'source_unavailable',
          message:
            `Signal source '${src.id}' is down` +
            (Number.isNaN(success) ? ' and has never synced successfully' : ` (last successful sync ${src.lastSuccessAt})`) +
            ` (${describeAction(environment, action)})`,
          signalIds: [],
          source: src.id,
        },
      });
    }

    // the one freshness rule, shared with the source health's staleFor (engine/freshness.ts)
    const staleMessage = sourceStaleness(src, nowMs, maxAgeMs, environment);
    if (staleMessage !== undefined) {
      stale = true;
      findings.push({
        mode: 'signalsStale',
        reason: {
          code: 'signals_stale',
          message: `${staleMessage} (${describeAction(environment, env.onFailure.signalsStale)})`,
          signalIds: [],
          source: src.id,
        },
      });
    }
  }
  return { freshAtMs, stale, findings };
}

/**
 * `contributing`: the signal ids of each contribution (one incident's reports
 * together); a signal-scoped exception covers an incident when it names one of them.
 */
function exceptionApplies(ex: EngineException, nowMs: number, riskLevel: RiskLevel, contributing: string[][]): boolean {
  const expires = parseTime(ex.expiresAt);
  if (Number.isNaN(expires) || expires <= nowMs) return false;
  if (riskLevel === 'unknown') {
    if (ex.maxLevel !== undefined) return false;
  } else if (ex.maxLevel !== undefined && LEVEL_RANK[riskLevel] > LEVEL_RANK[ex.maxLevel]) {
    return false;
  }
  if (ex.signalIds !== undefined) {
    const allowed = new Set(ex.signalIds);
    if (!contributing.every(ids => ids.some(id => allowed.has(id)))) return false;
  }
  return true;
}

/**
 * Evaluates the gate for one entity and environment. Pure and deterministic: the
 * same input and policy give a deep-equal result; `input.now` is the only clock.
 * Throws InputError for an environment the policy does not define.
 */
export function evaluate(input: EvaluationInput, policy: CompiledPolicy): Evaluation {
  const { environment } = input;
  if (!Object.prototype.hasOwnProperty.call(policy.environments, environment)) {
    const known = Object.keys(policy.environments).sort().join(', ');
    throw new InputError(`Invalid environment '${environment}': policy '${policy.id}' defines ${known}`);
  }
  const env = policy.environments[environment];
  const nowMs = parseTime(input.now);
  if (Number.isNaN(nowMs)) {
    throw new InputError(`Invalid now '${String(input.now)}': must be an ISO 8601 date-time`);
  }

  const uncoveredHosts = new Set(input.uncovered?.hosts ?? []);
  const uncoveredComponents = input.uncovered?.components ?? [];
  const coveredHosts = input.hosts.filter(h => !uncoveredHosts.has(h.id));
  const correlated = coveredHosts.length > 0;
  const modes = new Map<FailureMode, Reason[]>();
  const addMode = (mode: FailureMode, reason: Reason) => {
    const list = modes.get(mode) ?? [];
    list.push(reason);
    modes.set(mode, list);
  };

  // Freshness and availability of the sources covering the hosts.
  const sourceInfo = analyseSources(input.sources, nowMs, policy.maxSignalAgeMs[environment], environment, env);
  let stale = false;
  if (correlated) {
    stale = sourceInfo.stale;
    for (const f of sourceInfo.findings) addMode(f.mode, f.reason);
    if (input.sources.length === 0) {
      stale = true;
      addMode('sourceUnavailable', {
        code: 'source_unavailable',
        message:
          `No signal source covers the ${coveredHosts.length} matched host(s) (no source), ` +
          `so their risk is not known (${describeAction(environment, env.onFailure.sourceUnavailable)})`,
        signalIds: [],
      });
    }
  }

  // Score.
  let riskLevel: RiskLevel = 'unknown';
  let score: number | null = null;
  let contributions: Contribution[] = [];
  const signalReasons: Reason[] = [];
  const coverageReasons: Reason[] = [];
  if (!correlated && input.hosts.length > 0) {
    addMode('uncorrelated', {
      code: 'uncorrelated',
      message:
        `No signal source has reported any host of ${input.entityRef} within the coverage window ` +
        `(hosts no source has seen: ${[...uncoveredHosts].sort().join(', ')})` +
        (uncoveredComponents.length ? `; Components without hosts: ${uncoveredComponents.join(', ')}` : '') +
        `, so its risk is unknown (${describeAction(environment, env.onFailure.uncorrelated)})`,
      signalIds: [],
    });
  } else if (!correlated) {
    const tried = input.correlationTried?.length ? input.correlationTried.join(', ') : 'no correlation method';
    addMode('uncorrelated', {
      code: 'uncorrelated',
      message:
        `No host found for ${input.entityRef} (tried: ${tried}), so its risk is unknown ` +
        `(${describeAction(environment, env.onFailure.uncorrelated)})`,
      signalIds: [],
    });
  } else {
    if (uncoveredComponents.length) {
      coverageReasons.push({
        code: 'partial_coverage',
        message:
          `${uncoveredComponents.length} Component(s) of ${input.entityRef} have no host in ${environment} ` +
          `and are not covered by this answer: ${uncoveredComponents.join(', ')}`,
        signalIds: [],
      });
    }
    if (uncoveredHosts.size) {
      coverageReasons.push({
        code: 'partial_coverage',
        message:
          `${uncoveredHosts.size} of ${input.hosts.length} host(s) have not been reported by any signal source ` +
          `within the coverage window and are not covered by this answer: ${[...uncoveredHosts].sort().join(', ')}`,
        signalIds: [],
      });
    }
    let result: { score: number; contributions: Contribution[] } | undefined;
    try {
      result = scoreSignals(input.signals, policy, input.now);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      addMode('scoreUnavailable', {
        code: 'score_unavailable',
        message: `The risk score could not be computed: ${detail} (${describeAction(environment, env.onFailure.scoreUnavailable)})`,
        signalIds: [],
      });
    }
    if (result) {
      score = result.score;
      contributions = result.contributions;
      riskLevel = levelFor(score, env);
      const byId = new Map(input.signals.map(s => [s.id, s] as const));
      for (const c of contributions) {
        const s = byId.get(c.signalId)!;
        const counted =
          `Active ${s.severity} signal '${s.title}' from ${s.source} ` +
          `(confidence ${s.confidence}, last seen ${s.lastSeenAt}) contributes ${c.score.toFixed(1)}`;
        if (c.signalIds && c.signalIds.length > 1) {
          // DESIGN "One incident, several vendors": counted once, every report named
          const members = c.signalIds.map(id => byId.get(id)!);
          const vendors = [...new Set(members.map(m => m.source))];
          signalReasons.push({
            code: 'signal_active',
            message:
              `One incident reported ${members.length} times on host ${s.host} by ${vendors.join(' and ')} ` +
              `(${c.matchedBy === 'sha256' ? 'same file SHA-256' : 'same MITRE technique and process'}, within an hour): ` +
              `${members.map(m => `${m.id} (${m.source})`).join(', ')}; counted once: ${counted}`,
            signalIds: [...c.signalIds],
            source: s.source,
          });
          continue;
        }
        signalReasons.push({
          code: 'signal_active',
          message: counted,
          signalIds: [c.signalId],
          source: s.source,
        });
      }
      if (contributions.length === 0) {
        signalReasons.push({
          code: 'no_active_signals',
          message: `No active signals on the ${coveredHosts.length} matched host(s)`,
          signalIds: [],
        });
      }
    }
  }

  // Decision: the strictest of the level's action and every failure mode's action.
  const levelDecision: Decision = riskLevel === 'unknown' ? 'proceed' : env.actions[riskLevel];
  let decision = levelDecision;
  const failureModes: AppliedFailureMode[] = [];
  const failureReasons: Reason[] = [];
  for (const mode of FAILURE_MODE_ORDER) {
    const reasons = modes.get(mode);
    if (!reasons) continue;
    const action = env.onFailure[mode];
    const modeDecision = failureDecision(action);
    failureModes.push({ mode, action, decision: modeDecision });
    decision = stricter(decision, modeDecision);
    failureReasons.push(...reasons);
  }

  const reasons: Reason[] = [...signalReasons, ...coverageReasons, ...failureReasons];
  const evaluation: Evaluation = {
    decision,
    riskLevel,
    score,
    reasons,
    signals: {
      count: input.signals.filter(s => s.status === 'active').length,
      freshAt: sourceInfo.freshAtMs === null ? null : iso(sourceInfo.freshAtMs),
      stale,
    },
    policy: { id: policy.id, hash: policy.hash },
    contributions,
    levelDecision,
    failureModes,
  };

  // Exceptions turn block / approval_required into proceed. A signal-scoped one
  // waives only what its signals cause (the level's decision), never a failure
  // mode (DESIGN "Exceptions": source_unavailable, signals_stale; nor
  // uncorrelated or score_unavailable, which no signal of it causes).
  if (decision !== 'proceed' && input.exceptions?.length) {
    const contributing = contributions.map(c => c.signalIds ?? [c.signalId]);
    const failureOnly = failureModes.reduce<Decision>((d, m) => stricter(d, m.decision), 'proceed');
    const outcome = (ex: EngineException): Decision => (ex.signalIds !== undefined ? failureOnly : 'proceed');
    const candidates = input.exceptions
      .filter(ex => exceptionApplies(ex, nowMs, riskLevel, contributing))
      .filter(ex => STRICTNESS[outcome(ex)] < STRICTNESS[decision])
      .sort(
        (a, b) =>
          STRICTNESS[outcome(a)] - STRICTNESS[outcome(b)] ||
          parseTime(b.expiresAt) - parseTime(a.expiresAt) ||
          compareStrings(a.id, b.id),
      );
    const chosen = candidates[0];
    if (chosen) {
      const after = outcome(chosen);
      const kept = failureModes.filter(m => m.decision === after && after !== 'proceed').map(m => FAILURE_REASON_CODE[m.mode]);
      reasons.push({
        code: 'exception_applied',
        message:
          after === 'proceed'
            ? `Exception ${chosen.id} (until ${chosen.expiresAt}) turns ${decision} into proceed`
            : `Exception ${chosen.id} (until ${chosen.expiresAt}) waives its signals, turning ${decision} into ${after}; ` +
              `an exception scoped to signals never waives ${[...new Set(kept)].join(', ')}`,
        signalIds: chosen.signalIds ? [...chosen.signalIds].sort() : [],
      });
      evaluation.exception = { id: chosen.id, expiresAt: chosen.expiresAt };
      evaluation.decision = after;
    }
  }

  if (input.dryRun) {
    const real = evaluation.decision;
    evaluation.wouldHaveBeen = real;
    evaluation.decision = 'proceed';
    reasons.push({
      code: 'dry_run',
      message: `Dry run: the gate would have answered ${real}; it answers proceed`,
      signalIds: [],
    });
  }

  return evaluation;
}
