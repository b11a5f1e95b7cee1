import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Entity } from '@backstage/catalog-model';
import { normalizeAsset, type Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { component } from '../testUtils/fixtures';
import { EntityIndexer } from './EntityIndexer';
import { hostsForEnvironment, indexEntity } from './entityIndex';
import { assetIdentifiers, candidateIdentifiers, identifierMatches } from './identifiers';
import { InventorySource } from './inventory';
import { resource, withDependsOn } from './testFixtures';

function asset(a: Partial<Asset>): Asset {
  return normalizeAsset({ ips: [], macs: [], ...a });
}

function matches(hostValue: string, a: Asset): boolean {
  const candidates = candidateIdentifiers(hostValue);
  return assetIdentifiers(a).some(id => identifierMatches(candidates, id));
}

describe('host matching', () => {
  const cases: [string, Partial<Asset>, boolean][] = [
    ['web-01', { hostname: 'web-01' }, true],
    ['WEB-01', { hostname: 'web-01' }, true],
    ['web-01', { hostname: 'Web-01.Prod.Example.com' }, true],
    ['web-01', { fqdn: 'web-01.prod.example.com' }, true],
    ['web-01.prod.example.com', { fqdn: 'web-01.prod.example.com' }, true],
    ['web-01.prod.example.com', { hostname: 'web-01.prod.example.com' }, true],
    ['web-01', { hostname: 'web-010' }, false],
    ['web-010', { hostname: 'web-01' }, false],
    ['web-0', { hostname: 'web-01' }, false],
    ['web-01.staging.example.com', { fqdn: 'web-01.prod.example.com' }, false],
    ['10.0.0.1', { ips: ['10.0.0.1'] }, true],
    ['10.0.0.1', { ips: ['10.0.0.10'] }, false],
    ['10.0.0.1', { hostname: '10.0.0.1x' }, false],
    ['abc123dev', { deviceId: 'ABC123DEV' }, true],
    ['i-0abc', { instanceId: 'i-0abc' }, true],
    ['i-0abc', { instanceId: 'i-0abcd' }, false],
    ['02-42-AC-11-00-02', { macs: ['02:42:ac:11:00:02'] }, true],
    ['0242ac110002', { macs: ['02-42-AC-11-00-02'] }, true],
  ];
  it.each(cases)('%s vs %j -> %s', (hostValue, a, expected) => {
    expect(matches(hostValue, asset(a))).toBe(expected);
  });
});

describe('indexEntity', () => {
  it('reads the generic and per-environment host annotations', () => {
    const entry = indexEntity(
      component('split', {
        'runtime-risk.io/hosts': ' Web-01, web-02,,web-01 ',
        'runtime-risk.io/hosts.production': 'db-01',
        'other.io/hosts': 'nope',
      }),
      '2026-11-23T10:00:00.000Z',
    );
    expect(entry).toMatchObject({
      entityRef: 'component:default/split',
      kind: 'Component',
      namespace: 'default',
      name: 'split',
      owner: 'group:default/team-a',
      system: 'system:default/shop',
    });
    expect(hostsForEnvironment(entry, 'production')).toEqual([
      { environment: 'production', value: 'db-01', matchedBy: 'annotation:runtime-risk.io/hosts.production' },
    ]);
    expect(hostsForEnvironment(entry, 'staging').map(h => h.value)).toEqual(['web-01', 'web-02']);
    expect(hostsForEnvironment(indexEntity(component('none'), 'x'), 'production')).toEqual([]);
  });
});

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('EntityIndexer on %p', databaseId => {
  it('pages through the whole catalog and replaces the index; indexes a new entity on demand', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    const entities: Entity[] = Array.from({ length: 1203 }, (_, i) =>
      component(`svc-${i}`, { 'runtime-risk.io/hosts': `host-${i}` }),
    );
    const catalog = catalogServiceMock({ entities });
    const indexer = new EntityIndexer({
      catalog,
      auth: mockServices.auth(),
      store,
      logger: mockServices.logger.mock(),
    });
    const query = vi.spyOn(catalog, 'queryEntities');
    expect(await indexer.rebuild()).toBe(1203);
    expect(query).toHaveBeenCalledTimes(3);
    expect((await store.getEntity('component:default/svc-1202'))?.hosts.map(h => h.value)).toEqual(['host-1202']);

    // a rebuild from a changed catalog drops removed entities and picks up changed hosts
    const changed = catalogServiceMock({ entities: [component('svc-0', { 'runtime-risk.io/hosts': 'moved-0' })] });
    const reindexer = new EntityIndexer({ catalog: changed, auth: mockServices.auth(), store, logger: mockServices.logger.mock() });
    expect(await reindexer.rebuild()).toBe(1);
    expect(await store.getEntity('component:default/svc-1')).toBeUndefined();
    expect((await store.getEntity('component:default/svc-0'))?.hosts.map(h => h.value)).toEqual(['moved-0']);

    // one lookup for an entity the index does not know yet
    expect((await indexer.indexOne('component:default/svc-5'))?.hosts.map(h => h.value)).toEqual(['host-5']);
    expect(await store.getEntity('component:default/svc-5')).toBeDefined();
    expect(await indexer.indexOne('component:default/missing')).toBeUndefined();
  });

  it('indexes relations, pods and the inventory on rebuild, and one new entity with its dependsOn Resources', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    const now = new Date().toISOString();
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'memory',
      at: now,
      signals: [
        {
          id: 'edr:p1',
          source: 'edr',
          sourceId: 'p1',
          kind: 'detection',
          severity: 'low',
          confidence: 1,
          status: 'resolved',
          title: 'pod seen',
          tactics: [],
          techniques: [],
          asset: asset({ k8s: { cluster: 'c', namespace: 'n', pod: 'api-1', node: 'node-7', labels: { app: 'api' } } }),
          firstSeenAt: now,
          lastSeenAt: now,
          fetchedAt: now,
        },
      ],
    });
    const vm = resource('api-vm', { type: 'vm', environment: 'production' }, { 'runtime-risk.io/ip': '10.3.0.9' });
    const entities: Entity[] = [
      component('api', { 'backstage.io/kubernetes-label-selector': 'app=api' }),
      vm,
      withDependsOn(component('later'), 'resource:default/api-vm'),
    ];
    const catalog = catalogServiceMock({ entities });
    const indexer = new EntityIndexer({
      catalog,
      auth: mockServices.auth(),
      store,
      logger: mockServices.logger.mock(),
      inventory: InventorySource.of([{ entityRef: 'component:default/later', environment: 'staging', hosts: ['later-stg'] }]),
    });
    expect(await indexer.rebuild()).toBe(3);
    const api = await store.getEntity('component:default/api');
    expect(api?.hosts).toEqual([
      { environment: '*', value: 'node-7', matchedBy: 'kubernetes:node' },
      { environment: '*', value: 'pod:c/n/api-1', matchedBy: 'kubernetes:label-selector' },
    ]);
    const later = await store.getEntity('component:default/later');
    expect(later?.hosts).toEqual([
      { environment: 'production', value: '10.3.0.9', matchedBy: 'relation:dependsOn:resource:default/api-vm' },
      { environment: 'staging', value: 'later-stg', matchedBy: 'inventory' },
    ]);
    expect((await store.listEntityIndex()).map(e => e.entityRef)).toEqual([
      'component:default/api',
      'component:default/later',
      'resource:default/api-vm',
    ]);

    // an entity added to the catalog after the rebuild is indexed on demand, relations included
    const grown = catalogServiceMock({
      entities: [...entities, withDependsOn(component('newer', { 'backstage.io/kubernetes-id': 'x' }), 'resource:default/api-vm')],
    });
    const onDemand = new EntityIndexer({ catalog: grown, auth: mockServices.auth(), store, logger: mockServices.logger.mock() });
    const one = await onDemand.indexOne('component:default/newer');
    expect(one?.hosts).toEqual([
      { environment: 'production', value: '10.3.0.9', matchedBy: 'relation:dependsOn:resource:default/api-vm' },
    ]);
    expect(await store.getEntity('component:default/newer')).toEqual(one);
  });
});
