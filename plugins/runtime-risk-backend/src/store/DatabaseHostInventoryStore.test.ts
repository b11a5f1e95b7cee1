import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { DatabaseRuntimeRiskStore } from './DatabaseRuntimeRiskStore';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('vendor host inventory store on %p', databaseId => {
  async function createStore() {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    return { knex, store };
  }

  const node = {
    sourceId: 'dev-1',
    asset: { hostname: 'node-a', fqdn: 'node-a.prod.example.com', deviceId: 'dev-1', ips: ['10.0.0.5'], macs: ['02:42:ac:11:00:02'] },
    lastSeenAt: '2026-12-03T10:00:00.000Z',
  };
  const pod = {
    sourceId: 'dev-2',
    asset: {
      hostname: 'checkout-7d9f',
      ips: [],
      macs: [],
      k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'checkout-7d9f', node: 'node-a', labels: { app: 'checkout' } },
    },
    lastSeenAt: null,
  };

  it('upserts hosts by source + vendor host id with the page cursor, and finds them by identifier', async () => {
    const { store } = await createStore();
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: [node], cursor: 'p1', at: '2026-12-03T11:00:00.000Z' });
    expect((await store.getHostInventoryState('falcon'))?.cursor).toBe('p1');
    expect((await store.getHostInventoryState('falcon'))?.lastCompleteAt).toBeNull();
    // the same host again with a new IP and the last page of the walk
    const moved = { ...node, asset: { ...node.asset, ips: ['10.0.0.6'] } };
    await store.commitHostPage({
      sourceId: 'falcon',
      sourceType: 'crowdstrike',
      hosts: [moved, pod],
      cursor: null,
      complete: true,
      rejected: 1,
      at: '2026-12-03T12:00:00.000Z',
    });
    const state = await store.getHostInventoryState('falcon');
    expect(state).toMatchObject({ cursor: null, lastCompleteAt: '2026-12-03T12:00:00.000Z', rejectedCount: 1, consecutiveFailures: 0 });

    const all = await store.listInventoryHosts({ limit: 10 });
    expect(all.items.map(h => h.sourceId)).toEqual(['dev-1', 'dev-2']);
    expect(all.items[0]).toMatchObject({ source: 'falcon', listedAt: '2026-12-03T12:00:00.000Z', lastSeenAt: '2026-12-03T10:00:00.000Z' });
    expect(all.items[1].asset.k8s).toEqual(pod.asset.k8s);

    // identifiers follow the asset: the old IP no longer matches
    expect(await store.findHostsByIdentifiers(['10.0.0.5'])).toEqual([]);
    const byIp = await store.findHostsByIdentifiers(['10.0.0.6', 'NODE-A']);
    expect(byIp).toHaveLength(1);
    expect(byIp[0].identifiers).toEqual(expect.arrayContaining([{ kind: 'ip', value: '10.0.0.6' }, { kind: 'hostname', value: 'node-a' }]));
    const byPod = await store.findHostsByIdentifiers(['prod-eu/shop/checkout-7d9f']);
    expect(byPod.map(h => h.host.sourceId)).toEqual(['dev-2']);
  });

  it('keeps hosts and cursor on a failure, and keeps each source apart', async () => {
    const { store } = await createStore();
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: [node], cursor: 'p1', at: '2026-12-03T11:00:00.000Z' });
    await store.commitHostPage({ sourceId: 's1', sourceType: 'sentinelone', hosts: [node], cursor: null, complete: true, at: '2026-12-03T11:00:00.000Z' });
    await store.recordHostInventoryFailure({ sourceId: 'falcon', sourceType: 'crowdstrike', error: 'HTTP 500', at: '2026-12-03T12:00:00.000Z' });
    await store.recordHostInventoryFailure({ sourceId: 'new', sourceType: 'x', error: 'boom', at: '2026-12-03T12:00:00.000Z' });
    expect(await store.getHostInventoryState('falcon')).toMatchObject({ cursor: 'p1', lastError: 'HTTP 500', consecutiveFailures: 1 });
    expect(await store.getHostInventoryState('new')).toMatchObject({ cursor: null, consecutiveFailures: 1 });
    expect((await store.findHostsByIdentifiers(['dev-1'])).map(h => h.host.source)).toEqual(['falcon', 's1']);
    // keyset paging over (source, sourceId)
    const first = await store.listInventoryHosts({ limit: 1 });
    expect(first.next).toEqual({ source: 'falcon', sourceId: 'dev-1' });
    const second = await store.listInventoryHosts({ limit: 1, after: first.next });
    expect(second.items.map(h => h.source)).toEqual(['s1']);
    expect((await store.listInventoryHosts({ limit: 10, source: 's1' })).items).toHaveLength(1);
  });

  it('a finished walk prunes the hosts not listed since the retention, and nothing else does', async () => {
    const { store } = await createStore();
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: [node, pod], cursor: null, complete: true, at: '2026-08-01T00:00:00.000Z' });
    await store.commitHostPage({ sourceId: 's1', sourceType: 'sentinelone', hosts: [pod], cursor: null, complete: true, at: '2026-08-01T00:00:00.000Z' });
    // a walk cut short never prunes
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: [node], cursor: 'p1', at: '2026-12-03T00:00:00.000Z', pruneListedBefore: '2026-09-01T00:00:00.000Z' });
    expect((await store.listInventoryHosts({ limit: 10, source: 'falcon' })).items).toHaveLength(2);
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: [], cursor: null, complete: true, at: '2026-12-03T01:00:00.000Z', pruneListedBefore: '2026-09-01T00:00:00.000Z' });
    expect((await store.listInventoryHosts({ limit: 10, source: 'falcon' })).items.map(h => h.sourceId)).toEqual(['dev-1']);
    expect(await store.findHostsByIdentifiers(['prod-eu/shop/checkout-7d9f'])).toEqual([
      expect.objectContaining({ host: expect.objectContaining({ source: 's1' }) }),
    ]);
  });

  it('a large page listed again leaves each host exactly its identifiers: as a fresh store has them', async () => {
    const { knex, store } = await createStore();
    const listed = (n: number, ips: string[], hostname = `node-${n}`) => ({
      sourceId: `dev-${n}`,
      asset: { hostname, fqdn: `${hostname}.prod.example.com`, deviceId: `dev-${n}`, ips, macs: [] },
      lastSeenAt: '2026-12-03T10:00:00.000Z',
    });
    // 150 hosts (PostgreSQL: through COPY)
    const first = Array.from({ length: 150 }, (_, n) => listed(n, [`10.0.${n}.1`, `10.1.${n}.1`]));
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: first, cursor: 'p1', at: '2026-12-03T11:00:00.000Z' });
    await store.commitHostPage({ sourceId: 's1', sourceType: 'sentinelone', hosts: first.slice(0, 5), cursor: 'p1', at: '2026-12-03T11:00:00.000Z' });
    // again: unchanged, one IP fewer, a new IP, renamed, with no identifier left but its device id, and 20 new hosts
    const second = [
      ...Array.from({ length: 170 }, (_, n) => {
        if (n % 5 === 1) return listed(n, [`10.0.${n}.1`]);
        if (n % 5 === 2) return listed(n, [`10.0.${n}.1`, `10.1.${n}.1`, `10.2.${n}.1`]);
        if (n % 5 === 3) return listed(n, [`10.0.${n}.1`, `10.1.${n}.1`], `renamed-${n}`);
        return listed(n, [`10.0.${n}.1`, `10.1.${n}.1`]);
      }),
      { sourceId: 'dev-4', asset: { deviceId: 'dev-4', ips: [], macs: [] }, lastSeenAt: null },
    ];
    const at = '2026-12-03T12:00:00.000Z';
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: second, at });

    const fresh = await createStore();
    await fresh.store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: second, at });
    const identifiers = (k: typeof knex) =>
      k('runtime_risk_host_identifiers').where('source', 'falcon').orderBy(['source_id', 'kind', 'value']).select('source_id', 'kind', 'value');
    const expected = await identifiers(fresh.knex);
    expect(expected.length).toBeGreaterThan(600);
    expect(await identifiers(knex)).toEqual(expected);
    const hosts = (k: typeof knex) => k('runtime_risk_hosts').where('source', 'falcon').orderBy('source_id').select();
    expect(await hosts(knex)).toEqual(await hosts(fresh.knex));
    // the other source's hosts are left alone
    expect(Number((await knex('runtime_risk_host_identifiers').where('source', 's1').count({ n: '*' }).first())?.n)).toBe(5 * 5);
    expect((await store.findHostsByIdentifiers(['renamed-3'])).map(h => h.host.sourceId)).toEqual(['dev-3']);
    const gone = await store.findHostsByIdentifiers(['node-3', '10.1.1.1', '10.0.4.1']);
    expect(gone.filter(h => h.host.source === 'falcon')).toEqual([]);
    expect(gone.map(h => `${h.host.source}:${h.host.sourceId}`)).toEqual(['s1:dev-1', 's1:dev-3', 's1:dev-4']);
  });

  it('bumps the data version when hosts change (coverage is a gate input)', async () => {
    const { store } = await createStore();
    const before = await store.getDataVersion();
    await store.commitHostPage({ sourceId: 'falcon', sourceType: 'crowdstrike', hosts: [node], cursor: null, at: '2026-12-03T11:00:00.000Z' });
    expect(await store.getDataVersion()).not.toBe(before);
  });
});
