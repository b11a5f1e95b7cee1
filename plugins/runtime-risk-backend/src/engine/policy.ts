import { createHash } from 'node:crypto';
import type { Config } from '@backstage/config';
import { canonicalJson } from '../lib/canonicalJson';
import {
  DEFAULT_HALF_LIFE,
  DEFAULT_SEVERITY_WEIGHTS,
  PolicyConfigSchema,
  SEVERITIES,
  durationToMs,
  type Duration,
  type EnvironmentPolicy,
  type PolicyConfig,
  type Severity,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Config key under which the policy lives. */
export const POLICY_CONFIG_KEY = 'runtimeRisk.policy';

/**
 * Version of the scoring algorithm. It is part of the policy hash so that a
 * change of the engine's arithmetic changes the hash that decisions record.
 */
export const ENGINE_ALGORITHM = 'runtime-risk/score-v1';

/** A validated policy with every default filled in, ready for {@link evaluate}. */
export interface CompiledPolicy {
  id: string;
  /** sha256 hex of the canonical JSON (sorted keys) of the normalized policy, scoring defaults included. */
  hash: string;
  environments: Record<string, EnvironmentPolicy>;
  weights: Record<Severity, number>;
  halfLifeMs: Record<Severity, number>;
  /** Per environment name. */
  maxSignalAgeMs: Record<string, number>;
}

/** The production + staging policy of DESIGN.md "Configuration"; used when config has no `runtimeRisk.policy`. */
export const DEFAULT_POLICY_CONFIG: PolicyConfig = {
  id: 'default',
  environments: {
    production: {
      thresholds: { moderate: 30, high: 70 },
      actions: { low: 'proceed', moderate: 'approval_required', high: 'block' },
      maxSignalAge: { minutes: 15 },
      onFailure: {
        sourceUnavailable: 'block',
        signalsStale: 'approval_required',
        uncorrelated: 'approval_required',
        scoreUnavailable: 'block',
      },
    },
    staging: {
      thresholds: { moderate: 50, high: 85 },
      actions: { low: 'proceed', moderate: 'proceed', high: 'approval_required' },
      maxSignalAge: { hours: 1 },
      onFailure: {
        sourceUnavailable: 'proceed_with_warning',
        signalsStale: 'proceed_with_warning',
        uncorrelated: 'proceed_with_warning',
        scoreUnavailable: 'proceed_with_warning',
      },
    },
  },
  scoring: {
    severityWeights: { informational: 0, low: 10, medium: 35, high: 70, critical: 100 },
    halfLife: { low: { hours: 12 }, medium: { hours: 24 }, high: { hours: 72 }, critical: { days: 7 } },
  },
};

/**
 * The canonical JSON the policy hash covers: {@link canonicalJson} (the backend's
 * one implementation, shared with the audit chain), refusing non-finite numbers,
 * which it would write as `null`.
 */
export function policyCanonicalJson(value: unknown): string {
  assertFinite(value);
  return canonicalJson(value);
}

function assertFinite(value: unknown): void {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new Error(`policyCanonicalJson: non-finite number ${value}`);
  }
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value as Record<string, unknown>)) assertFinite(v);
  }
}

function formatPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  return [prefix, ...path.map(p => String(p))].filter(p => p !== '').join('.');
}

function configError(messages: string[]): Error {
  return new Error(messages.join('; '));
}

/**
 * Validates a policy config (the value at `runtimeRisk.policy`) and compiles it.
 * Throws an Error whose message names the full config key of every problem, e.g.
 * `Invalid config at runtimeRisk.policy.environments.production.thresholds.high: ...`.
 */
export function compilePolicy(input: unknown, keyPrefix: string = POLICY_CONFIG_KEY): CompiledPolicy {
  const parsed = PolicyConfigSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const messages: string[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          messages.push(
            `Invalid config at ${formatPath(keyPrefix, [...issue.path, key])}: unknown key '${key}'`,
          );
        }
      } else if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
        messages.push(`Invalid config at ${formatPath(keyPrefix, issue.path)}: required key is missing (${issue.message})`);
      } else {
        messages.push(`Invalid config at ${formatPath(keyPrefix, issue.path)}: ${issue.message}`);
      }
    }
    throw configError(messages.length ? messages : [`Invalid config at ${keyPrefix}: ${parsed.error.message}`]);
  }
  const cfg = parsed.data;

  const weights = {} as Record<Severity, number>;
  const halfLifeMs = {} as Record<Severity, number>;
  const problems: string[] = [];
  for (const sev of SEVERITIES) {
    weights[sev] = cfg.scoring?.severityWeights?.[sev] ?? DEFAULT_SEVERITY_WEIGHTS[sev];
    const hl: Duration | undefined = cfg.scoring?.halfLife?.[sev] ?? DEFAULT_HALF_LIFE[sev];
    const ms = hl ? durationToMs(hl) : NaN;
    if (!Number.isFinite(ms) || ms <= 0) {
      problems.push(
        `Invalid config at ${formatPath(keyPrefix, ['scoring', 'halfLife', sev])}: half-life must be longer than 0`,
      );
    }
    halfLifeMs[sev] = ms;
  }
  if (problems.length) throw configError(problems);

  const envNames = Object.keys(cfg.environments).sort();
  const environments: Record<string, EnvironmentPolicy> = {};
  const maxSignalAgeMs: Record<string, number> = {};
  const hashedEnvironments: Record<string, unknown> = {};
  for (const name of envNames) {
    const env = cfg.environments[name];
    environments[name] = env;
    maxSignalAgeMs[name] = durationToMs(env.maxSignalAge);
    // Durations are hashed in milliseconds so that `{ hours: 1 }` and `{ minutes: 60 }` hash alike.
    hashedEnvironments[name] = {
      thresholds: env.thresholds,
      actions: env.actions,
      onFailure: env.onFailure,
      maxSignalAgeMs: maxSignalAgeMs[name],
      maxExceptionDurationMs: env.maxExceptionDuration ? durationToMs(env.maxExceptionDuration) : undefined,
      approvalTtlMs: env.approvalTtl ? durationToMs(env.approvalTtl) : undefined,
    };
  }

  const normalized = {
    algorithm: ENGINE_ALGORITHM,
    id: cfg.id,
    environments: hashedEnvironments,
    scoring: { weights, halfLifeMs },
  };
  const hash = createHash('sha256').update(policyCanonicalJson(normalized)).digest('hex');

  return { id: cfg.id, hash, environments, weights, halfLifeMs, maxSignalAgeMs };
}

/** The `runtimeRisk.policy` value of config, or {@link DEFAULT_POLICY_CONFIG}: the body the policy history stores. */
export function policyConfigValue(config: Config): unknown {
  return config.getOptional(POLICY_CONFIG_KEY) ?? DEFAULT_POLICY_CONFIG;
}

/** Reads `runtimeRisk.policy` from config (falling back to {@link DEFAULT_POLICY_CONFIG}) and compiles it. */
export function readPolicyConfig(config: Config): CompiledPolicy {
  return compilePolicy(policyConfigValue(config), POLICY_CONFIG_KEY);
}
