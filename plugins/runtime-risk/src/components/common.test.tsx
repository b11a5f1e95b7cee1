import { describeSignals, formatAge, formatDateTime, formatScore, formatSeconds, topReasons } from './common';
import { rankRows } from './RuntimeRiskPage/RuntimeRiskOverview';
import { makeRisk } from '../testing/fixtures';

const NOW = Date.parse('2030-01-10T12:00:00Z');

describe('formatting helpers', () => {
  it.each([
    [null, 'never'],
    ['not a date', 'unknown'],
    ['2030-01-10T11:59:48Z', '12 s ago'],
    ['2030-01-10T11:55:00Z', '5 min ago'],
    ['2030-01-10T09:00:00Z', '3 h ago'],
    ['2030-01-07T12:00:00Z', '3 d ago'],
  ])('formatAge(%s) is %s', (iso, expected) => {
    expect(formatAge(iso, NOW)).toBe(expected);
  });

  it.each([
    [null, '-'],
    [42, '42 s'],
    [600, '10 min'],
    [7200, '2 h'],
    [172801, '2 d'],
  ])('formatSeconds(%s) is %s', (s, expected) => {
    expect(formatSeconds(s)).toBe(expected);
  });

  it('formats scores and times', () => {
    expect(formatScore(null)).toBe('-');
    expect(formatScore(94.94)).toBe('94.9');
    expect(formatDateTime('2030-01-02T03:04:05.678Z')).toBe('2030-01-02 03:04:05 UTC');
    expect(formatDateTime(null)).toBe('-');
  });

  it('puts problems before the all-clear in the top reasons', () => {
    const r = topReasons(
      [
        { code: 'no_active_signals', message: 'quiet', signalIds: [] },
        { code: 'signal_active', message: 'sig', signalIds: ['a'] },
        { code: 'signals_stale', message: 'stale', signalIds: [] },
        { code: 'source_unavailable', message: 'down', signalIds: [] },
      ],
      3,
    );
    expect(r.map(x => x.code)).toEqual(['source_unavailable', 'signals_stale', 'signal_active']);
  });
});

describe('rankRows', () => {
  const row = (name: string, score: number | null, level: 'low' | 'moderate' | 'high' | 'unknown') => ({
    id: name,
    service: { ref: `component:default/${name}`, name, owner: 'o', system: 's' },
    risk: makeRisk({ score, riskLevel: level }),
  });

  it('ranks by score, unscored last, ties by level then name', () => {
    const ranked = rankRows([
      row('unknown-svc', null, 'unknown'),
      row('b-low', 5, 'low'),
      row('a-low', 5, 'low'),
      row('tie-moderate', 5, 'moderate'),
      row('top', 99, 'high'),
    ]);
    expect(ranked.map(r => `${r.rank}:${r.service.name}`)).toEqual([
      '1:top',
      '2:tie-moderate',
      '3:a-low',
      '4:b-low',
      '5:unknown-svc',
    ]);
  });
});

describe('describeSignals: the signal count agrees with the reasons', () => {
  const active = (id: string) => ({ code: 'signal_active' as const, message: `s ${id}`, signalIds: [id] });
  const none = { code: 'no_active_signals' as const, message: 'no active signals', signalIds: [] };
  it.each([
    ['no signal at all', 0, [none], 'no active signals'],
    ['one informational signal under no_active_signals', 1, [none], '1 informational signal, no risk contribution'],
    ['two informational signals', 2, [none], '2 informational signals, no risk contribution'],
    ['one contributing signal', 1, [active('a')], '1 signal contributing'],
    ['two contributing, one informational', 3, [active('a'), active('b')], '2 signals contributing, 1 with no risk contribution'],
    ['score not computed', 2, [{ code: 'score_unavailable' as const, message: 'x', signalIds: [] }], '2 active signals, not scored'],
  ])('%s', (_name, count, reasons, expected) => {
    expect(describeSignals(makeRisk({ signals: { count, freshAt: null, stale: false }, reasons }))).toBe(expected);
  });
});
