import type { SourceHealth, SourceStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { SourceState } from '../store/types';

/** Consecutive failed syncs after which a source is `down`. */
export const DOWN_AFTER_FAILURES = 3;

/**
 * Status of a source per DESIGN "Freshness": `down` after 3 consecutive failed
 * syncs or no success for 3 x its frequency, `degraded` after one failure,
 * else `ok`. `frequencyMs` is undefined for push sources (no schedule to miss).
 */
export function sourceStatus(state: SourceState | undefined, nowMs: number, frequencyMs?: number): SourceStatus {
  if (!state) return 'ok';
  if (state.consecutiveFailures >= DOWN_AFTER_FAILURES) return 'down';
  if (frequencyMs !== undefined && state.lastSuccessAt) {
    const since = nowMs - Date.parse(state.lastSuccessAt);
    if (since > DOWN_AFTER_FAILURES * frequencyMs) return 'down';
  }
  if (state.consecutiveFailures >= 1) return 'degraded';
  return 'ok';
}

/** The `/v1/sources` item of a registered source. */
export function sourceHealth(options: {
  id: string;
  type: string;
  state: SourceState | undefined;
  nowMs: number;
  frequencyMs?: number;
}): SourceHealth {
  const { id, type, state, nowMs, frequencyMs } = options;
  const lastSuccessAt = state?.lastSuccessAt ?? null;
  // freshness is measured from the older of the sync time and the data's own as-of time
  const freshAt = [lastSuccessAt, state?.asOf ?? null]
    .filter((v): v is string => !!v)
    .map(v => Date.parse(v))
    .reduce<number | null>((min, v) => (min === null || v < min ? v : min), null);
  const health: SourceHealth = {
    id,
    type,
    status: sourceStatus(state, nowMs, frequencyMs),
    lastSuccessAt,
    lastAttemptAt: state?.lastAttemptAt ?? null,
    consecutiveFailures: state?.consecutiveFailures ?? 0,
    lagSeconds: freshAt === null ? null : Math.max(0, Math.round((nowMs - freshAt) / 1000)),
    cursor: state?.cursor ?? null,
  };
  if (state?.lastError) health.lastError = state.lastError;
  if (state) health.rejectedCount = state.rejectedCount;
  if (state?.lastRejectedReason) health.lastRejectedReason = state.lastRejectedReason;
  return health;
}
