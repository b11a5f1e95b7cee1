import { TestDatabases, type TestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import type { Knex } from 'knex';
import { startBackend, type Harness } from '../testUtils/backend';
import { postGate, reasonCodes } from '../testUtils/gateRequests';
import { MemoryPullSource, component, signalInput } from '../testUtils/fixtures';
import { resource, withDependsOn } from './testFixtures';

/*
 * DESIGN "Catalog relations": no correlation through a System. A Component
 * reaches the Resources it depends on (or that name it in spec.dependencyOf),
 * never a sibling's; a gate for the System covers all of them.
 */

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

function system(name: string): Entity {
  return { apiVersion: 'backstage.io/v1alpha1', kind: 'System', metadata: { name, namespace: 'default' }, spec: { owner: 'team-a' } };
}

function inSystem(entity: Entity, name: string): Entity {
  return { ...entity, spec: { ...entity.spec, system: name } };
}

const catalog: Entity[] = [
  system('shop'),
  system('idle'),
  inSystem(withDependsOn(component('api'), 'resource:default/shop-vm-1'), 'shop'),
  inSystem(component('web'), 'shop'),
  inSystem(component('docs'), 'shop'),
  inSystem(component('idle-svc'), 'idle'),
  resource('shop-vm-1', { type: 'vm', system: 'shop' }),
  resource('shop-vm-2', { type: 'vm', system: 'shop', dependencyOf: ['component:default/web'] }),
];

describe.each(databases.eachSupportedId())('System correlation through the router on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  let server: TestBackend['server'];

  const gate = (entityRef: string, environment = 'production') => postGate(server, entityRef, environment);
  const codes = reasonCodes;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [
      {
        signals: [
          signalInput('vm1-crit', { hostname: 'shop-vm-1', severity: 'critical' }),
          // shop-vm-2 is seen (a resolved detection) and clean
          signalInput('vm2-old', { hostname: 'shop-vm-2', severity: 'low', status: 'resolved' }),
        ],
      },
    ];
    harness = await startBackend({ knex, sources: [edr], entities: catalog });
    server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it("a detection on a System's VM blocks only the Component that depends on it", async () => {
    const api = await gate('component:default/api');
    expect(api.status).toBe(200);
    expect(api.body.decision).toBe('block');
    expect(api.body.hosts).toEqual([
      { id: 'shop-vm-1', matchedBy: 'relation:dependsOn:resource:default/shop-vm-1', value: 'shop-vm-1', sources: ['edr'] },
    ]);

    const web = await gate('component:default/web');
    expect(web.body.decision).toBe('proceed');
    expect(web.body.hosts).toEqual([
      { id: 'shop-vm-2', matchedBy: 'relation:dependencyOf:resource:default/shop-vm-2', value: 'shop-vm-2', sources: ['edr'] },
    ]);
    expect(codes(web.body)).toEqual(['no_active_signals']);
  });

  it('a Component with no hosts of its own is uncorrelated, not scored from its siblings', async () => {
    const docs = await gate('component:default/docs');
    expect(docs.body.hosts).toEqual([]);
    expect(docs.body.riskLevel).toBe('unknown');
    expect(codes(docs.body)).toEqual(['uncorrelated']);
  });

  it('a System gate covers the hosts of its Components and its own Resources, naming Components without hosts', async () => {
    const shop = await gate('system:default/shop');
    expect(shop.status).toBe(200);
    expect(shop.body.hosts.map((h: { id: string; matchedBy: string }) => [h.id, h.matchedBy])).toEqual([
      ['shop-vm-1', 'relation:hasPart:resource:default/shop-vm-1, system:component:default/api'],
      ['shop-vm-2', 'relation:hasPart:resource:default/shop-vm-2, system:component:default/web'],
    ]);
    expect(shop.body.decision).toBe('block');
    const partial = shop.body.reasons.find((r: { code: string }) => r.code === 'partial_coverage');
    expect(partial.message).toContain('component:default/docs');
    expect(partial.message).not.toContain('component:default/web');
    expect(codes(shop.body)).toEqual(['signal_active', 'partial_coverage']);
  });

  it('a System none of whose Components has hosts is uncorrelated', async () => {
    const idle = await gate('system:default/idle');
    expect(idle.body.riskLevel).toBe('unknown');
    expect(codes(idle.body)).toEqual(['uncorrelated']);
    expect(idle.body.reasons[0].message).toContain('component:default/idle-svc');
  });
});
