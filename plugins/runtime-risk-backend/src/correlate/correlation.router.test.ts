import { TestDatabases, mockCredentials, type TestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Knex } from 'knex';
import request from 'supertest';
import { startBackend, type Harness } from '../testUtils/backend';
import { postGate } from '../testUtils/gateRequests';
import { MemoryPullSource, component, signalInput } from '../testUtils/fixtures';
import { resource, withDependsOn } from './testFixtures';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const USER = mockCredentials.user.header();

/** A component in its own system (so no system Resources reach it unless the test says so). */
function service(name: string, annotations: Record<string, string> = {}): Entity {
  const entity = component(name, annotations);
  entity.spec = { ...entity.spec, system: `${name}-system` };
  return entity;
}

const catalog: Entity[] = [
  service('pay', { 'backstage.io/kubernetes-label-selector': 'app in (pay),tier!=batch' }),
  service('cart', { 'backstage.io/kubernetes-id': 'cart' }),
  service('search', { 'backstage.io/kubernetes-label-selector': 'app=search' }),
  withDependsOn(service('ledger'), 'resource:default/ledger-vm', 'resource:default/ledger-vm-staging'),
  service('billing'),
  service('orphan'),
  resource('ledger-vm', { type: 'vm', environment: 'production' }, { 'runtime-risk.io/hostname': 'vm-ledger-01' }),
  resource('ledger-vm-staging', { type: 'vm' }, {}, { 'runtime-risk.io/environment': 'staging' }),
  resource('prod-eu', { type: 'kubernetes-cluster', environment: 'production' }),
];

/** A pod as EDR reports it (a resolved detection: it tells where the pod runs, and adds no risk). */
function podSeen(id: string, pod: string, node: string, labels: Record<string, string>): SignalInput {
  return signalInput(id, {
    status: 'resolved',
    severity: 'low',
    asset: { hostname: pod, ips: [], macs: [], k8s: { cluster: 'prod-eu', namespace: 'shop', pod, node, labels } },
  });
}

describe.each(databases.eachSupportedId())('correlation through the store and router on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  let edr: MemoryPullSource;
  let server: TestBackend['server'];

  const gate = (entity: string, environment: string) => postGate(server, `component:default/${entity}`, environment);

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    edr = new MemoryPullSource('edr');
    edr.pages = [
      {
        signals: [
          podSeen('pod-pay-a', 'pay-7d9f-a', 'ip-10-0-3-17', { app: 'pay', tier: 'api' }),
          podSeen('pod-pay-batch', 'pay-batch-1', 'ip-10-0-3-50', { app: 'pay', tier: 'batch' }),
          podSeen('pod-cart-1', 'cart-1', 'ip-10-0-3-17', { 'backstage.io/kubernetes-id': 'cart' }),
          podSeen('pod-search-1', 'search-1', 'ip-10-0-3-99', { app: 'search' }),
          signalInput('node-crit', { hostname: 'IP-10-0-3-17.eu-west-1.compute.internal', severity: 'critical' }),
          signalInput('vm-crit', { hostname: 'vm-ledger-01', severity: 'critical' }),
          signalInput('stray', { hostname: 'stray-host-9', severity: 'high' }),
        ],
      },
    ];
    harness = await startBackend({
      knex,
      sources: [edr],
      entities: catalog,
      config: {
        runtimeRisk: {
          ingestion: { frequency: { seconds: 30 } },
          correlation: { inventory: [{ entityRef: 'billing', environment: 'production', hosts: ['inv-billing-01'] }] },
        },
      },
    });
    server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('reaches pods by label selector and their node; a detection on the node blocks the workload', async () => {
    const res = await gate('pay', 'production');
    expect(res.status).toBe(200);
    expect(res.body.hosts).toEqual([
      { id: 'ip-10-0-3-17', matchedBy: 'kubernetes:node', value: 'ip-10-0-3-17', sources: ['edr'] },
      { id: 'pod:prod-eu/shop/pay-7d9f-a', matchedBy: 'kubernetes:label-selector', value: 'pod:prod-eu/shop/pay-7d9f-a', sources: ['edr'] },
    ]);
    expect(res.body.decision).toBe('block');
    const active = res.body.reasons.find((r: { code: string }) => r.code === 'signal_active');
    expect(active.signalIds).toEqual(['edr:node-crit']);
  });

  it('fans the node out to every workload on it (kubernetes-id), and not to workloads elsewhere', async () => {
    const cart = await gate('cart', 'production');
    expect(cart.body.decision).toBe('block');
    expect(cart.body.hosts.map((h: { id: string; matchedBy: string }) => [h.id, h.matchedBy])).toEqual([
      ['ip-10-0-3-17', 'kubernetes:node'],
      ['pod:prod-eu/shop/cart-1', 'kubernetes:kubernetes-id'],
    ]);
    const search = await gate('search', 'production');
    expect(search.body.hosts.map((h: { id: string }) => h.id)).toEqual(['ip-10-0-3-99', 'pod:prod-eu/shop/search-1']);
    expect(search.body.riskLevel).toBe('low');
    expect(search.body.decision).toBe('proceed');
  });

  it('reaches a VM through a dependsOn host Resource, only in its environment', async () => {
    const prod = await gate('ledger', 'production');
    expect(prod.body.hosts).toEqual([
      { id: 'vm-ledger-01', matchedBy: 'relation:dependsOn:resource:default/ledger-vm', value: 'vm-ledger-01', sources: ['edr'] },
    ]);
    expect(prod.body.decision).toBe('block');
    const staging = await gate('ledger', 'staging');
    expect(staging.body.hosts).toEqual([
      { id: 'ledger-vm-staging', matchedBy: 'relation:dependsOn:resource:default/ledger-vm-staging', value: 'ledger-vm-staging' },
    ]);
    // no source has reported the staging VM: uncorrelated, naming it (DESIGN "Coverage")
    expect(staging.body.riskLevel).toBe('unknown');
    expect(staging.body.reasons.map((r: { code: string }) => r.code)).toEqual(['uncorrelated']);
    expect(staging.body.reasons[0].message).toContain('hosts no source has seen: ledger-vm-staging');
    expect(staging.body.signals.count).toBe(0);
  });

  it('reaches hosts through the inventory', async () => {
    const res = await gate('billing', 'production');
    expect(res.body.hosts).toEqual([{ id: 'inv-billing-01', matchedBy: 'inventory', value: 'inv-billing-01' }]);
    // reached, but no source has reported it: uncorrelated (DESIGN "Coverage")
    expect(res.body.riskLevel).toBe('unknown');
    expect(res.body.reasons[0].message).toContain('inv-billing-01');
  });

  it('never counts production pods and nodes for staging, and says what it tried', async () => {
    const res = await gate('pay', 'staging');
    expect(res.status).toBe(200);
    expect(res.body.hosts).toEqual([]);
    expect(res.body.riskLevel).toBe('unknown');
    const reason = res.body.reasons.find((r: { code: string }) => r.code === 'uncorrelated');
    for (const tried of ['annotation:runtime-risk.io/hosts.staging', 'relation:dependsOn', 'kubernetes:label-selector', 'kubernetes:node', 'inventory', 'other environments: production']) {
      expect(reason.message).toContain(tried);
    }
    const orphan = await gate('orphan', 'production');
    expect(orphan.body.riskLevel).toBe('unknown');
    expect(orphan.body.reasons.find((r: { code: string }) => r.code === 'uncorrelated').message).not.toContain('other environments');
  });

  it('reports coverage: entities without hosts, unmatched signals, shared hosts, counts per environment', async () => {
    const res = await request(server).get('/api/runtime-risk/v1/coverage').set('Authorization', USER);
    expect(res.status).toBe(200);
    const without = Object.fromEntries(res.body.entitiesWithoutHosts.map((e: { entityRef: string; environments: string[] }) => [e.entityRef, e.environments]));
    expect(without).toEqual({
      'component:default/orphan': ['production', 'staging'],
      'component:default/billing': ['staging'],
      'component:default/pay': ['staging'],
      'component:default/cart': ['staging'],
      'component:default/search': ['staging'],
    });
    expect(res.body.environments).toEqual([
      { environment: 'production', entities: 6, correlated: 5, uncorrelated: 1, hosts: 7 },
      { environment: 'staging', entities: 6, correlated: 1, uncorrelated: 5, hosts: 1 },
    ]);
    expect(res.body.activeSignals).toBe(3);
    expect(res.body.unmatchedSignals.totalCount).toBe(1);
    expect(res.body.unmatchedSignals.items[0]).toMatchObject({ id: 'edr:stray', identifiers: ['hostname:stray-host-9'] });
    expect(res.body.sharedHosts).toEqual([
      {
        host: 'ip-10-0-3-17',
        matches: [
          { entityRef: 'component:default/cart', environment: 'production', matchedBy: 'kubernetes:node' },
          { entityRef: 'component:default/pay', environment: 'production', matchedBy: 'kubernetes:node' },
        ],
      },
    ]);

    const staging = await request(server).get('/api/runtime-risk/v1/coverage?environment=staging&kind=component,resource&limit=2').set('Authorization', USER);
    expect(staging.status).toBe(200);
    expect(staging.body.environments).toEqual([{ environment: 'staging', entities: 9, correlated: 1, uncorrelated: 8, hosts: 1 }]);
    expect(staging.body.entitiesWithoutHosts).toHaveLength(2);
    // production hosts do not count in a staging report: every active signal is unmatched there
    expect(staging.body.unmatchedSignals.totalCount).toBe(3);
  });

  it.each([
    ['environment=moon', 'environment'],
    ['limit=0', 'limit'],
    ['limit=abc', 'limit'],
    ['kind=a%20b', 'kind'],
    ['environment=production&environment=staging', 'environment'],
    ['colour=red', 'colour'],
  ])('coverage answers 400 naming the field for %s', async (query, field) => {
    const res = await request(server).get(`/api/runtime-risk/v1/coverage?${query}`).set('Authorization', USER);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it('coverage needs credentials', async () => {
    expect((await request(server).get('/api/runtime-risk/v1/coverage')).status).toBe(401);
  });

  it('re-resolves selectors on the next rebuild when EDR reports a new pod', async () => {
    edr.pages.push({ signals: [podSeen('pod-search-2', 'search-2', 'ip-10-0-3-17', { app: 'search' })] });
    await harness.runTask('runtime-risk-ingest-edr');
    expect((await gate('search', 'production')).body.decision).toBe('proceed');
    await harness.runTask('runtime-risk-correlate');
    const after = await gate('search', 'production');
    expect(after.body.hosts.map((h: { id: string }) => h.id)).toContain('ip-10-0-3-17');
    expect(after.body.decision).toBe('block');
  });
});
