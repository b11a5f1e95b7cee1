import type { EnvironmentPolicy, RiskLevel, Severity, SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { CompiledPolicy } from './policy';

/** What the engine needs of a stored signal. */
export interface EngineSignal {
  id: string;
  source: string;
  severity: Severity;
  confidence: number;
  status: SignalStatus;
  lastSeenAt: string;
  title: string;
}

/** One signal's share of the entity score (before the saturating combination). */
export interface Contribution {
  signalId: string;
  score: number;
}

/** Thrown when a score cannot be computed from the data (bad date, NaN, unknown severity). */
export class ScoreUnavailableError extends Error {
  readonly signalId?: string;
  constructor(message: string, signalId?: string) {
    super(message);
    this.name = 'ScoreUnavailableError';
    this.signalId = signalId;
  }
}

/** Parses an ISO date-time to epoch ms; NaN when it is not one. */
export function parseTime(value: string | null | undefined): number {
  if (typeof value !== 'string' || value.trim() === '') return NaN;
  return Date.parse(value);
}

/**
 * Rounds to one decimal. The value is first rounded to 1e-6 so that binary
 * noise (57.749999999 for an exact 57.75) rounds the way the decimal would.
 */
export function roundScore(value: number): number {
  const cleaned = Math.round(value * 1e6) / 1e6;
  return Math.round(cleaned * 10) / 10;
}

/** Contribution of one signal: `weight(severity) × confidence × 0.5^(age / halfLife(severity))`, 0..100. */
export function signalScore(signal: EngineSignal, policy: CompiledPolicy, nowMs: number): number {
  const weight = policy.weights[signal.severity];
  const halfLife = policy.halfLifeMs[signal.severity];
  if (typeof weight !== 'number' || typeof halfLife !== 'number') {
    throw new ScoreUnavailableError(`signal ${signal.id} has an unknown severity '${String(signal.severity)}'`, signal.id);
  }
  const { confidence } = signal;
  if (typeof confidence !== 'number' || !Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    throw new ScoreUnavailableError(
      `signal ${signal.id} has an invalid confidence '${String(confidence)}' (expected 0..1)`,
      signal.id,
    );
  }
  const seen = parseTime(signal.lastSeenAt);
  if (Number.isNaN(seen)) {
    throw new ScoreUnavailableError(
      `signal ${signal.id} has an invalid lastSeenAt '${String(signal.lastSeenAt)}'`,
      signal.id,
    );
  }
  const age = Math.max(0, nowMs - seen);
  const s = weight * confidence * Math.pow(0.5, age / halfLife);
  if (!Number.isFinite(s)) {
    throw new ScoreUnavailableError(`signal ${signal.id} gives a non-finite score`, signal.id);
  }
  return Math.min(100, Math.max(0, s));
}

/**
 * Scores the active signals of an entity: `100 × (1 − Π(1 − s/100))`, rounded to
 * one decimal. Signals that are not `active` or contribute 0 (weight or
 * confidence 0) are left out of `contributions`. Throws
 * {@link ScoreUnavailableError} on data that cannot be scored.
 *
 * The result does not depend on the order of `signals`: they are combined in
 * id order, and a duplicated id counts once (its newest `lastSeenAt`).
 */
export function scoreSignals(
  signals: EngineSignal[],
  policy: CompiledPolicy,
  now: string,
): { score: number; contributions: Contribution[] } {
  const nowMs = parseTime(now);
  if (Number.isNaN(nowMs)) {
    throw new ScoreUnavailableError(`evaluation time '${String(now)}' is not an ISO date-time`);
  }

  const byId = new Map<string, { signal: EngineSignal; s: number }>();
  for (const signal of signals) {
    if (signal.status !== 'active') continue;
    const s = signalScore(signal, policy, nowMs);
    const prev = byId.get(signal.id);
    if (!prev || parseTime(signal.lastSeenAt) > parseTime(prev.signal.lastSeenAt)) {
      byId.set(signal.id, { signal, s });
    }
  }

  const ids = [...byId.keys()].sort();
  let remaining = 1;
  const contributions: Contribution[] = [];
  for (const id of ids) {
    const { s } = byId.get(id)!;
    if (s <= 0) continue;
    remaining *= 1 - s / 100;
    contributions.push({ signalId: id, score: roundContribution(s) });
  }
  contributions.sort((a, b) => b.score - a.score || compareStrings(a.signalId, b.signalId));
  const score = roundScore(Math.min(100, Math.max(0, 100 * (1 - remaining))));
  return { score, contributions };
}

/** Contributions are reported with two decimals (the entity score uses the unrounded values). */
function roundContribution(s: number): number {
  return Math.round(Math.round(s * 1e6) / 1e4) / 100;
}

export function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** Level of a score by the environment's thresholds: `>= high` high, `>= moderate` moderate, else low. */
export function levelFor(score: number, env: EnvironmentPolicy): Exclude<RiskLevel, 'unknown'> {
  if (score >= env.thresholds.high) return 'high';
  if (score >= env.thresholds.moderate) return 'moderate';
  return 'low';
}
