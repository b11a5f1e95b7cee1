import { evaluate, type EngineSource, type EvaluationInput } from './evaluate';
import { sourceDataAtMs, staleEnvironments } from './freshness';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from './policy';

const policy = compilePolicy(DEFAULT_POLICY_CONFIG); // production: 15 minutes, staging: 1 hour
const NOW = '2026-11-23T12:00:00.000Z';
const NOW_MS = Date.parse(NOW);
const MIN = 60_000;
const ago = (ms: number) => new Date(NOW_MS - ms).toISOString();

/** The environments in which the gate itself answers `signals_stale` for `source`. */
function gateStaleIn(source: EngineSource): string[] {
  return Object.keys(policy.environments)
    .sort()
    .filter(environment => {
      const input: EvaluationInput = {
        entityRef: 'component:default/payments',
        environment,
        now: NOW,
        hosts: [{ id: 'web-01', matchedBy: 'annotation:runtime-risk.io/hosts', sources: [source.id] }],
        signals: [],
        sources: [source],
      };
      return evaluate(input, policy).reasons.some(r => r.code === 'signals_stale' && r.source === source.id);
    });
}

describe('staleEnvironments (the staleFor of source health)', () => {
  it.each<[string, EngineSource, string[]]>([
    ['fresh', { id: 'edr', status: 'ok', lastSuccessAt: ago(MIN) }, []],
    ['20 minutes old: production only', { id: 'edr', status: 'ok', lastSuccessAt: ago(20 * MIN) }, ['production']],
    ['two days old', { id: 'edr', status: 'ok', lastSuccessAt: ago(2 * 24 * 60 * MIN) }, ['production', 'staging']],
    ['synced now, data as of 30 minutes ago', { id: 'file', status: 'ok', lastSuccessAt: ago(0), asOf: ago(30 * MIN) }, ['production']],
    ['never synced', { id: 'edr', status: 'down', lastSuccessAt: null }, ['production', 'staging']],
    ['quiet push source without heartbeat', { id: 'hook', status: 'ok', lastSuccessAt: ago(3 * 24 * 60 * MIN), push: true }, []],
    ['push source within its heartbeat', { id: 'hook', status: 'ok', lastSuccessAt: ago(50 * MIN), push: true, heartbeatMs: 60 * MIN }, []],
    ['push source past its heartbeat', { id: 'hook', status: 'ok', lastSuccessAt: ago(70 * MIN), push: true, heartbeatMs: 60 * MIN }, ['production', 'staging']],
  ])('%s', (_, source, expected) => {
    expect(staleEnvironments(source, NOW_MS, policy.maxSignalAgeMs)).toEqual(expected);
    // exactly where the gate answers signals_stale
    expect(gateStaleIn(source)).toEqual(expected);
  });

  it('measures data age from the older of the sync and the as-of time', () => {
    expect(sourceDataAtMs({ lastSuccessAt: ago(MIN), asOf: ago(30 * MIN) })).toBe(NOW_MS - 30 * MIN);
    expect(sourceDataAtMs({ lastSuccessAt: ago(MIN), asOf: null })).toBe(NOW_MS - MIN);
    expect(Number.isNaN(sourceDataAtMs({ lastSuccessAt: null, asOf: ago(MIN) }))).toBe(true);
  });
});
