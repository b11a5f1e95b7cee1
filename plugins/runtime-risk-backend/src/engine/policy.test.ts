import { ConfigReader } from '@backstage/config';
import { DEFAULT_HALF_LIFE, DEFAULT_SEVERITY_WEIGHTS, durationToMs } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG, compilePolicy, policyCanonicalJson, readPolicyConfig } from './policy';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function clone(): { [k: string]: Json } {
  return JSON.parse(JSON.stringify(DEFAULT_POLICY_CONFIG));
}

/** Same content, every object's keys in reverse order. */
function reverseKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v).reverse()) out[k] = reverseKeys(v[k]);
    return out;
  }
  return v;
}

function at(obj: { [k: string]: Json }, path: string[]): { [k: string]: Json } {
  let cur = obj;
  for (const p of path) cur = cur[p] as { [k: string]: Json };
  return cur;
}

describe('compilePolicy', () => {
  it('compiles the default policy with scoring defaults filled in', () => {
    const p = compilePolicy(DEFAULT_POLICY_CONFIG);
    expect(p.id).toBe('default');
    expect(Object.keys(p.environments).sort()).toEqual(['production', 'staging']);
    expect(p.weights).toEqual({ ...DEFAULT_SEVERITY_WEIGHTS });
    expect(p.halfLifeMs.critical).toBe(7 * 86400000);
    expect(p.halfLifeMs.medium).toBe(24 * 3600000);
    // informational is not in the example's halfLife block: the common default fills it
    expect(p.halfLifeMs.informational).toBe(durationToMs(DEFAULT_HALF_LIFE.informational));
    expect(p.maxSignalAgeMs).toEqual({ production: 15 * 60000, staging: 3600000 });
    expect(p.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fills defaults when scoring is absent and the id is missing', () => {
    const cfg = clone();
    delete cfg.scoring;
    delete cfg.id;
    const p = compilePolicy(cfg);
    expect(p.id).toBe('default');
    expect(p.weights).toEqual({ ...DEFAULT_SEVERITY_WEIGHTS });
    // scoring block of the example equals the defaults, so the normalized policy and hash are equal too
    expect(p.hash).toBe(compilePolicy(DEFAULT_POLICY_CONFIG).hash);
  });

  it('uses configured weights and half-lives', () => {
    const cfg = clone();
    cfg.scoring = { severityWeights: { medium: 40 }, halfLife: { medium: { hours: 6 } } };
    const p = compilePolicy(cfg);
    expect(p.weights.medium).toBe(40);
    expect(p.weights.high).toBe(70);
    expect(p.halfLifeMs.medium).toBe(6 * 3600000);
  });

  it('hash is stable across key order of the input', () => {
    const a = compilePolicy(clone());
    const b = compilePolicy(reverseKeys(clone()));
    expect(b.hash).toBe(a.hash);
    expect(Object.keys(at(clone(), ['environments']))).not.toEqual(
      Object.keys(at(reverseKeys(clone()) as { [k: string]: Json }, ['environments'])),
    );
  });

  it('hash treats equal durations alike ({ hours: 1 } = { minutes: 60 })', () => {
    const cfg = clone();
    at(cfg, ['environments', 'staging']).maxSignalAge = { minutes: 60 };
    expect(compilePolicy(cfg).hash).toBe(compilePolicy(DEFAULT_POLICY_CONFIG).hash);
  });

  it.each<[string, (cfg: { [k: string]: Json }) => void]>([
    ['a threshold', c => (at(c, ['environments', 'production', 'thresholds']).high = 71)],
    ['an action', c => (at(c, ['environments', 'staging', 'actions']).moderate = 'approval_required')],
    ['a failure action', c => (at(c, ['environments', 'staging', 'onFailure']).uncorrelated = 'block')],
    ['maxSignalAge', c => (at(c, ['environments', 'production']).maxSignalAge = { minutes: 16 })],
    ['the policy id', c => (c.id = 'other')],
    ['a weight', c => (at(c, ['scoring', 'severityWeights']).low = 11)],
    ['a half-life', c => (at(c, ['scoring', 'halfLife']).critical = { days: 6 })],
    ['an environment name', c => {
      const envs = at(c, ['environments']);
      envs.prod = envs.production;
      delete envs.production;
    }],
  ])('hash changes when %s changes', (_name, mutate) => {
    const cfg = clone();
    mutate(cfg);
    expect(compilePolicy(cfg).hash).not.toBe(compilePolicy(DEFAULT_POLICY_CONFIG).hash);
  });

  it.each<[string, (cfg: { [k: string]: Json }) => void, string, RegExp?]>([
    [
      'threshold above 100',
      c => (at(c, ['environments', 'production', 'thresholds']).high = 150),
      'runtimeRisk.policy.environments.production.thresholds.high',
      /100/,
    ],
    [
      'unknown environment action value',
      c => (at(c, ['environments', 'production', 'actions']).moderate = 'maybe'),
      'runtimeRisk.policy.environments.production.actions.moderate',
      /proceed|approval_required|block/,
    ],
    [
      'unknown failure action value',
      c => (at(c, ['environments', 'staging', 'onFailure']).signalsStale = 'proceed'),
      'runtimeRisk.policy.environments.staging.onFailure.signalsStale',
    ],
    [
      'moderate > high',
      c => Object.assign(at(c, ['environments', 'staging', 'thresholds']), { moderate: 90, high: 80 }),
      'runtimeRisk.policy.environments.staging.thresholds.moderate',
      /moderate must be <= high/,
    ],
    [
      'missing onFailure key',
      c => delete at(c, ['environments', 'production', 'onFailure']).scoreUnavailable,
      'runtimeRisk.policy.environments.production.onFailure.scoreUnavailable',
      /missing/,
    ],
    [
      'unknown extra key in an environment',
      c => (at(c, ['environments', 'production']).colour = 'red'),
      'runtimeRisk.policy.environments.production.colour',
      /unknown key/,
    ],
    [
      'unknown extra top-level key',
      c => (c.extra = true),
      'runtimeRisk.policy.extra',
      /unknown key/,
    ],
    [
      'a maxSignalAge with a bad unit',
      c => (at(c, ['environments', 'production']).maxSignalAge = { minutez: 15 }),
      'runtimeRisk.policy.environments.production.maxSignalAge.minutez',
    ],
    [
      'a weight above 100',
      c => (at(c, ['scoring', 'severityWeights']).high = 101),
      'runtimeRisk.policy.scoring.severityWeights.high',
    ],
    [
      'a zero half-life',
      c => (at(c, ['scoring', 'halfLife']).low = { hours: 0 }),
      'runtimeRisk.policy.scoring.halfLife.low',
      /longer than 0/,
    ],
    [
      'no environments',
      c => (c.environments = {}),
      'runtimeRisk.policy.environments',
    ],
  ])('rejects %s naming the key', (_name, mutate, key, message) => {
    const cfg = clone();
    mutate(cfg);
    let error: unknown;
    try {
      compilePolicy(cfg);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const text = (error as Error).message;
    expect(text).toContain(`Invalid config at ${key}:`);
    if (message) expect(text).toMatch(message);
  });

  it('rejects a non-object naming the prefix, and honours a custom prefix', () => {
    expect(() => compilePolicy('nope')).toThrow(/^Invalid config at runtimeRisk\.policy: /);
    const cfg = clone();
    at(cfg, ['environments', 'production', 'thresholds']).high = -1;
    expect(() => compilePolicy(cfg, 'my.policy')).toThrow(
      /Invalid config at my\.policy\.environments\.production\.thresholds\.high: /,
    );
  });
});

describe('readPolicyConfig', () => {
  it('falls back to the default policy', () => {
    const p = readPolicyConfig(new ConfigReader({}));
    expect(p).toEqual(compilePolicy(DEFAULT_POLICY_CONFIG));
  });

  it('reads runtimeRisk.policy', () => {
    const cfg = clone();
    cfg.id = 'strict';
    at(cfg, ['environments', 'production', 'thresholds']).high = 60;
    const p = readPolicyConfig(new ConfigReader({ runtimeRisk: { policy: cfg } }));
    expect(p.id).toBe('strict');
    expect(p.environments.production.thresholds.high).toBe(60);
    expect(p.hash).not.toBe(compilePolicy(DEFAULT_POLICY_CONFIG).hash);
  });

  it('fails naming the key for bad config', () => {
    const cfg = clone();
    at(cfg, ['environments', 'production', 'actions']).high = 'stop';
    expect(() => readPolicyConfig(new ConfigReader({ runtimeRisk: { policy: cfg } }))).toThrow(
      'Invalid config at runtimeRisk.policy.environments.production.actions.high',
    );
  });
});

describe('policyCanonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(policyCanonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}',
    );
  });
  it('refuses non-finite numbers', () => {
    expect(() => policyCanonicalJson({ a: NaN })).toThrow(/non-finite/);
  });
});
