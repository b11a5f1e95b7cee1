import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DatabaseRuntimeRiskStore } from './DatabaseRuntimeRiskStore';

/**
 * The state row of a source (and of a host inventory source) is created by an
 * atomic upsert, never a read-then-insert: concurrent first writes of a new
 * source all succeed, and concurrent counters (failures, rejected records) add
 * up, on SQLite and PostgreSQL. Concurrent upserts of one new entity of the
 * index (the gate indexes an entity it does not know on demand) succeed too.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const N = 8;
const AT = '2026-12-03T10:00:00.000Z';

function signal(source: string, sourceId: string): Signal {
  return {
    id: `${source}:${sourceId}`,
    source,
    sourceId,
    kind: 'detection',
    severity: 'high',
    confidence: 0.9,
    status: 'active',
    title: `detection ${sourceId}`,
    tactics: [],
    techniques: [],
    asset: { hostname: `web-${sourceId}`, ips: [], macs: [] },
    firstSeenAt: AT,
    lastSeenAt: AT,
    fetchedAt: AT,
  };
}

describe.each(databases.eachSupportedId())('concurrent source state writes on %p', databaseId => {
  async function createStore() {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    return { knex, store };
  }
  const all = (n: number, f: (i: number) => Promise<unknown>) => Promise.allSettled(Array.from({ length: n }, (_, i) => f(i)));
  const reasons = (results: PromiseSettledResult<unknown>[]) =>
    results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map(r => String(r.reason));

  it('commits concurrent first batches of a new source, counting every rejected record', async () => {
    const { knex, store } = await createStore();
    const results = await all(N, i =>
      store.commitBatch({ sourceId: 'new-push', sourceType: 'push', signals: [signal('new-push', `s-${i}`)], rejected: 1, at: AT }),
    );
    expect(reasons(results)).toEqual([]);
    expect(Number((await knex('runtime_risk_signals').where({ source: 'new-push' }).count({ n: '*' }).first())?.n)).toBe(N);
    expect(await store.getSourceState('new-push')).toMatchObject({ type: 'push', rejectedCount: N, consecutiveFailures: 0, lastSuccessAt: AT, cursor: null });
  });

  it('records concurrent first failures of a new source, counting each', async () => {
    const { store } = await createStore();
    const results = await all(N, () => store.recordFailure({ sourceId: 'new-pull', sourceType: 'pull', error: 'boom', rejected: 2, at: AT }));
    expect(reasons(results)).toEqual([]);
    expect(await store.getSourceState('new-pull')).toMatchObject({ consecutiveFailures: N, rejectedCount: 2 * N, lastError: 'boom', lastSuccessAt: null });
    // a success resets the failures and keeps the cursor given
    await store.commitBatch({ sourceId: 'new-pull', sourceType: 'pull', signals: [], cursor: 'c1', at: AT });
    expect(await store.getSourceState('new-pull')).toMatchObject({ consecutiveFailures: 0, rejectedCount: 2 * N, lastError: null, cursor: 'c1' });
  });

  it('commits concurrent first host pages and failures of a new inventory source', async () => {
    const { store } = await createStore();
    const host = (i: number) => ({ sourceId: `dev-${i}`, asset: { hostname: `node-${i}`, ips: [], macs: [] }, lastSeenAt: null });
    const pages = await all(N, i =>
      store.commitHostPage({ sourceId: 'falcon-new', sourceType: 'crowdstrike', hosts: [host(i)], cursor: `p${i}`, rejected: 1, at: AT }),
    );
    expect(reasons(pages)).toEqual([]);
    expect(await store.getHostInventoryState('falcon-new')).toMatchObject({ rejectedCount: N, consecutiveFailures: 0, lastSuccessAt: AT });
    expect((await store.listInventoryHosts({ limit: 50 })).items.filter(h => h.source === 'falcon-new')).toHaveLength(N);

    const failures = await all(N, () => store.recordHostInventoryFailure({ sourceId: 'falcon-other', sourceType: 'crowdstrike', error: 'down', at: AT }));
    expect(reasons(failures)).toEqual([]);
    expect(await store.getHostInventoryState('falcon-other')).toMatchObject({ consecutiveFailures: N, lastError: 'down', cursor: null });
  });

  it('upserts one new entity of the index concurrently, the last write winning whole', async () => {
    const { knex, store } = await createStore();
    const entity = (i: number) => ({
      entityRef: 'component:default/checkout',
      kind: 'component',
      namespace: 'default',
      name: 'checkout',
      hosts: [{ environment: 'production', value: `host-${i}`, matchedBy: 'hostname' }],
      updatedAt: AT,
    });
    const results = await all(N, i => store.upsertEntity(entity(i)));
    expect(reasons(results)).toEqual([]);
    expect(await knex('runtime_risk_entities').where({ entity_ref: 'component:default/checkout' })).toHaveLength(1);
    // the hosts are those of one write, not a mix
    expect(await knex('runtime_risk_entity_hosts').where({ entity_ref: 'component:default/checkout' })).toHaveLength(1);
    const results2 = await all(N, i => store.applyEntityIndexChanges({ upsert: [{ ...entity(i), entityRef: 'component:default/cart', name: 'cart' }], remove: [] }));
    expect(reasons(results2)).toEqual([]);
    expect(await knex('runtime_risk_entity_hosts').where({ entity_ref: 'component:default/cart' })).toHaveLength(1);
  });
});
