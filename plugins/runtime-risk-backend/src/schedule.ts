import type { Config } from '@backstage/config';
import { readDurationFromConfig } from '@backstage/config';
import type { HumanDuration } from '@backstage/types';
import type { SchedulerServiceTaskScheduleDefinition } from '@backstage/backend-plugin-api';
import { durationToMs } from '@runtime-risk/backstage-plugin-runtime-risk-common';

type Frequency = SchedulerServiceTaskScheduleDefinition['frequency'];
type Timeout = SchedulerServiceTaskScheduleDefinition['timeout'];

/** Reads an optional duration key; throws naming the key when it is malformed. */
export function readOptionalDuration(config: Config, key: string, fallback: HumanDuration): HumanDuration {
  if (!config.has(key)) return fallback;
  try {
    return readDurationFromConfig(config, { key });
  } catch (e) {
    throw new Error(`Invalid config at ${key}: ${(e as Error).message}`);
  }
}

/** Milliseconds of a schedule frequency, undefined for cron or manual triggers. */
export function frequencyToMs(frequency: Frequency | Timeout): number | undefined {
  if (!frequency || typeof frequency !== 'object') return undefined;
  if ('cron' in frequency || 'trigger' in frequency) return undefined;
  if ('toMillis' in frequency && typeof frequency.toMillis === 'function') return frequency.toMillis();
  return durationToMs(frequency as HumanDuration);
}

/** The ingestion and correlation schedules of `runtimeRisk.*` (DESIGN "Configuration"). */
export interface RuntimeRiskSchedules {
  ingestion: { frequency: HumanDuration; timeout: HumanDuration };
  correlation: { frequency: HumanDuration; timeout: HumanDuration };
  /** The sweep of exceptions (expiry, revocation) and pending decisions (approval expiry). */
  exceptions: { frequency: HumanDuration };
  /** Publication of the audit log's head as an auditor event (`runtimeRisk.audit.headFrequency`). */
  auditHead: { frequency: HumanDuration };
}

export function readSchedules(config: Config): RuntimeRiskSchedules {
  return {
    ingestion: {
      frequency: readOptionalDuration(config, 'runtimeRisk.ingestion.frequency', { seconds: 30 }),
      timeout: readOptionalDuration(config, 'runtimeRisk.ingestion.timeout', { minutes: 2 }),
    },
    correlation: {
      frequency: readOptionalDuration(config, 'runtimeRisk.correlation.frequency', { minutes: 5 }),
      timeout: readOptionalDuration(config, 'runtimeRisk.correlation.timeout', { minutes: 5 }),
    },
    exceptions: {
      frequency: readOptionalDuration(config, 'runtimeRisk.exceptions.frequency', { minutes: 1 }),
    },
    auditHead: {
      frequency: readOptionalDuration(config, 'runtimeRisk.audit.headFrequency', { hours: 1 }),
    },
  };
}

/** `runtimeRisk.cache`: gate inputs cached through the cache service (docs/performance.md "Caching"). */
export interface RuntimeRiskCacheConfig {
  enabled: boolean;
  ttlMs: number;
}

export function readCacheConfig(config: Config): RuntimeRiskCacheConfig {
  let enabled = true;
  try {
    enabled = config.getOptionalBoolean('runtimeRisk.cache.enabled') ?? true;
  } catch (e) {
    throw new Error(`Invalid config at runtimeRisk.cache.enabled: ${(e as Error).message}`);
  }
  const ttlMs = durationToMs(readOptionalDuration(config, 'runtimeRisk.cache.ttl', { minutes: 10 }));
  if (!(ttlMs > 0)) throw new Error('Invalid config at runtimeRisk.cache.ttl: must be longer than 0');
  return { enabled, ttlMs };
}

/** Default of `runtimeRisk.coverage.window` (DESIGN "Coverage"). */
export const DEFAULT_COVERAGE_WINDOW: HumanDuration = { days: 7 };

/**
 * `runtimeRisk.coverage.window` in ms: how long a source's report of a host (a
 * signal on it) counts as the source covering that host. Throws naming the key
 * when malformed or not positive.
 */
export function readCoverageWindowMs(config: Config): number {
  const key = 'runtimeRisk.coverage.window';
  const ms = durationToMs(readOptionalDuration(config, key, DEFAULT_COVERAGE_WINDOW));
  if (!(ms > 0)) throw new Error(`Invalid config at ${key}: must be longer than zero`);
  return ms;
}

/** `runtimeRisk.history`: score snapshots for the "Risk over time" chart (gate/ScoreHistory). */
export interface RuntimeRiskHistoryConfig {
  /** How often every entity's score is evaluated and a changed one stored (default 5 minutes, at most 30). */
  frequency: HumanDuration;
  frequencyMs: number;
  /** How long snapshots are kept (default 30 days). */
  retentionMs: number;
}

/** Reads `runtimeRisk.history.frequency` and `.retention`; throws naming the key when malformed. */
export function readHistoryConfig(config: Config): RuntimeRiskHistoryConfig {
  const frequency = readOptionalDuration(config, 'runtimeRisk.history.frequency', { minutes: 5 });
  const frequencyMs = durationToMs(frequency);
  if (!(frequencyMs > 0) || frequencyMs > 30 * 60_000) {
    // an hourly point needs a run at least every half hour
    throw new Error('Invalid config at runtimeRisk.history.frequency: must be longer than zero and at most 30 minutes');
  }
  const retentionMs = durationToMs(readOptionalDuration(config, 'runtimeRisk.history.retention', { days: 30 }));
  if (!(retentionMs >= 3600_000)) throw new Error('Invalid config at runtimeRisk.history.retention: must be at least an hour');
  return { frequency, frequencyMs, retentionMs };
}
