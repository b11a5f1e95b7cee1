import type { EngineSource } from './evaluate';
import { parseTime } from './score';

/*
 * Freshness of one source as the engine judges it (DESIGN "Freshness"), shared
 * by the entity's source health (staleness per environment) so that a source
 * shown as stale for an environment is exactly one the gate answers
 * `signals_stale` for there (evaluate.ts applies these very functions).
 */

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.round(h / 24)}d`;
}

/**
 * When a source's data is current as of (ms): the older of its last successful
 * sync and its own as-of time; NaN when it never synced.
 */
export function sourceDataAtMs(src: Pick<EngineSource, 'lastSuccessAt' | 'asOf'>): number {
  const success = parseTime(src.lastSuccessAt);
  const asOf = parseTime(src.asOf ?? null);
  return !Number.isNaN(success) && !Number.isNaN(asOf) ? Math.min(success, asOf) : success;
}

/**
 * Why a source's signals are stale for an environment whose `maxSignalAge` is
 * `maxAgeMs`, or undefined when they are not (DESIGN "Freshness", "Coverage"):
 * a pull source with no successful sync or data older than the maximum; a push
 * source only when it missed its heartbeat (whatever the environment).
 */
export function sourceStaleness(src: EngineSource, nowMs: number, maxAgeMs: number, environment: string): string | undefined {
  const success = parseTime(src.lastSuccessAt);
  const effective = sourceDataAtMs(src);
  if (src.push) {
    if (src.heartbeatMs === undefined) return undefined;
    const quiet = Number.isNaN(success) ? Infinity : nowMs - success;
    if (quiet <= src.heartbeatMs) return undefined;
    return (
      `Push source '${src.id}' missed its heartbeat: ` +
      (Number.isNaN(success) ? 'never heard from' : `last heard from ${src.lastSuccessAt}, ${formatAge(quiet)} ago`) +
      `, longer than its heartbeat of ${formatAge(src.heartbeatMs)}`
    );
  }
  if (Number.isNaN(success)) return `Signal source '${src.id}' has no successful sync`;
  if (nowMs - effective <= maxAgeMs) return undefined;
  const basis = effective < success ? `its data is as of ${src.asOf}` : `its last successful sync was ${src.lastSuccessAt}`;
  return (
    `Signals from source '${src.id}' are stale: ${basis}, ${formatAge(nowMs - effective)} ago, ` +
    `older than the ${environment} maximum of ${formatAge(maxAgeMs)}`
  );
}

/** The environments (sorted) whose `maxSignalAge` the source's data is older than, per {@link sourceStaleness}. */
export function staleEnvironments(src: EngineSource, nowMs: number, maxSignalAgeMs: Record<string, number>): string[] {
  return Object.keys(maxSignalAgeMs)
    .sort()
    .filter(env => sourceStaleness(src, nowMs, maxSignalAgeMs[env], env) !== undefined);
}
