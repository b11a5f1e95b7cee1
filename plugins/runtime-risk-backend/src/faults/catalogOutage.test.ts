import { TestDatabases, mockCredentials, mockServices, startTestBackend, type TestBackend } from '@backstage/backend-test-utils';
import { createBackendModule, createServiceFactory, type SchedulerService } from '@backstage/backend-plugin-api';
import { catalogServiceRef, type CatalogService } from '@backstage/plugin-catalog-node';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { Knex } from 'knex';
import request from 'supertest';
import { runtimeRiskPlugin } from '../plugin';
import { component, criticalEdrSource } from '../testUtils/fixtures';
import { entities as demoEntities } from '../testUtils/backend';
import { rowCounts } from './helpers';

/**
 * Fault: the catalog fails (down, or failing half-way through a paged rebuild).
 * The correlation index is kept as it was, and the gate keeps answering for the
 * entities it knows; the next rebuild after the catalog is back picks up changes.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const USER = mockCredentials.user.header();

/** Enough entities for two catalog pages (the indexer pages by 500). */
const fillers = Array.from({ length: 520 }, (_, i) => component(`filler-${i}`, { 'runtime-risk.io/hosts': `filler-host-${i}` }));

/** A catalog that works until `state.down` is set, or fails from its `failFromCall`-th query on. */
function flakyCatalog(entities: Parameters<typeof catalogServiceMock>[0]) {
  const real = catalogServiceMock(entities);
  const state = { down: false, failFromCall: Infinity, calls: 0 };
  const fail = () => {
    throw new Error('connect ECONNREFUSED 127.0.0.1:7007 (catalog)');
  };
  const catalog: CatalogService = Object.create(real);
  catalog.queryEntities = async (req, opts) => {
    state.calls++;
    if (state.down || state.calls >= state.failFromCall) fail();
    return real.queryEntities(req, opts);
  };
  catalog.getEntityByRef = async (ref, opts) => (state.down ? fail() : real.getEntityByRef(ref, opts));
  catalog.getEntitiesByRefs = async (req, opts) => (state.down ? fail() : real.getEntitiesByRefs(req, opts));
  return { catalog, state, real };
}

describe.each(databases.eachSupportedId())('catalog outage on %p', databaseId => {
  let knex: Knex;
  let backend: TestBackend;
  let runTask: (id: string) => Promise<void>;
  let flaky: ReturnType<typeof flakyCatalog>;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    flaky = flakyCatalog({ entities: [...demoEntities, ...fillers, component('newcomer', { 'runtime-risk.io/hosts': 'web-01' })] });
    const edr = criticalEdrSource();
    const scheduler = mockServices.scheduler.mock();
    backend = await startTestBackend({
      features: [
        runtimeRiskPlugin,
        createBackendModule({
          pluginId: 'runtime-risk',
          moduleId: 'fault-sources',
          register(env) {
            env.registerInit({ deps: { sources: runtimeRiskSignalSourcesExtensionPoint }, async init({ sources }) {
              sources.addSignalSource(edr);
            } });
          },
        }),
        createServiceFactory({ service: catalogServiceRef, deps: {}, factory: () => flaky.catalog }),
        mockServices.database.factory({ knex }),
        mockServices.httpAuth.factory({ defaultCredentials: mockCredentials.none() }),
        mockServices.rootConfig.factory({ data: { runtimeRisk: { ingestion: { frequency: { seconds: 30 } } } } }),
        scheduler.factory,
      ],
    });
    runTask = async id => {
      const calls = (scheduler.scheduleTask as unknown as { mock: { calls: [Parameters<SchedulerService['scheduleTask']>[0]][] } }).mock.calls;
      const task = calls.map(c => c[0]).find(t => t.id === id);
      if (!task) throw new Error(`no task ${id}`);
      await task.fn(new AbortController().signal);
    };
    await runTask('runtime-risk-ingest-edr');
    await runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await backend?.stop();
  });

  const gate = (name: string) =>
    request(backend.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: `component:default/${name}`, environment: 'production' });

  it('keeps the index when a rebuild fails half-way or the catalog is down, and the gate keeps answering', async () => {
    const indexed = await knex('runtime_risk_entities').count({ n: '*' }).first();
    expect(Number(indexed?.n)).toBe(demoEntities.length + fillers.length + 1);
    const healthy = await gate('payments');
    expect(healthy.status).toBe(200);
    expect(healthy.body.decision).toBe('block');

    // the catalog fails on the second page of the next rebuild
    flaky.state.calls = 0;
    flaky.state.failFromCall = 2;
    await expect(runTask('runtime-risk-correlate')).rejects.toThrow(/ECONNREFUSED/);
    const afterPartial = await rowCounts(knex);
    expect(afterPartial.runtime_risk_entities).toBe(Number(indexed?.n));

    // fully down
    flaky.state.down = true;
    await expect(runTask('runtime-risk-correlate')).rejects.toThrow(/ECONNREFUSED/);
    expect((await rowCounts(knex)).runtime_risk_entity_hosts).toBe(afterPartial.runtime_risk_entity_hosts);

    for (const name of ['payments', 'checkout', 'filler-7']) {
      const res = await gate(name);
      expect(`${name}: ${res.status}`).toBe(`${name}: 200`);
    }
    // an entity the index does not know cannot be looked up: the gate fails closed
    // (never "proceed", never 404 "unknown entity") and records nothing
    const decisionsBefore = (await rowCounts(knex)).runtime_risk_decisions;
    const unknownWhileDown = await request(backend.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/not-indexed-yet', environment: 'production' });
    expect(unknownWhileDown.status).toBe(503);
    expect(unknownWhileDown.body.error).toMatchObject({
      name: 'ServiceUnavailableError',
      message: 'catalog unavailable, cannot resolve component:default/not-indexed-yet; retry',
    });
    expect(unknownWhileDown.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|7007/);
    expect((await rowCounts(knex)).runtime_risk_decisions).toBe(decisionsBefore);
    const again = await gate('payments');
    expect(again.body).toMatchObject({ decision: 'block', hosts: healthy.body.hosts });

    // back: the next rebuild works and the gate answers as before
    flaky.state.down = false;
    flaky.state.failFromCall = Infinity;
    await runTask('runtime-risk-correlate');
    const recovered = await gate('newcomer');
    expect(recovered.status).toBe(200);
    expect(recovered.body.decision).toBe('block');
  });
});
