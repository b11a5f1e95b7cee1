import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type { Entity } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import type { Knex } from 'knex';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import type { IndexedEntity } from '../store/types';
import { validateSignals } from '../ingest/validate';
import { component } from '../testUtils/fixtures';
import { EntityIndexer } from './EntityIndexer';
import { resource, withDependsOn } from './testFixtures';

/*
 * Incremental rebuilds (issue 18 part 6): after the first (full) rebuild, a
 * rebuild reads only the catalog, the signals fetched and the inventory hosts
 * listed since, and writes only the entities whose index changed. Its index is
 * the one a full rebuild makes.
 */

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const logger = mockServices.logger.mock();
const T0 = Date.parse('2026-12-03T10:00:00.000Z');

/** A catalog whose entities the test changes between rebuilds. */
function mutableCatalog(initial: Entity[]): { catalog: CatalogService; set(entities: Entity[]): void } {
  let current = initial;
  const catalog = new Proxy({} as CatalogService, {
    get: (_, prop) => {
      const mock = catalogServiceMock({ entities: current }) as unknown as Record<string | symbol, unknown>;
      const value = mock[prop];
      return typeof value === 'function' ? value.bind(mock) : value;
    },
  });
  return { catalog, set: entities => (current = entities) };
}

interface K8s {
  cluster: string;
  namespace: string;
  pod: string;
  node?: string;
  labels?: Record<string, string>;
}

async function storeSignals(
  store: DatabaseRuntimeRiskStore,
  sourceId: string,
  fetchedAt: string,
  items: { id: string; lastSeenAt: string; hostname: string; ips?: string[]; k8s?: K8s }[],
) {
  const inputs = items.map(i => ({
    sourceId: i.id,
    severity: 'high',
    confidence: 1,
    status: 'active',
    title: `detection ${i.id}`,
    asset: { hostname: i.hostname, ips: i.ips ?? [], macs: [], ...(i.k8s ? { k8s: i.k8s } : {}) },
    firstSeenAt: i.lastSeenAt,
    lastSeenAt: i.lastSeenAt,
  }));
  const { signals } = validateSignals({ sourceId, inputs, fetchedAt, logger });
  await store.commitBatch({ sourceId, sourceType: 'memory', signals, cursor: fetchedAt, at: fetchedAt });
}

/** The index as stored, without `updatedAt`, hosts in a fixed order. */
async function indexContent(store: DatabaseRuntimeRiskStore) {
  return (await store.listEntityIndex()).map(({ updatedAt: _updatedAt, ...e }: IndexedEntity) => ({
    ...e,
    hosts: [...e.hosts].sort((a, b) => `${a.environment} ${a.value} ${a.matchedBy}`.localeCompare(`${b.environment} ${b.value} ${b.matchedBy}`)),
  }));
}

async function rowsOf(knex: Knex, entityRef: string) {
  const entity = await knex('runtime_risk_entities').where({ entity_ref: entityRef }).first();
  const hosts = await knex('runtime_risk_entity_hosts').where({ entity_ref: entityRef }).orderBy(['environment', 'value']);
  return { updatedAt: entity?.updated_at as string | undefined, hosts: hosts.map(h => `${h.environment} ${h.value} ${h.matched_by}`) };
}

async function dataVersion(knex: Knex): Promise<number> {
  return Number((await knex('runtime_risk_data_version').where({ id: 1 }).first()).version);
}

describe.each(databases.eachSupportedId())('incremental index rebuild on %p', databaseId => {
  it('picks up a new signal on a new pod and node of a Kubernetes workload, reading only the new signals', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    let now = T0;
    const search = component('search', { 'backstage.io/kubernetes-label-selector': 'app=search' });
    const other = component('other', { 'runtime-risk.io/hosts': 'web-9' });
    const { catalog } = mutableCatalog([search, other]);
    const indexer = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, clock: () => new Date(now), overlapMs: 0 });
    await storeSignals(
      store,
      'edr',
      new Date(now - 120_000).toISOString(),
      Array.from({ length: 30 }, (_, i) => ({ id: `old-${i}`, lastSeenAt: new Date(now - 120_000).toISOString(), hostname: `vm-${i}` })),
    );
    await storeSignals(store, 'edr', new Date(now - 60_000).toISOString(), [
      { id: 'a1', lastSeenAt: new Date(now - 60_000).toISOString(), hostname: 'node-1', k8s: { cluster: 'prod', namespace: 'shop', pod: 'search-1', node: 'node-1', labels: { app: 'search' } } },
    ]);
    await indexer.rebuild();
    expect(indexer.lastRebuild?.mode).toBe('full');
    expect((await store.getEntity('component:default/search'))?.hosts.map(h => h.value).sort()).toEqual(['node-1', 'pod:prod/shop/search-1']);
    const otherBefore = await rowsOf(knex, 'component:default/other');

    now += 5 * 60_000;
    await storeSignals(store, 'edr', new Date(now - 30_000).toISOString(), [
      { id: 'a2', lastSeenAt: new Date(now - 30_000).toISOString(), hostname: 'node-7', k8s: { cluster: 'prod', namespace: 'shop', pod: 'search-2', node: 'node-7', labels: { app: 'search' } } },
    ]);
    await indexer.rebuild();
    expect(indexer.lastRebuild).toMatchObject({ mode: 'incremental', signalsRead: 1, podsRecomputed: 1, changed: 1, removed: 0 });
    const hosts = (await store.getEntity('component:default/search'))?.hosts ?? [];
    expect(hosts.map(h => `${h.value} ${h.matchedBy}`).sort()).toEqual([
      'node-1 kubernetes:node',
      'node-7 kubernetes:node',
      'pod:prod/shop/search-1 kubernetes:label-selector',
      'pod:prod/shop/search-2 kubernetes:label-selector',
    ]);
    // the entity the signal is not about kept its rows, written by the first rebuild
    expect(await rowsOf(knex, 'component:default/other')).toEqual(otherBefore);

    // nothing new: nothing written, the gate inputs' version stays
    const version = await dataVersion(knex);
    now += 5 * 60_000;
    await indexer.rebuild();
    expect(indexer.lastRebuild).toMatchObject({ mode: 'incremental', signalsRead: 0, changed: 0, removed: 0 });
    expect(await dataVersion(knex)).toBe(version);
  });

  it('reads again a page fetched before the last rebuild began but committed after it (the overlap)', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    let now = T0;
    const { catalog } = mutableCatalog([component('search', { 'backstage.io/kubernetes-id': 'search' })]);
    const indexer = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, clock: () => new Date(now) });
    await indexer.rebuild();
    expect((await store.getEntity('component:default/search'))?.hosts).toEqual([]);
    // fetched 2 minutes before that rebuild, committed after it
    await storeSignals(store, 'edr', new Date(T0 - 120_000).toISOString(), [
      { id: 'late', lastSeenAt: new Date(T0 - 120_000).toISOString(), hostname: 'node-3', k8s: { cluster: 'prod', namespace: 'shop', pod: 'search-9', node: 'node-3', labels: { 'backstage.io/kubernetes-id': 'search' } } },
    ]);
    now += 5 * 60_000;
    await indexer.rebuild();
    expect(indexer.lastRebuild?.mode).toBe('incremental');
    expect((await store.getEntity('component:default/search'))?.hosts.map(h => h.value).sort()).toEqual(['node-3', 'pod:prod/shop/search-9']);
  });

  it("a catalog change to one entity changes only that entity's rows; a removed entity loses its rows", async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    let now = T0;
    const entities = Array.from({ length: 40 }, (_, i) => component(`svc-${i}`, { 'runtime-risk.io/hosts': `web-${i}, db-${i}` }));
    const { catalog, set } = mutableCatalog(entities);
    const indexer = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, clock: () => new Date(now) });
    await indexer.rebuild();
    const before = new Map(await Promise.all(entities.map(async (_, i) => [i, await rowsOf(knex, `component:default/svc-${i}`)] as const)));

    now += 5 * 60_000;
    const changed = entities.map((e, i) => (i === 7 ? component('svc-7', { 'runtime-risk.io/hosts': 'web-7, cache-7' }) : e));
    set(changed.filter((_, i) => i !== 20));
    await indexer.rebuild();
    expect(indexer.lastRebuild).toMatchObject({ mode: 'incremental', changed: 1, removed: 1 });
    for (let i = 0; i < entities.length; i++) {
      const rows = await rowsOf(knex, `component:default/svc-${i}`);
      if (i === 7) {
        expect(rows.hosts).toEqual(['* cache-7 annotation:runtime-risk.io/hosts', '* web-7 annotation:runtime-risk.io/hosts']);
        expect(rows.updatedAt).toBe(new Date(now).toISOString());
      } else if (i === 20) {
        expect(rows).toEqual({ updatedAt: undefined, hosts: [] });
      } else {
        expect(rows).toEqual(before.get(i));
      }
    }
  });

  it('after another replica wrote the index, the next incremental rebuild diffs against the stored index', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    let now = T0;
    const { catalog, set } = mutableCatalog([component('a', { 'runtime-risk.io/hosts': 'web-a' })]);
    const one = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, clock: () => new Date(now) });
    const two = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, clock: () => new Date(now) });
    await one.rebuild();
    // the catalog changes, replica two rebuilds, the catalog changes back: replica one must not trust what it wrote last
    now += 60_000;
    set([component('a', { 'runtime-risk.io/hosts': 'web-b' })]);
    await two.rebuild();
    set([component('a', { 'runtime-risk.io/hosts': 'web-a' })]);
    now += 60_000;
    await one.rebuild();
    expect(one.lastRebuild).toMatchObject({ mode: 'incremental', changed: 1 });
    expect((await store.getEntity('component:default/a'))?.hosts.map(h => h.value)).toEqual(['web-a']);
  });

  it('a full rebuild and incremental ones yield the same index (generated fixture, 6 rounds of changes)', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <X,>(xs: X[]): X => xs[Math.floor(rand() * xs.length)];
    const apps = ['search', 'cart', 'pay', 'auth'];
    const tiers = ['web', 'worker'];
    const clusters = ['prod-eu', 'prod-us', 'stage'];
    const namespaces = ['shop', 'infra'];
    let now = T0;
    const config = new ConfigReader({ runtimeRisk: { coverage: { window: { hours: 1 } } } });
    const makeEntities = (variant: number): Entity[] => {
      const out: Entity[] = [
        resource('prod-eu', { type: 'kubernetes-cluster', environment: 'production' }),
        resource('stage', { type: 'kubernetes-cluster', environment: 'staging' }),
        { apiVersion: 'backstage.io/v1alpha1', kind: 'System', metadata: { name: 'shop', namespace: 'default' }, spec: { owner: 'team-a' } },
        resource('vm-1', { type: 'vm', system: 'shop', environment: 'production' }, { 'runtime-risk.io/hostname': 'vm-1', 'runtime-risk.io/ip': '10.1.0.9' }),
      ];
      for (let i = 0; i < 30; i++) {
        const r = (i * 7 + variant * (i % 5 === 0 ? 1 : 0)) % 11;
        const annotations: Record<string, string> = {};
        if (r % 3 === 0) annotations['backstage.io/kubernetes-label-selector'] = `app=${apps[r % apps.length]}${r % 2 ? `,tier in (${tiers.join(',')})` : ''}`;
        if (r % 4 === 1) annotations['backstage.io/kubernetes-id'] = apps[(r + 1) % apps.length];
        if (r % 5 === 2) annotations['backstage.io/kubernetes-namespace'] = pick(namespaces);
        if (r % 3 === 1) annotations['runtime-risk.io/hosts'] = `10.0.${r}.0/28, host-${i}`;
        if (r % 7 === 3) annotations['runtime-risk.io/hosts.production'] = `10.0.0.0/24`;
        const c = component(`svc-${i}`, annotations);
        out.push(i % 6 === 0 ? withDependsOn(c, 'resource:default/vm-1') : c);
      }
      return out;
    };
    const { catalog, set } = mutableCatalog(makeEntities(0));
    const incremental = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, config, clock: () => new Date(now) });
    let n = 0;
    const randomK8s = (): K8s => {
      const labels: Record<string, string> = { app: pick(apps) };
      if (rand() < 0.6) labels.tier = pick(tiers);
      if (rand() < 0.3) labels['runtime-risk.io/environment'] = pick(['production', 'staging']);
      return { cluster: pick(clusters), namespace: pick(namespaces), pod: `p-${Math.floor(rand() * 25)}`, ...(rand() < 0.7 ? { node: `node-${Math.floor(rand() * 6)}` } : {}), labels };
    };
    const addData = async () => {
      // signals: new pods, pods already known (newer and older than what is stored), IPs inside and outside the blocks
      const items = Array.from({ length: 25 }, () => {
        n += 1;
        return {
          id: `s-${n}`,
          lastSeenAt: new Date(now - Math.floor(rand() * 3 * 3600_000)).toISOString(),
          hostname: `h-${Math.floor(rand() * 40)}`,
          ips: [`10.0.${Math.floor(rand() * 11)}.${Math.floor(rand() * 20)}`],
          ...(rand() < 0.7 ? { k8s: randomK8s() } : {}),
        };
      });
      await storeSignals(store, pick(['edr', 'xdr']), new Date(now - 1000).toISOString(), items);
      // inventory hosts: listed now (some relisted with other labels); those of earlier rounds age out of the 1 h window
      const hosts = Array.from({ length: 8 }, () => ({
        sourceId: `host-${Math.floor(rand() * 30)}`,
        asset: { hostname: `inv-${Math.floor(rand() * 30)}`, ips: [`10.0.${Math.floor(rand() * 11)}.${20 + Math.floor(rand() * 10)}`], macs: [], ...(rand() < 0.8 ? { k8s: randomK8s() } : {}) },
        lastSeenAt: null,
      }));
      await store.commitHostPage({ sourceId: 'edr', sourceType: 'memory', hosts, at: new Date(now - 1000).toISOString() });
    };

    await addData();
    await incremental.rebuild();
    expect(incremental.lastRebuild?.mode).toBe('full');
    for (let round = 1; round <= 6; round++) {
      now += 25 * 60_000;
      await addData();
      if (round % 2 === 0) set(makeEntities(round));
      await incremental.rebuild();
      expect(incremental.lastRebuild?.mode).toBe('incremental');
      const afterIncremental = await indexContent(store);
      // a fresh indexer's first rebuild is a full one over the same data
      const full = new EntityIndexer({ catalog, auth: mockServices.auth(), store, logger, config, clock: () => new Date(now) });
      await full.rebuild();
      expect(full.lastRebuild?.mode).toBe('full');
      const afterFull = await indexContent(store);
      expect(afterFull.length).toBeGreaterThan(30);
      expect(afterIncremental).toEqual(afterFull);
    }
    // the fixture reached pods, nodes and CIDR IPs (the comparison above is not about empty indexes)
    const values = (await indexContent(store)).flatMap(e => e.hosts.map(h => h.matchedBy));
    expect(values.some(m => m.includes('kubernetes:label-selector'))).toBe(true);
    expect(values.some(m => m.includes('kubernetes:node'))).toBe(true);
    expect((await indexContent(store)).flatMap(e => e.hosts).some(h => /^10\.0\.\d+\.\d+$/.test(h.value))).toBe(true);
  });
});
