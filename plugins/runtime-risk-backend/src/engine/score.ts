import type { EnvironmentPolicy, RiskLevel, Severity, SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { CompiledPolicy } from './policy';

/** File and process indicators of a signal, as the engine compares them. */
export interface EngineIndicators {
  sha256?: string;
  filePath?: string;
  processName?: string;
  commandLine?: string;
}

/** What the engine needs of a stored signal. */
export interface EngineSignal {
  id: string;
  source: string;
  severity: Severity;
  confidence: number;
  status: SignalStatus;
  lastSeenAt: string;
  title: string;
  /**
   * For counting one incident once (DESIGN "One incident, several vendors"):
   * the entity host the signal was correlated to, when the incident began, its
   * MITRE techniques and its indicators. Signals without them stand alone.
   */
  host?: string;
  firstSeenAt?: string;
  techniques?: string[];
  indicators?: EngineIndicators;
}

/** Why signals were taken for one incident. */
export type IncidentMatch = 'sha256' | 'technique+process';

/**
 * One incident's share of the entity score (before the saturating combination):
 * a signal, or several signals of one incident counted once with the highest
 * contribution among them (`signalId`, the one counted).
 */
export interface Contribution {
  signalId: string;
  score: number;
  /** One incident reported several times: every signal id of it, the counted one first. */
  signalIds?: string[];
  /** What made them one incident. */
  matchedBy?: IncidentMatch;
}

/** Signals of one incident begin within this long of the incident's first signal (not chained). */
export const INCIDENT_WINDOW_MS = 3600_000;

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
 * Signals of one incident ({@link groupIncidents}: same host, same SHA-256 or
 * technique and process, within an hour of its first signal) count once, with
 * the highest contribution among them.
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

  // combined in the id order of the signal each incident counts (independent of the input order)
  const groups = groupIncidents([...byId.values()]).sort((a, b) => compareStrings(a.members[0].signal.id, b.members[0].signal.id));
  let remaining = 1;
  const contributions: Contribution[] = [];
  for (const group of groups) {
    const [counted] = group.members;
    if (counted.s <= 0) continue;
    remaining *= 1 - counted.s / 100;
    const c: Contribution = { signalId: counted.signal.id, score: roundContribution(counted.s) };
    if (group.members.length > 1) {
      c.signalIds = group.members.map(m => m.signal.id);
      c.matchedBy = group.matchedBy;
    }
    contributions.push(c);
  }
  contributions.sort((a, b) => b.score - a.score || compareStrings(a.signalId, b.signalId));
  const score = roundScore(Math.min(100, Math.max(0, 100 * (1 - remaining))));
  return { score, contributions };
}

type Scored = { signal: EngineSignal; s: number };

/** Upper-cased technique id without its sub-technique (`t1059.001` -> `T1059`). */
function techniqueKey(t: string): string {
  return t.trim().toUpperCase().split('.')[0];
}

/** A process image name without its directory, lower-cased. */
function processKey(p: string): string {
  const trimmed = p.trim().toLowerCase();
  return trimmed.slice(Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\')) + 1);
}

/** A command line with its whitespace collapsed, lower-cased. */
function commandKey(c: string): string {
  return c.trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Whether two signals describe one incident: the same file SHA-256, or a
 * shared MITRE technique and the same command line (the same process when
 * either has no command line).
 */
export function sameIncident(a: EngineSignal, b: EngineSignal): IncidentMatch | undefined {
  const x = a.indicators ?? {};
  const y = b.indicators ?? {};
  if (x.sha256 && y.sha256 && x.sha256.toLowerCase() === y.sha256.toLowerCase()) return 'sha256';
  const techniques = new Set((a.techniques ?? []).map(techniqueKey).filter(Boolean));
  if (!(b.techniques ?? []).some(t => techniques.has(techniqueKey(t)))) return undefined;
  if (x.commandLine && y.commandLine) return commandKey(x.commandLine) === commandKey(y.commandLine) ? 'technique+process' : undefined;
  if (x.processName && y.processName && processKey(x.processName) === processKey(y.processName)) return 'technique+process';
  return undefined;
}

/**
 * Groups signals into incidents (DESIGN "One incident, several vendors"): in
 * order of `firstSeenAt` (then id), a signal joins the earliest incident on the
 * same host whose first signal began at most {@link INCIDENT_WINDOW_MS} before
 * it and one of whose signals it matches ({@link sameIncident}); the window is
 * never extended by later signals (not chained). Members are listed with the
 * highest contribution first (then by id); signals without a host, a time or
 * indicators are incidents of their own. Independent of the input order.
 */
export function groupIncidents<T extends Scored>(items: T[]): Array<{ members: T[]; matchedBy?: IncidentMatch }> {
  const alone: T[] = [];
  const candidates: Array<{ item: T; at: number }> = [];
  for (const item of items) {
    const at = parseTime(item.signal.firstSeenAt);
    const ind = item.signal.indicators;
    if (!item.signal.host || Number.isNaN(at) || !ind || !(ind.sha256 || ind.commandLine || ind.processName)) alone.push(item);
    else candidates.push({ item, at });
  }
  candidates.sort((a, b) => a.at - b.at || compareStrings(a.item.signal.id, b.item.signal.id));
  const open: Array<{ host: string; firstAt: number; members: T[]; matchedBy?: IncidentMatch }> = [];
  for (const { item, at } of candidates) {
    let joined = false;
    for (const g of open) {
      if (g.host !== item.signal.host || at - g.firstAt > INCIDENT_WINDOW_MS) continue;
      const match = g.members.map(m => sameIncident(m.signal, item.signal)).find(m => m !== undefined);
      if (!match) continue;
      g.members.push(item);
      if (g.matchedBy !== 'sha256') g.matchedBy = match;
      joined = true;
      break;
    }
    if (!joined) open.push({ host: item.signal.host!, firstAt: at, members: [item] });
  }
  const byContribution = (a: T, b: T) => b.s - a.s || compareStrings(a.signal.id, b.signal.id);
  return [
    ...alone.map(item => ({ members: [item] })),
    ...open.map(g => {
      const members = [...g.members].sort(byContribution);
      return g.members.length > 1 ? { members, matchedBy: g.matchedBy } : { members };
    }),
  ];
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
