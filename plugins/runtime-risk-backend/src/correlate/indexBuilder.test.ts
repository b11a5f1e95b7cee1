import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Entity } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import { normalizeAsset, type Asset, type Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { coverageReport } from './coverage';
import type { IndexedEntity } from '../store/types';
import { component } from '../testUtils/fixtures';
import { correlationTried, hostsForEnvironment, partsWithoutHosts } from './entityIndex';
import { buildIndex, KnownAssets } from './indexBuilder';
import { InventorySource, parseInventoryFile, type InventoryEntry } from './inventory';
import { resource, withDependsOn } from './testFixtures';
import type { JsonObject } from '@backstage/types';

function assetsOf(...list: Partial<Asset>[]): KnownAssets {
  const known = new KnownAssets();
  for (const a of list) known.addAsset(normalizeAsset({ ips: [], macs: [], ...a }));
  return known;
}

function build(entities: Entity[], assets = new KnownAssets(), inventory: InventoryEntry[] = [], inheritSystemResources = false) {
  const { entries, problems } = buildIndex({
    entities,
    assets,
    inventory,
    updatedAt: '2026-11-23T10:00:00.000Z',
    inheritSystemResources,
  });
  const byRef = new Map(entries.map(e => [e.entityRef, e]));
  return { get: (ref: string) => byRef.get(ref)!, problems };
}

function hostsIn(entry: IndexedEntity, environment: string): [string, string][] {
  return hostsForEnvironment(entry, environment).map(h => [h.value, h.matchedBy]);
}

describe('catalog relations', () => {
  const entities = [
    withDependsOn(component('pay'), 'resource:default/pay-db-host', 'resource:default/pay-vm-staging', 'resource:default/bucket'),
    resource('pay-db-host', { type: 'host', environment: 'production' }, { 'runtime-risk.io/hostname': 'DB-01.prod.example.com' }),
    resource('pay-vm-staging', { type: 'vm' }, { 'runtime-risk.io/instance-id': 'i-0abc', 'runtime-risk.io/ip': '10.1.0.5' }, {
      'runtime-risk.io/environment': 'staging',
    }),
    resource('bucket', { type: 's3-bucket', environment: 'production' }),
    resource('shop-node-1', { type: 'node', system: 'shop' }),
    resource('other-node', { type: 'node', system: 'other' }),
  ];

  it('reaches dependsOn host Resources per environment, never a Resource merely of its system', () => {
    const pay = build(entities).get('component:default/pay');
    expect(hostsIn(pay, 'production')).toEqual([['db-01.prod.example.com', 'relation:dependsOn:resource:default/pay-db-host']]);
    expect(hostsIn(pay, 'staging')).toEqual([
      ['10.1.0.5', 'relation:dependsOn:resource:default/pay-vm-staging'],
      ['i-0abc', 'relation:dependsOn:resource:default/pay-vm-staging'],
    ]);
  });

  it('with inheritSystemResources, also reaches the system Resources everywhere (the broad rule)', () => {
    const pay = build(entities, new KnownAssets(), [], true).get('component:default/pay');
    expect(hostsIn(pay, 'production')).toEqual([
      ['db-01.prod.example.com', 'relation:dependsOn:resource:default/pay-db-host'],
      ['shop-node-1', 'relation:system:resource:default/shop-node-1'],
    ]);
    expect(hostsIn(pay, 'staging')).toEqual([
      ['10.1.0.5', 'relation:dependsOn:resource:default/pay-vm-staging'],
      ['i-0abc', 'relation:dependsOn:resource:default/pay-vm-staging'],
      ['shop-node-1', 'relation:system:resource:default/shop-node-1'],
    ]);
  });

  it('reaches host Resources whose spec.dependencyOf names it', () => {
    const index = build([
      component('api'),
      resource('api-vm', { type: 'vm', system: 'shop', dependencyOf: ['component:default/api'] }),
      resource('api-vm-2', { type: 'host', dependencyOf: ['api'] }),
      resource('db', { type: 'database', dependencyOf: ['component:default/api'] }),
    ]);
    expect(hostsIn(index.get('component:default/api'), 'production')).toEqual([
      ['api-vm', 'relation:dependencyOf:resource:default/api-vm'],
      ['api-vm-2', 'relation:dependencyOf:resource:default/api-vm-2'],
    ]);
  });

  it('follows spec.dependsOn when the catalog has not written relations', () => {
    const entity = component('plain');
    entity.spec = { ...entity.spec, system: 'none', dependsOn: ['resource:pay-db-host', 'not a ref:/'] };
    const plain = build([entity, ...entities]).get('component:default/plain');
    expect(hostsIn(plain, 'production')).toEqual([['db-01.prod.example.com', 'relation:dependsOn:resource:default/pay-db-host']]);
    expect(hostsIn(plain, 'staging')).toEqual([]);
  });

  it('never counts production hosts for staging (environment separation)', () => {
    const svc = component('svc', {
      'runtime-risk.io/hosts': 'shared-01',
      'runtime-risk.io/hosts.production': 'prod-01, 10.9.0.0/16',
      'runtime-risk.io/hosts.staging': 'stage-01',
    });
    const index = build(
      [withDependsOn(svc, 'resource:default/pay-db-host'), ...entities],
      assetsOf({ ips: ['10.9.3.4'] }, { ips: ['10.8.0.1'] }),
      [{ entityRef: 'component:default/svc', environment: 'production', hosts: ['prod-inv-01'] }],
    ).get('component:default/svc');
    const staging = hostsIn(index, 'staging').map(([v]) => v);
    expect(staging).toEqual(['stage-01']);
    for (const prod of ['prod-01', '10.9.3.4', '10.9.0.0/16', 'prod-inv-01', 'db-01.prod.example.com', 'shared-01']) {
      expect(staging).not.toContain(prod);
    }
    expect(hostsIn(index, 'production').map(([v]) => v)).toEqual([
      '10.9.0.0/16',
      '10.9.3.4',
      'db-01.prod.example.com',
      'prod-01',
      'prod-inv-01',
    ]);
    // an environment with no own annotation gets the generic one
    expect(hostsIn(index, 'qa').map(([v]) => v)).toEqual(['shared-01']);
  });
});

describe('System aggregation', () => {
  function system(name: string): Entity {
    return { apiVersion: 'backstage.io/v1alpha1', kind: 'System', metadata: { name, namespace: 'default' }, spec: { owner: 'team-a' } };
  }
  function inSystem(entity: Entity, systemName: string): Entity {
    return { ...entity, spec: { ...entity.spec, system: systemName } };
  }
  const entities = [
    system('shop'),
    system('empty'),
    // cart: a VM it depends on, production only
    inSystem(withDependsOn(component('cart'), 'resource:default/cart-vm'), 'shop'),
    resource('cart-vm', { type: 'vm', system: 'shop', environment: 'production' }),
    // web: generic hosts, replaced in staging
    inSystem(component('web', { 'runtime-risk.io/hosts': 'web-01', 'runtime-risk.io/hosts.staging': 'web-stg-01' }), 'shop'),
    // docs: no hosts at all; joins through a partOf relation only
    { ...component('docs'), spec: { type: 'website', owner: 'team-a' }, relations: [{ type: 'partOf', targetRef: 'system:default/shop' }] },
    // the System's own Resource, reached by no Component
    resource('shop-bastion', { type: 'host', system: 'shop' }),
    inSystem(component('lonely'), 'empty'),
  ];
  const index = build(entities);
  const shop = index.get('system:default/shop');

  it.each([
    [
      'production',
      [
        // cart's VM is also one of the System's own Resources
        ['cart-vm', 'relation:hasPart:resource:default/cart-vm, system:component:default/cart'],
        ['shop-bastion', 'relation:hasPart:resource:default/shop-bastion'],
        ['web-01', 'system:component:default/web'],
      ],
      ['component:default/docs'],
    ],
    [
      'staging',
      [
        ['shop-bastion', 'relation:hasPart:resource:default/shop-bastion'],
        ['web-stg-01', 'system:component:default/web'],
      ],
      ['component:default/cart', 'component:default/docs'],
    ],
    [
      'qa',
      [
        ['shop-bastion', 'relation:hasPart:resource:default/shop-bastion'],
        ['web-01', 'system:component:default/web'],
      ],
      ['component:default/cart', 'component:default/docs'],
    ],
  ])('a System gate in %s covers its Components\' and own hosts, naming the Components without hosts', (env, hosts, hostless) => {
    expect(hostsIn(shop, env)).toEqual(hosts);
    expect(partsWithoutHosts(shop, env)).toEqual(hostless);
  });

  it('lists its Components (spec.system or partOf) with the environments they have hosts in', () => {
    expect(shop.parts).toEqual([
      { entityRef: 'component:default/cart', environments: ['production'] },
      { entityRef: 'component:default/docs', environments: [] },
      { entityRef: 'component:default/web', environments: ['*', 'staging'] },
    ]);
  });

  it('a sibling Component never reaches the System\'s Resources', () => {
    expect(hostsIn(index.get('component:default/web'), 'production')).toEqual([['web-01', 'annotation:runtime-risk.io/hosts']]);
    expect(hostsIn(index.get('component:default/docs'), 'production')).toEqual([]);
  });

  it('a System whose Components have no hosts has none (uncorrelated), and says what it tried', () => {
    const empty = index.get('system:default/empty');
    expect(hostsIn(empty, 'production')).toEqual([]);
    expect(partsWithoutHosts(empty, 'production')).toEqual(['component:default/lonely']);
    expect(correlationTried('production', empty).join(' ')).toContain('the hosts of its Components: component:default/lonely');
  });

  it('other entities have no parts', () => {
    expect(index.get('component:default/web').parts).toBeUndefined();
    expect(partsWithoutHosts(index.get('component:default/web'), 'production')).toEqual([]);
  });
});

describe('kubernetes', () => {
  const pods = assetsOf(
    { hostname: 'pay-7d9f-a', k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'pay-7d9f-a', node: 'ip-10-0-3-17', labels: { app: 'pay', tier: 'api' } } },
    { hostname: 'pay-7d9f-b', k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'pay-7d9f-b', node: 'ip-10-0-3-18', labels: { app: 'pay', tier: 'api', canary: 'true' } } },
    { k8s: { cluster: 'staging', namespace: 'shop', pod: 'pay-5c-a', node: 'ip-10-1-0-9', labels: { app: 'pay', tier: 'api' } } },
    { k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'cart-1', node: 'ip-10-0-3-17', labels: { 'backstage.io/kubernetes-id': 'cart' } } },
    { k8s: { cluster: 'prod-eu', namespace: 'other', pod: 'cart-2', node: 'ip-10-0-3-19', labels: { 'backstage.io/kubernetes-id': 'cart' } } },
    { k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'search-1', node: 'ip-10-0-3-20', labels: { app: 'search' } } },
  );
  const clusters = [
    resource('prod-eu', { type: 'kubernetes-cluster', environment: 'production' }),
    resource('staging-cluster', { type: 'kubernetes-cluster' }, { 'runtime-risk.io/cluster': 'staging' }, { 'runtime-risk.io/environment': 'staging' }),
  ];
  const entities = [
    component('pay', { 'backstage.io/kubernetes-label-selector': 'app=pay,tier in (api),!canary' }),
    component('cart', { 'backstage.io/kubernetes-id': 'cart', 'backstage.io/kubernetes-namespace': 'shop' }),
    component('search', { 'backstage.io/kubernetes-label-selector': 'app notin (pay,cart),app' }),
    component('broken', { 'backstage.io/kubernetes-label-selector': 'app in (pay' }),
    ...clusters,
  ];

  it('resolves label selectors to pods and their nodes, per cluster environment', () => {
    const { get, problems } = build(entities, pods);
    expect(hostsIn(get('component:default/pay'), 'production')).toEqual([
      ['ip-10-0-3-17', 'kubernetes:node'],
      ['pod:prod-eu/shop/pay-7d9f-a', 'kubernetes:label-selector'],
    ]);
    expect(hostsIn(get('component:default/pay'), 'staging')).toEqual([
      ['ip-10-1-0-9', 'kubernetes:node'],
      ['pod:staging/shop/pay-5c-a', 'kubernetes:label-selector'],
    ]);
    expect(hostsIn(get('component:default/cart'), 'production')).toEqual([
      ['ip-10-0-3-17', 'kubernetes:node'],
      ['pod:prod-eu/shop/cart-1', 'kubernetes:kubernetes-id'],
    ]);
    expect(hostsIn(get('component:default/search'), 'production').map(([v]) => v)).toEqual([
      'ip-10-0-3-20',
      'pod:prod-eu/shop/search-1',
    ]);
    expect(get('component:default/broken').hosts).toEqual([]);
    expect(problems).toEqual([
      { entityRef: 'component:default/broken', message: expect.stringContaining('backstage.io/kubernetes-label-selector') },
    ]);
  });

  it('fans a node out to every workload scheduled on it, and to no other', () => {
    const { entries } = buildIndex({ entities, assets: pods, inventory: [], updatedAt: 'x' });
    const onNode = entries
      .filter(e => hostsForEnvironment(e, 'production').some(h => h.value === 'ip-10-0-3-17'))
      .map(e => e.entityRef);
    expect(onNode).toEqual(['component:default/pay', 'component:default/cart']);
  });

  it('uses the pod label runtime-risk.io/environment over the cluster, and * for an unknown cluster', () => {
    const index = build(
      [component('w', { 'backstage.io/kubernetes-id': 'w' })],
      assetsOf(
        { k8s: { cluster: 'c1', namespace: 'n', pod: 'w-1', labels: { 'backstage.io/kubernetes-id': 'w', 'runtime-risk.io/environment': 'staging' } } },
        { k8s: { cluster: 'c2', namespace: 'n', pod: 'w-2', labels: { 'backstage.io/kubernetes-id': 'w' } } },
      ),
    ).get('component:default/w');
    expect(index.hosts.map(h => [h.environment, h.value])).toEqual([
      ['*', 'pod:c2/n/w-2'],
      ['staging', 'pod:c1/n/w-1'],
    ]);
  });
});

describe('inventory, CIDRs and several rules', () => {
  it('maps inventory hosts per environment and resolves CIDR blocks against known IPs', () => {
    const svc = component('legacy', { 'runtime-risk.io/hosts': '10.20.0.0/24, 2001:db8:aa::/48' });
    const { get, problems } = build(
      [svc],
      assetsOf({ ips: ['10.20.0.7', '10.20.1.7'] }, { hostname: '10.20.0.8' }, { ips: ['2001:db8:aa::1', '2001:db8:ab::1'] }),
      [
        { entityRef: 'component:default/legacy', environment: 'staging', hosts: ['legacy-stg-01', '10.20.0.99'] },
        { entityRef: 'component:default/gone', hosts: ['x'] },
      ],
    );
    const entry = get('component:default/legacy');
    expect(hostsIn(entry, 'production').map(([v]) => v)).toEqual([
      '10.20.0.0/24',
      '10.20.0.7',
      '10.20.0.8',
      '10.20.0.99',
      '2001:db8:aa::/48',
      '2001:db8:aa::1',
    ]);
    expect(hostsIn(entry, 'staging')).toContainEqual(['legacy-stg-01', 'inventory']);
    // staging has no own annotation: the generic one (and its CIDR) applies there too
    expect(hostsIn(entry, 'staging')).toContainEqual(['10.20.0.99', 'inventory, annotation:runtime-risk.io/hosts']);
    expect(hostsIn(entry, 'production')).toContainEqual(['10.20.0.99', 'annotation:runtime-risk.io/hosts']);
    expect(problems).toEqual([{ entityRef: 'component:default/gone', message: expect.stringContaining('inventory') }]);
  });

  it('lists every rule that reached the same host', () => {
    const entities = [
      withDependsOn(component('pay', { 'runtime-risk.io/hosts': 'pay-db-host' }), 'resource:default/pay-db-host'),
      resource('pay-db-host', { type: 'host' }),
    ];
    const entry = build(entities, new KnownAssets(), [{ entityRef: 'component:default/pay', hosts: ['PAY-DB-HOST'] }]).get(
      'component:default/pay',
    );
    expect(hostsIn(entry, 'production')).toEqual([
      ['pay-db-host', 'annotation:runtime-risk.io/hosts, relation:dependsOn:resource:default/pay-db-host, inventory'],
    ]);
  });

  it('names every method it tried, and environments that do have hosts', () => {
    const entry = build([component('p', { 'runtime-risk.io/hosts.production': 'a' })]).get('component:default/p');
    const tried = correlationTried('staging', entry);
    expect(tried).toEqual(
      expect.arrayContaining([
        'annotation:runtime-risk.io/hosts',
        'annotation:runtime-risk.io/hosts.staging',
        'kubernetes:label-selector',
        'kubernetes:node',
        'inventory',
      ]),
    );
    expect(tried.join(' ')).toContain('relation:dependsOn');
    expect(tried.join(' ')).toContain('other environments: production');
  });
});

describe('inventory source', () => {
  it('reads the config list and a YAML file, re-reading the file on each call', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-inv-'));
    const file = path.join(dir, 'inventory.yaml');
    fs.writeFileSync(file, 'inventory:\n  - entityRef: legacy\n    environment: staging\n    hosts: [stg-01]\n');
    const source = InventorySource.fromConfig(
      new ConfigReader({
        runtimeRisk: {
          correlation: { inventory: [{ entityRef: 'Component:default/Pay', hosts: ['web-01'] }], inventoryFile: file },
        },
      }),
    );
    expect(source.entries()).toEqual([
      { entityRef: 'component:default/pay', hosts: ['web-01'] },
      { entityRef: 'component:default/legacy', environment: 'staging', hosts: ['stg-01'] },
    ]);
    fs.writeFileSync(file, JSON.stringify([{ entityRef: 'component:default/legacy', hosts: ['stg-02'] }]));
    expect(source.entries()[1]).toEqual({ entityRef: 'component:default/legacy', hosts: ['stg-02'] });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ inventory: [{ hosts: ['a'] }] }, 'runtimeRisk.correlation.inventory.0.entityRef'],
    [{ inventory: [{ entityRef: 'a', hosts: 'a' }] }, 'runtimeRisk.correlation.inventory.0.hosts'],
    [{ inventory: [{ entityRef: 'a', hosts: [], environment: 'prod uction' }] }, 'runtimeRisk.correlation.inventory.0.environment'],
    [{ inventory: [{ entityRef: 'a', hosts: [], color: 'red' }] }, 'runtimeRisk.correlation.inventory.0'],
    [{ inventoryFile: '/nonexistent/inventory.yaml' }, 'runtimeRisk.correlation.inventoryFile'],
  ])('fails fast naming the key for %j', (correlation, key) => {
    expect(() => InventorySource.fromConfig(new ConfigReader({ runtimeRisk: { correlation } } as JsonObject))).toThrow(key);
  });

  it('names the file and field of a bad file', () => {
    expect(() => parseInventoryFile('- entityRef: a\n  hosts: [1]\n', 'inv.yaml')).toThrow('inv.yaml.0.hosts.0');
    expect(() => parseInventoryFile('{ not yaml', 'inv.yaml')).toThrow('inv.yaml');
  });
});

describe('coverage report', () => {
  it('lists hosts of one entity reached by two rules, and signals no host matches', () => {
    const { entries } = buildIndex({
      entities: [
        withDependsOn(component('pay', { 'runtime-risk.io/hosts': 'pay-db-host' }), 'resource:default/pay-db-host'),
        resource('pay-db-host', { type: 'host' }),
        component('none'),
      ],
      assets: new KnownAssets(),
      inventory: [],
      updatedAt: 'x',
    });
    const signal = (id: string, a: Partial<Asset>) =>
      ({ id, source: 'edr', severity: 'high', title: id, asset: normalizeAsset({ ips: [], macs: [], ...a }) }) as Signal;
    const report = coverageReport({
      entities: entries,
      activeSignals: [signal('hit', { fqdn: 'PAY-DB-HOST.example.com' }), signal('miss', { hostname: 'pay-db-host2' })],
      environments: ['production'],
      kinds: ['component'],
      limit: 10,
    });
    expect(report.sharedHosts).toEqual([
      {
        host: 'pay-db-host',
        matches: [
          { entityRef: 'component:default/pay', environment: '*', matchedBy: 'annotation:runtime-risk.io/hosts' },
          { entityRef: 'component:default/pay', environment: '*', matchedBy: 'relation:dependsOn:resource:default/pay-db-host' },
        ],
      },
    ]);
    expect(report.unmatchedSignals).toEqual({
      totalCount: 1,
      items: [{ id: 'miss', source: 'edr', severity: 'high', title: 'miss', identifiers: ['hostname:pay-db-host2'] }],
    });
    expect(report.entitiesWithoutHosts).toEqual([{ entityRef: 'component:default/none', environments: ['production'] }]);
    expect(report.environments).toEqual([{ environment: 'production', entities: 2, correlated: 1, uncorrelated: 1, hosts: 1 }]);
  });
});
