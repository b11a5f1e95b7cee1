import type { Severity } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { evaluate, type EvaluationInput } from './evaluate';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from './policy';
import { INCIDENT_WINDOW_MS, groupIncidents, sameIncident, scoreSignals, signalScore, type EngineSignal } from './score';

/** Issue 15 part 5: one incident reported by several vendors counts once (DESIGN "One incident, several vendors"). */
const policy = compilePolicy(DEFAULT_POLICY_CONFIG);
const NOW = '2026-11-23T12:00:00.000Z';
const NOW_MS = Date.parse(NOW);
const MIN = 60_000;
const at = (minutesAgo: number) => new Date(NOW_MS - minutesAgo * MIN).toISOString();
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

function sig(
  id: string,
  severity: Severity,
  opts: Partial<Pick<EngineSignal, 'host' | 'techniques' | 'indicators' | 'confidence' | 'status'>> & { began?: number; seen?: number } = {},
): EngineSignal {
  return {
    id,
    source: id.split(':')[0],
    severity,
    confidence: opts.confidence ?? 1,
    status: opts.status ?? 'active',
    lastSeenAt: at(opts.seen ?? 0),
    title: `${severity} ${id}`,
    host: 'host' in opts ? opts.host : 'web-01',
    firstSeenAt: at(opts.began ?? 60),
    techniques: opts.techniques ?? [],
    indicators: opts.indicators,
  };
}

const ids = (groups: Array<{ members: Array<{ signal: EngineSignal }> }>) =>
  groups.map(g => g.members.map(m => m.signal.id)).sort((a, b) => a[0].localeCompare(b[0]));
const group = (signals: EngineSignal[]) => ids(groupIncidents(signals.map(signal => ({ signal, s: signalScore(signal, policy, NOW_MS) }))));

describe('sameIncident', () => {
  it.each<[string, Partial<EngineSignal>, Partial<EngineSignal>, string | undefined]>([
    ['same SHA-256 (any case)', { indicators: { sha256: SHA_A } }, { indicators: { sha256: SHA_A.toUpperCase() } }, 'sha256'],
    ['different SHA-256', { indicators: { sha256: SHA_A } }, { indicators: { sha256: SHA_B } }, undefined],
    [
      'technique and command line (whitespace and case aside)',
      { techniques: ['T1059.001'], indicators: { commandLine: 'powershell.exe  -enc AAA' } },
      { techniques: ['t1059.001'], indicators: { commandLine: 'PowerShell.exe -enc aaa' } },
      'technique+process',
    ],
    [
      'a sub-technique and its technique',
      { techniques: ['T1059.001'], indicators: { processName: 'powershell.exe' } },
      { techniques: ['T1059'], indicators: { processName: 'C:\\Windows\\System32\\PowerShell.exe' } },
      'technique+process',
    ],
    [
      'same technique, different command lines of the same process',
      { techniques: ['T1059'], indicators: { processName: 'powershell.exe', commandLine: 'powershell -c a' } },
      { techniques: ['T1059'], indicators: { processName: 'powershell.exe', commandLine: 'powershell -c b' } },
      undefined,
    ],
    ['same process, different techniques', { techniques: ['T1059'], indicators: { processName: 'x.exe' } }, { techniques: ['T1003'], indicators: { processName: 'x.exe' } }, undefined],
    ['same technique, nothing else', { techniques: ['T1059'], indicators: {} }, { techniques: ['T1059'], indicators: {} }, undefined],
    ['same file path only', { indicators: { filePath: '/tmp/x' } }, { indicators: { filePath: '/tmp/x' } }, undefined],
  ])('%s -> %s', (_name, a, b, expected) => {
    expect(sameIncident({ ...sig('x:1', 'high'), ...a }, { ...sig('y:1', 'high'), ...b })).toBe(expected);
    expect(sameIncident({ ...sig('y:1', 'high'), ...b }, { ...sig('x:1', 'high'), ...a })).toBe(expected);
  });
});

describe('groupIncidents', () => {
  const sha = { indicators: { sha256: SHA_A } };
  it.each<[string, EngineSignal[], string[][]]>([
    ['two vendors, same SHA-256, same host', [sig('crowdstrike:1', 'critical', sha), sig('defender:1', 'high', { ...sha, began: 30 })], [['crowdstrike:1', 'defender:1']]],
    ['another host', [sig('crowdstrike:1', 'critical', sha), sig('defender:1', 'high', { ...sha, host: 'web-02' })], [['crowdstrike:1'], ['defender:1']]],
    ['no host known', [sig('crowdstrike:1', 'critical', { ...sha, host: undefined }), sig('defender:1', 'high', { ...sha, host: undefined })], [['crowdstrike:1'], ['defender:1']]],
    ['exactly one hour apart', [sig('crowdstrike:1', 'critical', { ...sha, began: 120 }), sig('defender:1', 'high', { ...sha, began: 60 })], [['crowdstrike:1', 'defender:1']]],
    ['more than an hour apart', [sig('crowdstrike:1', 'critical', { ...sha, began: 121 }), sig('defender:1', 'high', { ...sha, began: 60 })], [['crowdstrike:1'], ['defender:1']]],
    [
      // 0, 40 and 80 minutes: the third is within an hour of the second but not of the first: a new incident
      'the window is not chained',
      [
        sig('crowdstrike:1', 'high', { ...sha, began: 100 }),
        sig('defender:1', 'high', { ...sha, began: 60 }),
        sig('sentinelone:1', 'high', { ...sha, began: 20 }),
      ],
      [['crowdstrike:1', 'defender:1'], ['sentinelone:1']],
    ],
    [
      'three vendors within the hour',
      [
        sig('sentinelone:9', 'high', { ...sha, began: 10 }),
        sig('crowdstrike:1', 'critical', { ...sha, began: 50 }),
        sig('defender:1', 'high', { ...sha, began: 30 }),
      ],
      [['crowdstrike:1', 'defender:1', 'sentinelone:9']],
    ],
    [
      'technique and process',
      [
        sig('crowdstrike:1', 'high', { techniques: ['T1059.001'], indicators: { processName: 'powershell.exe', commandLine: 'powershell -enc X' } }),
        sig('defender:1', 'medium', { techniques: ['T1059.001'], indicators: { processName: 'powershell.exe', commandLine: 'powershell  -enc x' } }),
      ],
      [['crowdstrike:1', 'defender:1']],
    ],
    ['without indicators: never grouped', [sig('crowdstrike:1', 'high', { techniques: ['T1059'] }), sig('defender:1', 'high', { techniques: ['T1059'] })], [['crowdstrike:1'], ['defender:1']]],
  ])('%s', (_name, signals, expected) => {
    expect(group(signals)).toEqual(expected);
    expect(group([...signals].reverse())).toEqual(expected);
  });

  it('lists the highest contribution first', () => {
    const groups = groupIncidents(
      [sig('crowdstrike:1', 'medium', { ...sha, began: 50 }), sig('defender:1', 'critical', { ...sha, began: 40 })].map(signal => ({
        signal,
        s: signalScore(signal, policy, NOW_MS),
      })),
    );
    expect(groups).toHaveLength(1);
    expect(groups[0].members.map(m => m.signal.id)).toEqual(['defender:1', 'crowdstrike:1']);
    expect(groups[0].matchedBy).toBe('sha256');
  });

  it('uses a one-hour window', () => {
    expect(INCIDENT_WINDOW_MS).toBe(3600_000);
  });
});

describe('scoreSignals counts one incident once', () => {
  const sha = { indicators: { sha256: SHA_A } };
  it('takes the highest contribution of the group, not the combination', () => {
    const high = sig('defender:1', 'high', sha); // 70
    const medium = sig('crowdstrike:1', 'medium', sha); // 35
    const grouped = scoreSignals([medium, high], policy, NOW);
    expect(grouped.score).toBe(70);
    expect(grouped.contributions).toEqual([{ signalId: 'defender:1', score: 70, signalIds: ['defender:1', 'crowdstrike:1'], matchedBy: 'sha256' }]);
    // the same two on different hosts: combined as before (1 - 0.3 * 0.65 = 80.5)
    const apart = scoreSignals([medium, { ...high, host: 'web-02' }], policy, NOW);
    expect(apart.score).toBe(80.5);
    expect(apart.contributions.map(c => c.signalId)).toEqual(['defender:1', 'crowdstrike:1']);
  });

  it('an incident combines with other signals as one', () => {
    const r = scoreSignals(
      [sig('crowdstrike:1', 'medium', sha), sig('defender:1', 'medium', sha), sig('crowdstrike:2', 'medium', { indicators: { sha256: SHA_B } })],
      policy,
      NOW,
    );
    // two incidents of 35: 1 - 0.65^2
    expect(r.score).toBe(57.8);
    expect(r.contributions).toHaveLength(2);
  });

  it('leaves out resolved reports of an incident', () => {
    const r = scoreSignals([sig('crowdstrike:1', 'critical', { ...sha, status: 'resolved' }), sig('defender:1', 'medium', sha)], policy, NOW);
    expect(r.contributions).toEqual([{ signalId: 'defender:1', score: 35 }]);
  });
});

describe('evaluate names every report of an incident', () => {
  const input = (signals: EngineSignal[]): EvaluationInput => ({
    entityRef: 'component:default/payments',
    environment: 'production',
    now: NOW,
    hosts: [{ id: 'web-01', matchedBy: 'annotation' }],
    signals,
    sources: [
      { id: 'crowdstrike', status: 'ok', lastSuccessAt: at(1) },
      { id: 'defender', status: 'ok', lastSuccessAt: at(1) },
    ],
  });

  it('one signal_active reason listing both signal ids and vendors', () => {
    const e = evaluate(
      input([
        sig('crowdstrike:ldt-1', 'medium', { indicators: { sha256: SHA_A } }),
        sig('defender:da-1', 'medium', { indicators: { sha256: SHA_A }, began: 20 }),
      ]),
      policy,
    );
    expect(e.score).toBe(35);
    expect(e.riskLevel).toBe('moderate');
    const active = e.reasons.filter(r => r.code === 'signal_active');
    expect(active).toHaveLength(1);
    expect(active[0].signalIds.sort()).toEqual(['crowdstrike:ldt-1', 'defender:da-1']);
    expect(active[0].message).toContain('crowdstrike and defender');
    expect(active[0].message).toContain('crowdstrike:ldt-1 (crowdstrike)');
    expect(active[0].message).toContain('defender:da-1 (defender)');
    expect(active[0].message).toContain('same file SHA-256');
    expect(active[0].message).toContain('counted once');
  });

  it('a signal-scoped exception naming one report covers the incident', () => {
    const signals = [
      sig('crowdstrike:ldt-1', 'critical', { indicators: { sha256: SHA_A } }),
      sig('defender:da-1', 'high', { indicators: { sha256: SHA_A }, began: 20 }),
    ];
    const e = evaluate({ ...input(signals), exceptions: [{ id: 'ex', expiresAt: at(-60), signalIds: ['crowdstrike:ldt-1'] }] }, policy);
    expect(e.decision).toBe('proceed');
    expect(e.exception?.id).toBe('ex');
  });
});
