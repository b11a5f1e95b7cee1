import type { Decision, ReasonCode, RiskLevel, Severity, SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { ReasonSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { evaluate, type EngineException, type EngineSource, type EvaluationInput } from './evaluate';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from './policy';
import type { EngineSignal } from './score';

const policy = compilePolicy(DEFAULT_POLICY_CONFIG);
const NOW = '2026-11-23T12:00:00.000Z';
const NOW_MS = Date.parse(NOW);
const MIN = 60000;
const HOUR = 60 * MIN;
const ago = (ms: number) => new Date(NOW_MS - ms).toISOString();
const later = (ms: number) => new Date(NOW_MS + ms).toISOString();

function sig(
  id: string,
  severity: Severity,
  opts: { confidence?: number; status?: SignalStatus; ageMs?: number; lastSeenAt?: string } = {},
): EngineSignal {
  return {
    id,
    source: 'edr',
    severity,
    confidence: opts.confidence ?? 1,
    status: opts.status ?? 'active',
    lastSeenAt: opts.lastSeenAt ?? ago(opts.ageMs ?? 0),
    title: `Suspicious ${severity} thing ${id}`,
  };
}

const okSource = (id = 'edr', overrides: Partial<EngineSource> = {}): EngineSource => ({
  id,
  status: 'ok',
  lastSuccessAt: ago(MIN),
  ...overrides,
});

function input(overrides: Partial<EvaluationInput> = {}): EvaluationInput {
  return {
    entityRef: 'component:default/payments',
    environment: 'production',
    now: NOW,
    hosts: [{ id: 'web-01', matchedBy: 'annotation' }],
    correlationTried: ['annotation runtime-risk.io/hosts', 'dependsOn host resources', 'kubernetes labels'],
    signals: [],
    sources: [okSource()],
    ...overrides,
  };
}

const codes = (e: { reasons: Array<{ code: string }> }) => e.reasons.map(r => r.code);

describe('evaluate: signals', () => {
  it.each<[string, string, EngineSignal[], Decision, RiskLevel, number]>([
    ['no signals', 'production', [], 'proceed', 'low', 0],
    ['no signals', 'staging', [], 'proceed', 'low', 0],
    ['one fresh critical', 'production', [sig('edr:c1', 'critical')], 'block', 'high', 100],
    ['one fresh critical', 'staging', [sig('edr:c1', 'critical')], 'approval_required', 'high', 100],
    ['two fresh medium', 'production', [sig('edr:m1', 'medium'), sig('edr:m2', 'medium')], 'approval_required', 'moderate', 57.8],
    ['two fresh medium', 'staging', [sig('edr:m1', 'medium'), sig('edr:m2', 'medium')], 'proceed', 'moderate', 57.8],
    ['one fresh low', 'production', [sig('edr:l1', 'low')], 'proceed', 'low', 10],
    ['critical with confidence 0', 'production', [sig('edr:c1', 'critical', { confidence: 0 })], 'proceed', 'low', 0],
    ['resolved critical', 'production', [sig('edr:c1', 'critical', { status: 'resolved' })], 'proceed', 'low', 0],
    ['false-positive critical', 'production', [sig('edr:c1', 'critical', { status: 'false_positive' })], 'proceed', 'low', 0],
    ['critical decayed two half-lives (14d)', 'production', [sig('edr:c1', 'critical', { ageMs: 14 * 24 * HOUR })], 'proceed', 'low', 25],
  ])('%s in %s -> %s', (_name, environment, signals, decision, riskLevel, score) => {
    const e = evaluate(input({ environment, signals }), policy);
    expect(e.decision).toBe(decision);
    expect(e.riskLevel).toBe(riskLevel);
    expect(e.score).toBe(score);
    expect(e.failureModes).toEqual([]);
    expect(e.signals.stale).toBe(false);
    expect(e.signals.freshAt).toBe(ago(MIN));
    expect(e.policy).toEqual({ id: 'default', hash: policy.hash });
    expect(e.wouldHaveBeen).toBeUndefined();
    if (score === 0) {
      expect(codes(e)).toEqual(['no_active_signals']);
    } else {
      expect(codes(e).every(c => c === 'signal_active')).toBe(true);
      expect(e.reasons.flatMap(r => r.signalIds).sort()).toEqual(e.contributions.map(c => c.signalId).sort());
    }
    // every reason is valid against the shared schema
    for (const r of e.reasons) expect(ReasonSchema.parse(r)).toEqual(r);
  });

  it('names severity, title and id in the signal_active reason', () => {
    const e = evaluate(input({ signals: [sig('edr:c1', 'critical')] }), policy);
    expect(e.reasons).toHaveLength(1);
    expect(e.reasons[0]).toMatchObject({ code: 'signal_active', signalIds: ['edr:c1'], source: 'edr' });
    expect(e.reasons[0].message).toContain('critical');
    expect(e.reasons[0].message).toContain('Suspicious critical thing edr:c1');
    expect(e.contributions).toEqual([{ signalId: 'edr:c1', score: 100 }]);
  });

  it('counts only active correlated signals', () => {
    const e = evaluate(
      input({ signals: [sig('a', 'low'), sig('b', 'high', { status: 'resolved' }), sig('c', 'informational')] }),
      policy,
    );
    expect(e.signals.count).toBe(2);
    // informational is active but contributes nothing
    expect(e.contributions.map(c => c.signalId)).toEqual(['a']);
  });

  it('throws InputError naming environment for an unknown environment', () => {
    let error: unknown;
    try {
      evaluate(input({ environment: 'qa' }), policy);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('InputError');
    expect((error as Error).message).toMatch(/environment 'qa'/);
    expect((error as Error).message).toContain('production, staging');
  });

  it('does not treat inherited object keys as environments', () => {
    expect(() => evaluate(input({ environment: 'toString' }), policy)).toThrow(/environment/);
  });
});

describe('evaluate: failure modes', () => {
  type Case = [
    mode: string,
    environment: string,
    overrides: Partial<EvaluationInput>,
    decision: Decision,
    code: ReasonCode,
    riskLevel: RiskLevel,
    mention: string,
  ];
  const down: Partial<EvaluationInput> = { sources: [okSource('edr', { status: 'down' })] };
  const none: Partial<EvaluationInput> = { sources: [] };
  const staleSync: Partial<EvaluationInput> = { sources: [okSource('edr', { lastSuccessAt: ago(2 * HOUR) })] };
  const staleAsOf: Partial<EvaluationInput> = { sources: [okSource('edr', { asOf: ago(2 * HOUR) })] };
  const neverSynced: Partial<EvaluationInput> = { sources: [okSource('edr', { lastSuccessAt: null })] };
  const uncorrelated: Partial<EvaluationInput> = { hosts: [], sources: [] };
  const badSignal: Partial<EvaluationInput> = { signals: [sig('edr:x', 'high', { lastSeenAt: 'not-a-date' })] };
  const nanSignal: Partial<EvaluationInput> = { signals: [sig('edr:x', 'high', { confidence: NaN })] };

  it.each<Case>([
    ['sourceUnavailable (down)', 'production', down, 'block', 'source_unavailable', 'low', 'edr'],
    ['sourceUnavailable (down)', 'staging', down, 'proceed', 'source_unavailable', 'low', 'edr'],
    ['sourceUnavailable (no source)', 'production', none, 'block', 'source_unavailable', 'low', 'no source'],
    ['sourceUnavailable (no source)', 'staging', none, 'proceed', 'source_unavailable', 'low', 'no source'],
    ['signalsStale (last sync 2h ago)', 'production', staleSync, 'approval_required', 'signals_stale', 'low', 'edr'],
    ['signalsStale (last sync 2h ago)', 'staging', staleSync, 'proceed', 'signals_stale', 'low', 'edr'],
    ['signalsStale (asOf 2h ago)', 'production', staleAsOf, 'approval_required', 'signals_stale', 'low', 'edr'],
    ['signalsStale (asOf 2h ago)', 'staging', staleAsOf, 'proceed', 'signals_stale', 'low', 'edr'],
    ['signalsStale (never synced)', 'production', neverSynced, 'approval_required', 'signals_stale', 'low', 'edr'],
    ['uncorrelated', 'production', uncorrelated, 'approval_required', 'uncorrelated', 'unknown', 'kubernetes labels'],
    ['uncorrelated', 'staging', uncorrelated, 'proceed', 'uncorrelated', 'unknown', 'annotation runtime-risk.io/hosts'],
    ['scoreUnavailable (bad date)', 'production', badSignal, 'block', 'score_unavailable', 'unknown', 'not-a-date'],
    ['scoreUnavailable (bad date)', 'staging', badSignal, 'proceed', 'score_unavailable', 'unknown', 'edr:x'],
    ['scoreUnavailable (NaN confidence)', 'production', nanSignal, 'block', 'score_unavailable', 'unknown', 'confidence'],
  ])('%s in %s -> %s', (_mode, environment, overrides, decision, code, riskLevel, mention) => {
    const e = evaluate(input({ environment, ...overrides }), policy);
    expect(e.decision).toBe(decision);
    expect(e.riskLevel).toBe(riskLevel);
    if (riskLevel === 'unknown') expect(e.score).toBeNull();
    else expect(e.score).toBe(0);
    const reason = e.reasons.find(r => r.code === code);
    expect(reason).toBeDefined();
    expect(reason!.message).toContain(mention);
    expect(e.failureModes.length).toBeGreaterThan(0);
    // proceed_with_warning keeps the failure reason and says so
    if (environment === 'staging') expect(reason!.message).toContain('proceed with warning');
  });

  it('names the source in source_unavailable and signals_stale reasons', () => {
    const e = evaluate(
      input({
        sources: [okSource('alpha', { status: 'down' }), okSource('beta', { lastSuccessAt: ago(20 * MIN) }), okSource('gamma')],
      }),
      policy,
    );
    expect(e.reasons.filter(r => r.code === 'source_unavailable').map(r => r.source)).toEqual(['alpha']);
    expect(e.reasons.filter(r => r.code === 'signals_stale').map(r => r.source)).toEqual(['beta']);
    expect(e.signals.stale).toBe(true);
    expect(e.signals.freshAt).toBe(ago(MIN));
    expect(e.failureModes.map(f => f.mode)).toEqual(['sourceUnavailable', 'signalsStale']);
    expect(e.decision).toBe('block');
  });

  it('uses the older of lastSuccessAt and asOf for freshness', () => {
    const e = evaluate(input({ sources: [okSource('edr', { asOf: ago(20 * MIN) })] }), policy);
    expect(e.signals.freshAt).toBe(ago(20 * MIN));
    expect(e.signals.stale).toBe(true);
    const fresh = evaluate(input({ sources: [okSource('edr', { asOf: ago(5 * MIN) })] }), policy);
    expect(fresh.signals).toEqual({ count: 0, freshAt: ago(5 * MIN), stale: false });
    expect(fresh.decision).toBe('proceed');
    // asOf newer than the sync does not make data fresher than the sync
    const newer = evaluate(input({ sources: [okSource('edr', { lastSuccessAt: ago(20 * MIN), asOf: ago(0) })] }), policy);
    expect(newer.signals.freshAt).toBe(ago(20 * MIN));
    expect(newer.signals.stale).toBe(true);
  });

  it('is not stale at exactly maxSignalAge', () => {
    const e = evaluate(input({ sources: [okSource('edr', { lastSuccessAt: ago(15 * MIN) })] }), policy);
    expect(e.signals.stale).toBe(false);
    const over = evaluate(input({ sources: [okSource('edr', { lastSuccessAt: ago(15 * MIN + 1) })] }), policy);
    expect(over.signals.stale).toBe(true);
  });

  it('treats a degraded source with a recent sync as fine', () => {
    const e = evaluate(input({ sources: [okSource('edr', { status: 'degraded' })] }), policy);
    expect(e.decision).toBe('proceed');
    expect(e.failureModes).toEqual([]);
  });

  it('uses the newest source time for freshAt', () => {
    const e = evaluate(input({ sources: [okSource('a', { lastSuccessAt: ago(10 * MIN) }), okSource('b', { lastSuccessAt: ago(2 * MIN) })] }), policy);
    expect(e.signals.freshAt).toBe(ago(2 * MIN));
  });

  it('reports uncorrelated with unknown level and what was tried', () => {
    const e = evaluate(input({ hosts: [], sources: [], correlationTried: ['annotation', 'inventory file'] }), policy);
    expect(e).toMatchObject({
      decision: 'approval_required',
      riskLevel: 'unknown',
      score: null,
      signals: { count: 0, freshAt: null, stale: false },
      contributions: [],
    });
    expect(codes(e)).toEqual(['uncorrelated']);
    expect(e.reasons[0].message).toContain('annotation, inventory file');
    expect(e.reasons[0].message).toContain('component:default/payments');
  });

  it.each<[string, string, Partial<EvaluationInput>, Decision]>([
    // signals alone block; the failure mode would only ask for approval or proceed
    ['critical + stale', 'production', { signals: [sig('c', 'critical')], sources: [okSource('edr', { lastSuccessAt: ago(HOUR) })] }, 'block'],
    ['critical + down (warning only)', 'staging', { signals: [sig('c', 'critical')], sources: [okSource('edr', { status: 'down' })] }, 'approval_required'],
    ['critical + stale (warning only)', 'staging', { signals: [sig('c', 'critical')], sources: [okSource('edr', { lastSuccessAt: ago(2 * HOUR) })] }, 'approval_required'],
    // the failure mode is stricter than the signals: strictest wins
    ['moderate + down', 'production', { signals: [sig('m1', 'medium'), sig('m2', 'medium')], sources: [okSource('edr', { status: 'down' })] }, 'block'],
    ['low + stale', 'production', { signals: [sig('l', 'low')], sources: [okSource('edr', { lastSuccessAt: ago(HOUR) })] }, 'approval_required'],
  ])('a failure mode never lowers the decision: %s in %s -> %s', (_name, environment, overrides, decision) => {
    const e = evaluate(input({ environment, ...overrides }), policy);
    expect(e.decision).toBe(decision);
    expect(e.failureModes.length).toBeGreaterThan(0);
    expect(codes(e)).toContain('signal_active');
  });
});

describe('evaluate: exceptions', () => {
  const critical = [sig('edr:c1', 'critical')];
  type Case = [string, Partial<EvaluationInput>, EngineException[], boolean];
  const cases: Case[] = [
    ['unexpired, unscoped', { signals: critical }, [{ id: 'ex-1', expiresAt: later(HOUR) }], true],
    ['expired', { signals: critical }, [{ id: 'ex-1', expiresAt: ago(1) }], false],
    ['expiring exactly now', { signals: critical }, [{ id: 'ex-1', expiresAt: NOW }], false],
    ['maxLevel exceeded', { signals: critical }, [{ id: 'ex-1', expiresAt: later(HOUR), maxLevel: 'moderate' }], false],
    ['maxLevel equal', { signals: critical }, [{ id: 'ex-1', expiresAt: later(HOUR), maxLevel: 'high' }], true],
    ['signal not in signalIds', { signals: critical }, [{ id: 'ex-1', expiresAt: later(HOUR), signalIds: ['edr:other'] }], false],
    ['signal in signalIds', { signals: critical }, [{ id: 'ex-1', expiresAt: later(HOUR), signalIds: ['edr:c1', 'edr:x'] }], true],
    [
      'one of two contributing signals not in signalIds',
      { signals: [...critical, sig('edr:m1', 'medium')] },
      [{ id: 'ex-1', expiresAt: later(HOUR), signalIds: ['edr:c1'] }],
      false,
    ],
    ['unknown level, maxLevel unset', { hosts: [], sources: [] }, [{ id: 'ex-1', expiresAt: later(HOUR) }], true],
    ['unknown level, maxLevel set', { hosts: [], sources: [] }, [{ id: 'ex-1', expiresAt: later(HOUR), maxLevel: 'high' }], false],
    ['source down, unscoped', { sources: [okSource('edr', { status: 'down' })] }, [{ id: 'ex-1', expiresAt: later(HOUR) }], true],
  ];

  it.each(cases)('%s -> applied: %s', (_name, overrides, exceptions, applied) => {
    const without = evaluate(input(overrides), policy);
    expect(without.decision).not.toBe('proceed');
    const e = evaluate(input({ ...overrides, exceptions }), policy);
    if (applied) {
      expect(e.decision).toBe('proceed');
      expect(e.exception).toEqual({ id: 'ex-1', expiresAt: exceptions[0].expiresAt });
      const reason = e.reasons.find(r => r.code === 'exception_applied');
      expect(reason?.message).toContain('ex-1');
      // the other reasons stay, and the risk is still reported
      expect(e.riskLevel).toBe(without.riskLevel);
      expect(e.reasons.slice(0, -1)).toEqual(without.reasons);
    } else {
      expect(e).toEqual(without);
    }
  });

  it('does not apply to a decision that already proceeds', () => {
    const e = evaluate(input({ exceptions: [{ id: 'ex-1', expiresAt: later(HOUR) }] }), policy);
    expect(e.exception).toBeUndefined();
    expect(codes(e)).not.toContain('exception_applied');
  });

  it('picks the applicable exception that lasts longest, whatever the input order', () => {
    const exceptions: EngineException[] = [
      { id: 'ex-short', expiresAt: later(HOUR) },
      { id: 'ex-long', expiresAt: later(5 * HOUR) },
      { id: 'ex-scoped-out', expiresAt: later(9 * HOUR), maxLevel: 'low' },
    ];
    const a = evaluate(input({ signals: critical, exceptions }), policy);
    const b = evaluate(input({ signals: critical, exceptions: [...exceptions].reverse() }), policy);
    expect(a.exception?.id).toBe('ex-long');
    expect(b).toEqual(a);
  });
});

describe('evaluate: signal-scoped exceptions never waive a source failure mode', () => {
  const critical = [sig('edr:c1', 'critical')];
  const scoped: EngineException = { id: 'ex-scoped', expiresAt: later(HOUR), signalIds: ['edr:c1'] };
  it.each<[string, Partial<EvaluationInput>, Decision, string[]]>([
    // production: source down blocks, stale asks for approval
    ['critical, source down', { signals: critical, sources: [okSource('edr', { status: 'down' })] }, 'block', ['source_unavailable']],
    ['no signal, source down', { sources: [okSource('edr', { status: 'down' })] }, 'block', ['source_unavailable']],
    ['critical, source stale', { signals: critical, sources: [okSource('edr', { lastSuccessAt: ago(2 * HOUR) })] }, 'approval_required', ['signals_stale']],
    ['no signal, source stale', { sources: [okSource('edr', { lastSuccessAt: ago(2 * HOUR) })] }, 'approval_required', ['signals_stale']],
  ])('%s -> %s', (_name, overrides, decision, kept) => {
    const e = evaluate(input({ ...overrides, exceptions: [scoped] }), policy);
    expect(e.decision).toBe(decision);
    for (const code of kept) expect(codes(e)).toContain(code);
    // an unscoped exception waives the same failure mode
    const unscoped = evaluate(input({ ...overrides, exceptions: [{ id: 'ex-all', expiresAt: later(HOUR) }] }), policy);
    expect(unscoped.decision).toBe('proceed');
  });

  it('lowers a block from the signals to what the failure mode alone asks, and says what it did not waive', () => {
    const e = evaluate(input({ signals: critical, sources: [okSource('edr', { lastSuccessAt: ago(2 * HOUR) })], exceptions: [scoped] }), policy);
    expect(e.decision).toBe('approval_required');
    expect(e.exception?.id).toBe('ex-scoped');
    const reason = e.reasons.find(r => r.code === 'exception_applied');
    expect(reason?.message).toContain('never waives signals_stale');
    expect(reason?.signalIds).toEqual(['edr:c1']);
  });

  it('prefers an exception that waives more over one that lasts longer', () => {
    const e = evaluate(
      input({
        signals: critical,
        sources: [okSource('edr', { status: 'down' })],
        exceptions: [{ ...scoped, expiresAt: later(9 * HOUR) }, { id: 'ex-all', expiresAt: later(HOUR) }],
      }),
      policy,
    );
    expect(e.decision).toBe('proceed');
    expect(e.exception?.id).toBe('ex-all');
  });

  it('waives the signals when the sources are fine', () => {
    const e = evaluate(input({ signals: critical, exceptions: [scoped] }), policy);
    expect(e.decision).toBe('proceed');
    expect(e.exception?.id).toBe('ex-scoped');
  });
});

describe('evaluate: dry run', () => {
  it.each<[string, Partial<EvaluationInput>, Decision]>([
    ['block', { signals: [sig('c', 'critical')] }, 'block'],
    ['approval_required', { hosts: [], sources: [] }, 'approval_required'],
    ['proceed', {}, 'proceed'],
    ['exception applied', { signals: [sig('c', 'critical')], exceptions: [{ id: 'ex', expiresAt: later(HOUR) }] }, 'proceed'],
  ])('answers proceed and records the real decision (%s)', (_name, overrides, real) => {
    const e = evaluate(input({ ...overrides, dryRun: true }), policy);
    const wet = evaluate(input(overrides), policy);
    expect(e.decision).toBe('proceed');
    expect(e.wouldHaveBeen).toBe(real);
    expect(wet.decision).toBe(real);
    expect(e.reasons.at(-1)?.code).toBe('dry_run');
    expect(e.reasons.at(-1)?.message).toContain(real);
    expect(e.reasons.slice(0, -1)).toEqual(wet.reasons);
    expect(e.score).toBe(wet.score);
  });
});

describe('evaluate: determinism', () => {
  const signals = [
    sig('edr:a', 'medium', { ageMs: 3 * HOUR, confidence: 0.7 }),
    sig('edr:b', 'high', { ageMs: 30 * HOUR, confidence: 0.33 }),
    sig('edr:c', 'low', { ageMs: 5 * MIN, confidence: 0.9 }),
    sig('edr:d', 'critical', { status: 'resolved' }),
  ];
  const sources = [okSource('z'), okSource('a', { lastSuccessAt: ago(30 * MIN) }), okSource('m', { status: 'down' })];

  it('gives deep-equal results for the same input', () => {
    const i = input({ signals, sources });
    expect(evaluate(i, policy)).toEqual(evaluate(i, policy));
  });

  it('does not depend on the order of signals, sources or exceptions', () => {
    const a = evaluate(input({ signals, sources }), policy);
    const b = evaluate(input({ signals: [...signals].reverse(), sources: [...sources].reverse() }), policy);
    expect(b).toEqual(a);
    expect(a.contributions.map(c => c.signalId)).toEqual(['edr:a', 'edr:b', 'edr:c']);
  });

  it('gives the same result for a policy compiled from reordered config', () => {
    const reordered = compilePolicy(JSON.parse(JSON.stringify({ scoring: DEFAULT_POLICY_CONFIG.scoring, environments: { staging: DEFAULT_POLICY_CONFIG.environments.staging, production: DEFAULT_POLICY_CONFIG.environments.production }, id: 'default' })));
    expect(reordered.hash).toBe(policy.hash);
    expect(evaluate(input({ signals, sources }), reordered)).toEqual(evaluate(input({ signals, sources }), policy));
  });

  it('depends on now, not on the wall clock', () => {
    const i = input({ signals: [sig('edr:m', 'medium', { lastSeenAt: NOW })] });
    expect(evaluate(i, policy).score).toBe(35);
    expect(evaluate({ ...i, now: later(24 * HOUR), sources: [okSource('edr', { lastSuccessAt: later(24 * HOUR) })] }, policy).score).toBe(17.5);
  });

  it('rejects an invalid now', () => {
    expect(() => evaluate(input({ now: 'soon' }), policy)).toThrow(/now/);
  });
});

describe('evaluate: coverage (partial_coverage, uncovered hosts)', () => {
  const two = [
    { id: 'web-01', matchedBy: 'annotation' },
    { id: 'web-02', matchedBy: 'annotation' },
  ];
  it.each<[string, Partial<EvaluationInput>, Decision, RiskLevel, ReasonCode[]]>([
    ['every host covered', { hosts: two }, 'proceed', 'low', ['no_active_signals']],
    ['a System with a Component without hosts', { uncovered: { components: ['component:default/docs'] } }, 'proceed', 'low', ['no_active_signals', 'partial_coverage']],
    ['one of two hosts unseen', { hosts: two, uncovered: { hosts: ['web-02'] } }, 'proceed', 'low', ['no_active_signals', 'partial_coverage']],
    [
      'one of two hosts unseen, a critical on the other',
      { hosts: two, uncovered: { hosts: ['web-02'] }, signals: [sig('edr:c1', 'critical')] },
      'block',
      'high',
      ['signal_active', 'partial_coverage'],
    ],
    ['no host seen by any source', { hosts: two, uncovered: { hosts: ['web-01', 'web-02'] } }, 'approval_required', 'unknown', ['uncorrelated']],
    [
      'no host at all, Components without hosts',
      { hosts: [], uncovered: { components: ['component:default/docs'] } },
      'approval_required',
      'unknown',
      ['uncorrelated'],
    ],
  ])('%s', (_name, overrides, decision, level, reasonCodes) => {
    const e = evaluate(input(overrides), policy);
    expect([e.decision, e.riskLevel, codes(e)]).toEqual([decision, level, reasonCodes]);
    for (const r of e.reasons) expect(ReasonSchema.parse(r)).toEqual(r);
  });

  it('partial_coverage names what is not covered and never changes the decision', () => {
    const e = evaluate(input({ hosts: two, uncovered: { hosts: ['web-02'], components: ['component:default/docs'] } }), policy);
    const partial = e.reasons.filter(r => r.code === 'partial_coverage').map(r => r.message);
    expect(partial.join(' ')).toContain('component:default/docs');
    expect(partial.join(' ')).toContain('web-02');
    expect(e.decision).toBe(evaluate(input({ hosts: two }), policy).decision);
    expect(e.failureModes).toEqual([]);
  });

  it('uncorrelated names the hosts no source has seen', () => {
    const e = evaluate(input({ hosts: two, uncovered: { hosts: ['web-01', 'web-02'] } }), policy);
    expect(e.reasons[0].message).toContain('hosts no source has seen: web-01, web-02');
  });
});

describe('evaluate: push sources', () => {
  it.each<[string, Partial<EngineSource>, ReasonCode[]]>([
    ['a quiet push source without heartbeat', { push: true, lastSuccessAt: ago(3 * HOUR) }, ['no_active_signals']],
    ['a push source never heard from, without heartbeat', { push: true, lastSuccessAt: null }, ['no_active_signals']],
    ['a push source within its heartbeat', { push: true, heartbeatMs: 30 * MIN, lastSuccessAt: ago(20 * MIN) }, ['no_active_signals']],
    ['a push source that missed its heartbeat', { push: true, heartbeatMs: 5 * MIN, lastSuccessAt: ago(20 * MIN) }, ['no_active_signals', 'signals_stale']],
    ['a push source with a heartbeat never heard from', { push: true, heartbeatMs: 5 * MIN, lastSuccessAt: null }, ['no_active_signals', 'signals_stale']],
    ['a pull source as quiet', { lastSuccessAt: ago(3 * HOUR) }, ['no_active_signals', 'signals_stale']],
  ])('%s', (_name, source, reasonCodes) => {
    const e = evaluate(input({ sources: [okSource('hook', source)] }), policy);
    expect(codes(e)).toEqual(reasonCodes);
  });

  it('names the missed heartbeat', () => {
    const e = evaluate(input({ sources: [okSource('hook', { push: true, heartbeatMs: 5 * MIN, lastSuccessAt: ago(20 * MIN) })] }), policy);
    expect(e.reasons[1].message).toContain("Push source 'hook' missed its heartbeat");
    expect(e.reasons[1].source).toBe('hook');
    expect(e.decision).toBe('approval_required');
  });
});
