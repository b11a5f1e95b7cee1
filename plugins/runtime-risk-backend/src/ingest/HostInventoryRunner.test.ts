import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { HostInventoryFetchOptions, HostInventoryFetchResult, HostInventoryRecord } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { HostInventoryRunner } from './HostInventoryRunner';
import { IngestionRunner } from './IngestionRunner';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

/** A pull source listing hosts from memory: page i is at cursor `i`, failing where told. */
class InventoryMemorySource extends MemoryPullSource {
  hostPages: unknown[][] = [];
  failAt: number | undefined;
  inventoryCursors: (string | null)[] = [];

  async syncHosts({ cursor }: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> {
    this.inventoryCursors.push(cursor);
    const index = cursor === null ? 0 : Number(cursor);
    if (this.failAt === index) throw new Error('HTTP 503 from the vendor');
    const last = index >= this.hostPages.length - 1;
    return { hosts: (this.hostPages[index] ?? []) as HostInventoryRecord[], cursor: last ? null : String(index + 1), hasMore: !last };
  }
}

const host = (id: string, hostname: string) => ({ sourceId: id, asset: { hostname, ips: [], macs: [] }, lastSeenAt: '2026-12-03T10:00:00Z' });

describe.each(databases.eachSupportedId())('HostInventoryRunner on %p', databaseId => {
  async function setup() {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    return { store, logger: mockServices.logger.mock() };
  }

  it('commits each page with its own cursor, rejects bad records alone, resumes after a failure', async () => {
    const { store, logger } = await setup();
    const source = new InventoryMemorySource('edr');
    source.hostPages = [
      [host('h1', 'web-01'), { sourceId: '', asset: {} }, 'garbage'],
      [host('h2', 'web-02'), { sourceId: 'h3', asset: { hostname: 'db-01', ips: 'nope' } }],
      [host('h4', 'db-02')],
    ];
    source.failAt = 1;
    const runner = new HostInventoryRunner({ store, logger, clock: () => new Date('2026-12-03T12:00:00Z') });
    const failed = await runner.run(source);
    expect(failed).toMatchObject({ pages: 1, stored: 1, rejected: 2, complete: false, error: expect.stringContaining('HTTP 503') });
    // the first page and its cursor are committed; the signal source's own state is untouched
    expect(await store.getHostInventoryState('edr')).toMatchObject({ cursor: '1', consecutiveFailures: 1, rejectedCount: 2 });
    expect(await store.getSourceState('edr')).toBeUndefined();

    source.failAt = undefined;
    const resumed = await runner.run(source);
    expect(resumed).toEqual({ pages: 2, stored: 2, rejected: 1, complete: true });
    expect(source.inventoryCursors).toEqual([null, '1', '1', '2']);
    expect(await store.getHostInventoryState('edr')).toMatchObject({
      cursor: null,
      consecutiveFailures: 0,
      lastCompleteAt: '2026-12-03T12:00:00.000Z',
    });
    const stored = await store.listInventoryHosts({ limit: 10 });
    expect(stored.items.map(h => h.sourceId)).toEqual(['h1', 'h2', 'h4']);
    const warnings = (logger.warn.mock.calls as unknown[][]).map(c => String(c[0]));
    expect(warnings.some(w => w.includes("'edr'") && w.includes('asset.ips'))).toBe(true);
  });

  it('stores the hosts an alert batch describes without moving the inventory cursor', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('edr');
    const withHosts = source as MemoryPullSource & { fetch: MemoryPullSource['fetch'] };
    const original = withHosts.fetch.bind(source);
    withHosts.fetch = async opts => ({ ...(await original(opts)), hosts: [host('h9', 'app-09')] });
    source.pages = [{ signals: [signalInput('a')] }];
    await new IngestionRunner({ store, logger }).run(source);
    expect((await store.listInventoryHosts({ limit: 10 })).items.map(h => h.sourceId)).toEqual(['h9']);
    expect(await store.getHostInventoryState('edr')).toBeUndefined();
  });

  it('stores the hosts of every page of a run once, the last record of a host winning, with run-wide indexes in warnings', async () => {
    const { store, logger } = await setup();
    const source = new MemoryPullSource('edr');
    const hostsOfPage: unknown[][] = [
      [host('h1', 'app-01'), { sourceId: '', asset: {} }, host('h2', 'app-02')],
      [host('h3', 'app-03'), host('h1', 'app-01b'), { sourceId: 'h4', asset: { hostname: 'x', ips: 'nope' } }],
    ];
    const withHosts = source as MemoryPullSource & { fetch: MemoryPullSource['fetch'] };
    const original = withHosts.fetch.bind(source);
    withHosts.fetch = async opts => {
      const page = await original(opts);
      return { ...page, hosts: hostsOfPage[opts.cursor === null ? 0 : Number(opts.cursor)] ?? [] };
    };
    source.pages = [{ signals: [signalInput('a')], hasMore: true }, { signals: [signalInput('b')] }];
    const result = await new IngestionRunner({ store, logger }).run(source);
    expect(result).toMatchObject({ pages: 2, stored: 2 });
    const stored = (await store.listInventoryHosts({ limit: 10 })).items;
    expect(stored.map(h => [h.sourceId, h.asset.hostname])).toEqual([
      ['h1', 'app-01b'],
      ['h2', 'app-02'],
      ['h3', 'app-03'],
    ]);
    // one write for the run: every host listed at the same time
    expect(new Set(stored.map(h => h.listedAt)).size).toBe(1);
    const warnings = (logger.warn.mock.calls as unknown[][]).map(c => String(c[0]));
    expect(warnings.filter(w => w.includes('invalid host'))).toEqual([
      expect.stringContaining('at index 1; rejected field: sourceId'),
      expect.stringContaining('at index 5; rejected field: asset.ips'),
    ]);
    expect(await store.getHostInventoryState('edr')).toBeUndefined();
  });
});
