import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import type { RuntimeRiskStore } from '../store/types';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { IngestionRunner } from './IngestionRunner';
import { sourceStatus } from './sourceStatus';
import { safeErrorMessage } from './validate';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('IngestionRunner on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    return { store, logger: mockServices.logger.mock() };
  }

  it('follows hasMore, commits each page with its cursor and rejects garbage without touching stored data', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('mem');
    source.pages = [
      { signals: [signalInput('a'), signalInput('b')], hasMore: true },
      { signals: [signalInput('c'), { sourceId: 'bad', severity: 'apocalyptic', title: 'x', asset: {} }, 'garbage'], rejected: 1 },
    ];
    const runner = new IngestionRunner({ store, logger });
    const result = await runner.run(source);
    expect(result).toEqual({ pages: 2, stored: 3, rejected: 3 });
    expect(source.cursorsSeen).toEqual([null, '1']);
    const state = await store.getSourceState('mem');
    expect(state).toMatchObject({ cursor: '2', consecutiveFailures: 0, rejectedCount: 3 });
    const stored = await store.listSignals({ limit: 10, offset: 0 });
    expect(stored.items.map(s => s.id).sort()).toEqual(['mem:a', 'mem:b', 'mem:c']);
    // hostnames normalized: short name + FQDN kept
    expect(stored.items[0].asset).toMatchObject({ hostname: 'web-01', fqdn: 'web-01.prod.example.com' });
    // the rejected records were logged with the source id and the field at fault
    const warnings = (logger.warn.mock.calls as unknown[][]).map(c => String(c[0]));
    expect(warnings.some(w => w.includes("'mem'") && w.includes('severity'))).toBe(true);

    // a later batch made only of garbage leaves the stored signals untouched
    source.pages.push({ signals: [{ nonsense: true }] });
    await runner.run(source);
    expect((await store.listSignals({ limit: 10, offset: 0 })).totalCount).toBe(3);
    expect((await store.getSourceState('mem'))?.rejectedCount).toBe(4);
  });

  it('saves the cursor only after the batch is committed', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('mem');
    source.pages = [{ signals: [signalInput('a')] }, { signals: [signalInput('b')] }];
    const runner = new IngestionRunner({ store, logger });
    await runner.run(source);
    expect((await store.getSourceState('mem'))?.cursor).toBe('1');

    // the store fails to commit the next batch: the cursor must not move
    let failCommit = true;
    const flaky: RuntimeRiskStore = Object.create(store);
    flaky.commitBatch = async opts => {
      if (failCommit) throw new Error('disk full');
      return store.commitBatch(opts);
    };
    const flakyRunner = new IngestionRunner({ store: flaky, logger });
    const failed = await flakyRunner.run(source);
    expect(failed.error).toContain('disk full');
    const afterFailure = await store.getSourceState('mem');
    expect(afterFailure).toMatchObject({ cursor: '1', consecutiveFailures: 1, lastError: 'Error: disk full' });
    expect((await store.listSignals({ limit: 10, offset: 0 })).items.map(s => s.id)).toEqual(['mem:a']);

    // next run resumes from the saved cursor, so nothing is lost
    failCommit = false;
    await flakyRunner.run(source);
    expect(source.cursorsSeen).toEqual([null, '1', '1']);
    expect((await store.getSourceState('mem'))?.cursor).toBe('2');
    expect((await store.listSignals({ limit: 10, offset: 0 })).items.map(s => s.id).sort()).toEqual(['mem:a', 'mem:b']);
  });

  it('fetches and writes the next page while the previous one commits, commits in page order, and stops at a failed commit', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('mem');
    source.pages = [0, 1, 2, 3].map(p => ({ signals: [signalInput(`p${p}`)], hasMore: p < 3 }));
    const events: string[] = [];
    const fetch = source.fetch.bind(source);
    source.fetch = async options => {
      events.push(`fetch ${options.cursor ?? 'start'}`);
      return fetch(options);
    };
    // page 0 ('start' -> '1') commits after a wait; page 1 ('1' -> '2') fails when it would commit, after page 0
    const timed: RuntimeRiskStore = Object.create(store);
    timed.commitBatch = async opts => {
      events.push(`commit ${opts.cursor} begins${opts.after ? ' (after the previous)' : ''}`);
      if (opts.cursor === '1') await new Promise(resolve => setTimeout(resolve, 20));
      if (opts.cursor === '2') {
        await opts.after?.commit;
        events.push(`commit ${opts.cursor} fails`);
        throw new Error('disk full');
      }
      try {
        await store.commitBatch(opts);
      } catch (e) {
        events.push(`commit ${opts.cursor} rolled back`);
        throw e;
      }
      events.push(`commit ${opts.cursor} done`);
    };
    const result = await new IngestionRunner({ store: timed, logger }).run(source);
    expect(result).toEqual({ pages: 1, stored: 1, rejected: 0, error: 'Error: disk full' });
    expect(events.slice(0, 5)).toEqual([
      'fetch start',
      'commit 1 begins',
      // the next page is fetched and its commit begun while page 0 commits ...
      'fetch 1',
      'commit 2 begins (after the previous)',
      'fetch 2',
    ]);
    // ... but it commits only after page 0, and its failure ends the run: no later page commits
    expect(events.indexOf('commit 1 done')).toBeLessThan(events.indexOf('commit 2 fails'));
    expect(events.filter(e => e.endsWith('done'))).toEqual(['commit 1 done']);
    expect(await store.getSourceState('mem')).toMatchObject({ cursor: '1', consecutiveFailures: 1, lastError: 'Error: disk full' });
    expect((await store.listSignals({ limit: 10, offset: 0 })).items.map(s => s.id)).toEqual(['mem:p0']);

    // the next run resumes from there
    const resumed = await new IngestionRunner({ store, logger }).run(source);
    expect(resumed).toEqual({ pages: 3, stored: 3, rejected: 0 });
    expect((await store.getSourceState('mem'))?.cursor).toBe('4');
    expect((await store.listSignals({ limit: 10, offset: 0 })).items.map(s => s.id).sort()).toEqual(['mem:p0', 'mem:p1', 'mem:p2', 'mem:p3']);
  });

  it('writes the signals a page shares with the commit in flight after that commit', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('mem');
    // page 1 repeats page 0's signal (vendors overlap at page edges); page 2 does not
    source.pages = [
      { signals: [signalInput('a')], hasMore: true },
      { signals: [signalInput('a', { title: 'again' }), signalInput('b')], hasMore: true },
      { signals: [signalInput('c')], hasMore: false },
    ];
    const events: string[] = [];
    const timed: RuntimeRiskStore = Object.create(store);
    timed.commitBatch = async opts => {
      events.push(`commit ${opts.cursor} begins${opts.after ? ' (after the previous)' : ''}`);
      await new Promise(resolve => setTimeout(resolve, 10));
      await store.commitBatch(opts);
      events.push(`commit ${opts.cursor} done`);
    };
    const result = await new IngestionRunner({ store: timed, logger }).run(source);
    expect(result).toEqual({ pages: 3, stored: 4, rejected: 0 });
    expect(events).toEqual([
      'commit 1 begins',
      'commit 2 begins (after the previous)',
      'commit 1 done',
      'commit 3 begins (after the previous)',
      'commit 2 done',
      'commit 3 done',
    ]);
    const stored = (await store.listSignals({ limit: 10, offset: 0 })).items;
    expect(stored.map(s => [s.id, s.title]).sort()).toEqual([
      ['mem:a', 'again'],
      ['mem:b', 'detection b'],
      ['mem:c', 'detection c'],
    ]);
    expect((await store.getSourceState('mem'))?.cursor).toBe('3');
  });

  it('records failures without secrets and keeps the old cursor', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('mem');
    source.pages = [{ signals: [signalInput('a')] }];
    const runner = new IngestionRunner({ store, logger });
    await runner.run(source);
    source.failWith = new Error('GET https://user:hunter2@edr.example.com failed: 401, client_secret=abc123 Bearer eyJhbGciOi');
    for (let i = 0; i < 3; i++) await runner.run(source);
    const state = await store.getSourceState('mem');
    expect(state?.consecutiveFailures).toBe(3);
    expect(state?.cursor).toBe('1');
    expect(state?.lastError).toContain('failed: 401');
    expect(state?.lastError).not.toMatch(/hunter2|abc123|eyJhbGciOi/);
    expect(sourceStatus(state, Date.now(), 30_000)).toBe('down');
    for (const call of logger.warn.mock.calls as unknown[][]) expect(String(call[0])).not.toMatch(/hunter2|abc123|eyJhbGciOi/);
  });
});

describe('sourceStatus', () => {
  const base = {
    id: 's',
    type: 't',
    cursor: null,
    lastAttemptAt: null,
    lastError: null,
    asOf: null,
    rejectedCount: 0,
  };
  const now = Date.parse('2026-11-23T12:00:00.000Z');
  it.each([
    ['no state yet', undefined, 'ok'],
    ['fresh success', { ...base, lastSuccessAt: '2026-11-23T11:59:50.000Z', consecutiveFailures: 0 }, 'ok'],
    ['one failure', { ...base, lastSuccessAt: '2026-11-23T11:59:50.000Z', consecutiveFailures: 1 }, 'degraded'],
    ['two failures', { ...base, lastSuccessAt: '2026-11-23T11:59:00.000Z', consecutiveFailures: 2 }, 'degraded'],
    ['three failures', { ...base, lastSuccessAt: '2026-11-23T11:59:50.000Z', consecutiveFailures: 3 }, 'down'],
    ['no success for 3x frequency', { ...base, lastSuccessAt: '2026-11-23T11:58:29.000Z', consecutiveFailures: 0 }, 'down'],
  ] as const)('%s', (_name, state, expected) => {
    expect(sourceStatus(state, now, 30_000)).toBe(expected);
  });

  it('push sources are not down for lack of a schedule', () => {
    expect(sourceStatus({ ...base, lastSuccessAt: '2026-11-20T00:00:00.000Z', consecutiveFailures: 0 }, now, undefined)).toBe('ok');
  });

  it('strips credentials from error messages', () => {
    expect(safeErrorMessage(new Error('token=abc password: xyz'))).toBe('Error: token=*** password: ***');
  });
});
