import type { Severity, SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from './policy';
import { ScoreUnavailableError, levelFor, roundScore, scoreSignals, type EngineSignal } from './score';

const policy = compilePolicy(DEFAULT_POLICY_CONFIG);
const NOW = '2026-11-23T12:00:00.000Z';
const NOW_MS = Date.parse(NOW);
const HOUR = 3600000;
const ago = (ms: number) => new Date(NOW_MS - ms).toISOString();

let seq = 0;
function sig(
  severity: Severity,
  opts: { confidence?: number; status?: SignalStatus; ageMs?: number; id?: string; lastSeenAt?: string } = {},
): EngineSignal {
  seq += 1;
  return {
    id: opts.id ?? `file:s${String(seq).padStart(3, '0')}`,
    source: 'file',
    severity,
    confidence: opts.confidence ?? 1,
    status: opts.status ?? 'active',
    lastSeenAt: opts.lastSeenAt ?? ago(opts.ageMs ?? 0),
    title: `${severity} detection`,
  };
}

describe('scoreSignals', () => {
  it.each<[string, EngineSignal[], number, number]>([
    ['no signals', [], 0, 0],
    ['one fresh critical, confidence 1', [sig('critical')], 100, 1],
    ['two fresh medium', [sig('medium'), sig('medium')], 57.8, 2],
    ['one fresh medium', [sig('medium')], 35, 1],
    ['medium at exactly one half-life (24h)', [sig('medium', { ageMs: 24 * HOUR })], 17.5, 1],
    ['medium at two half-lives (48h)', [sig('medium', { ageMs: 48 * HOUR })], 8.8, 1],
    ['critical at exactly one half-life (7d)', [sig('critical', { ageMs: 7 * 24 * HOUR })], 50, 1],
    ['high at one half-life with confidence 0.5', [sig('high', { ageMs: 72 * HOUR, confidence: 0.5 })], 17.5, 1],
    ['low at one half-life (12h)', [sig('low', { ageMs: 12 * HOUR })], 5, 1],
    ['confidence 0', [sig('critical', { confidence: 0 })], 0, 0],
    ['informational (weight 0)', [sig('informational')], 0, 0],
    ['resolved is ignored', [sig('critical', { status: 'resolved' })], 0, 0],
    ['false_positive is ignored', [sig('critical', { status: 'false_positive' })], 0, 0],
    ['resolved next to an active medium', [sig('critical', { status: 'resolved' }), sig('medium')], 35, 1],
    ['lastSeenAt in the future is clamped to age 0', [sig('medium', { ageMs: -5 * HOUR })], 35, 1],
    ['critical 0.9 + fresh low saturate', [sig('critical', { confidence: 0.9 }), sig('low')], 91, 2],
    ['three fresh high', [sig('high'), sig('high'), sig('high')], 97.3, 3],
  ])('%s', (_name, signals, score, contributing) => {
    const result = scoreSignals(signals, policy, NOW);
    expect(result.score).toBe(score);
    expect(result.contributions).toHaveLength(contributing);
  });

  it('decay at exactly one half-life halves the contribution', () => {
    for (const severity of ['low', 'medium', 'high', 'critical'] as const) {
      const fresh = scoreSignals([sig(severity, { id: 'x' })], policy, NOW).contributions[0].score;
      const half = scoreSignals([sig(severity, { id: 'x', ageMs: policy.halfLifeMs[severity] })], policy, NOW)
        .contributions[0].score;
      expect(half).toBeCloseTo(fresh / 2, 6);
    }
  });

  it('lists contributions by score, then id, whatever the input order', () => {
    const a = sig('medium', { id: 'b:2' });
    const b = sig('critical', { id: 'z:1' });
    const c = sig('medium', { id: 'a:1' });
    const r1 = scoreSignals([a, b, c], policy, NOW);
    const r2 = scoreSignals([c, b, a], policy, NOW);
    expect(r1).toEqual(r2);
    expect(r1.contributions.map(x => x.signalId)).toEqual(['z:1', 'a:1', 'b:2']);
    expect(r1.contributions[0].score).toBe(100);
  });

  it('counts a duplicated signal id once, at its newest lastSeenAt', () => {
    const older = sig('medium', { id: 'dup', ageMs: 24 * HOUR });
    const newer = sig('medium', { id: 'dup' });
    expect(scoreSignals([older, newer], policy, NOW)).toEqual({
      score: 35,
      contributions: [{ signalId: 'dup', score: 35 }],
    });
    expect(scoreSignals([newer, older], policy, NOW).score).toBe(35);
  });

  it.each<[string, EngineSignal, RegExp]>([
    ['invalid lastSeenAt', sig('high', { lastSeenAt: 'yesterday-ish' }), /lastSeenAt/],
    ['empty lastSeenAt', sig('high', { lastSeenAt: '' }), /lastSeenAt/],
    ['NaN confidence', sig('high', { confidence: NaN }), /confidence/],
    ['confidence above 1', sig('high', { confidence: 1.5 }), /confidence/],
    ['unknown severity', { ...sig('high'), severity: 'severe' as Severity }, /severity/],
  ])('throws ScoreUnavailableError for %s', (_name, signal, message) => {
    expect(() => scoreSignals([signal], policy, NOW)).toThrow(ScoreUnavailableError);
    expect(() => scoreSignals([signal], policy, NOW)).toThrow(message);
  });

  it('ignores bad data on signals that are not active', () => {
    const bad = sig('high', { lastSeenAt: 'garbage', status: 'resolved' });
    expect(scoreSignals([bad], policy, NOW).score).toBe(0);
  });

  it('throws for an invalid evaluation time', () => {
    expect(() => scoreSignals([sig('low')], policy, 'not a time')).toThrow(ScoreUnavailableError);
  });

  it('uses the policy weights', () => {
    const custom = compilePolicy({ ...DEFAULT_POLICY_CONFIG, scoring: { severityWeights: { medium: 50 } } });
    expect(scoreSignals([sig('medium')], custom, NOW).score).toBe(50);
  });
});

describe('roundScore', () => {
  it.each([
    [57.74999999999999, 57.8],
    [57.749, 57.7],
    [8.75, 8.8],
    [0.04, 0],
    [99.99, 100],
  ])('%d -> %d', (input, output) => {
    expect(roundScore(input)).toBe(output);
  });
});

describe('levelFor', () => {
  it.each<[string, number, string]>([
    ['production', 0, 'low'],
    ['production', 29.9, 'low'],
    ['production', 30, 'moderate'],
    ['production', 69.9, 'moderate'],
    ['production', 70, 'high'],
    ['production', 100, 'high'],
    ['staging', 49.9, 'low'],
    ['staging', 50, 'moderate'],
    ['staging', 84.9, 'moderate'],
    ['staging', 85, 'high'],
  ])('%s score %d is %s', (env, score, level) => {
    expect(levelFor(score, policy.environments[env])).toBe(level);
  });
});
