import { coveredHosts, type Correlated } from './correlate';

const host = (id: string, sources?: string[]) => ({ id, matchedBy: 'annotation:runtime-risk.io/hosts', value: id, ...(sources ? { sources } : {}) });
const SINCE = '2026-11-16T12:00:00.000Z';

describe('coveredHosts (DESIGN "Coverage")', () => {
  const correlated: Correlated = {
    hosts: [host('fresh', ['edr']), host('old', ['batch']), host('open', ['batch']), host('never'), host('two', ['edr', 'batch'])],
    signals: [],
    reports: {
      fresh: { edr: { at: '2026-11-23T11:00:00.000Z' } },
      old: { batch: { at: '2026-11-01T00:00:00.000Z' } },
      // an open (active) detection reported long ago still covers its host
      open: { batch: { at: '2026-11-01T00:00:00.000Z', open: true } },
      never: {},
      two: { edr: { at: '2026-11-20T00:00:00.000Z' }, batch: { at: '2026-10-01T00:00:00.000Z' } },
    },
  };

  it.each([
    ['fresh', true],
    ['old', false],
    ['open', true],
    ['never', false],
    ['two', true],
  ])('%s covered: %s', (id, covered) => {
    const result = coveredHosts(correlated, SINCE);
    expect(result.covered.includes(id)).toBe(covered);
    expect(result.uncovered.includes(id)).toBe(!covered);
  });

  it('lists only the sources that reported a host within the window (or have an open detection on it)', () => {
    expect(coveredHosts(correlated, SINCE).sources).toEqual(['batch', 'edr']);
    expect(coveredHosts({ ...correlated, hosts: [host('fresh'), host('two')] }, SINCE).sources).toEqual(['edr']);
    expect(coveredHosts({ ...correlated, hosts: [host('old'), host('never')] }, SINCE).sources).toEqual([]);
  });

  it('reads a value cached before coverage existed as reported by the sources of its signals', () => {
    const legacy: Correlated = { hosts: [host('a', ['edr']), host('b')], signals: [] };
    expect(coveredHosts(legacy, SINCE)).toEqual({ covered: ['a'], uncovered: ['b'], sources: ['edr'] });
  });
});
