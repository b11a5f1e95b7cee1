import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import { AnalysisResultSchema, type SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { MemoryPullSource, component, signalInput } from '../testUtils/fixtures';
import { countDecisions, startBackend, type Harness } from '../testUtils/backend';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const USER = mockCredentials.user.header();
const SERVICE = mockCredentials.service.header();
const ANALYSIS = '/api/runtime-risk/v1/analysis';

/** A pull source whose data is as of a given time (a batch export that lags behind). */
class LaggingPullSource extends MemoryPullSource {
  asOf: string | undefined;
  async fetch(args: { cursor: string | null }) {
    const page = await super.fetch(args);
    return this.asOf ? { ...page, asOf: this.asOf } : page;
  }
}

const entities = [
  component('calm', { 'runtime-risk.io/hosts': 'calm-01' }),
  component('busy', { 'runtime-risk.io/hosts': 'busy-01' }),
  component('breached', { 'runtime-risk.io/hosts': 'breached-01' }),
  component('orphan'),
];

const signals: SignalInput[] = [
  // 10 x 0.5 = 5 -> low everywhere
  signalInput('low-1', { hostname: 'calm-01', severity: 'low', confidence: 0.5 }),
  // two fresh medium detections: 100 x (1 - 0.65^2) = 57.75 -> moderate in production (>=30) and staging (>=50)
  signalInput('med-1', { hostname: 'busy-01', severity: 'medium' }),
  signalInput('med-2', { hostname: 'busy-01', severity: 'medium' }),
  // a fresh critical detection: ~100 -> high
  signalInput('crit-1', { hostname: 'breached-01', severity: 'critical' }),
];

function codes(body: { reasons: { code: string }[] }): string[] {
  return body.reasons.map(r => r.code);
}

describe.each(databases.eachSupportedId())('GET /v1/analysis on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  let edr: MemoryPullSource;

  const analysis = (query: string, auth: string | null = SERVICE) => {
    const req = request(harness.backend.server).get(`${ANALYSIS}${query}`);
    return auth ? req.set('Authorization', auth) : req;
  };

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    edr = new MemoryPullSource('edr');
    edr.pages = [{ signals }];
    harness = await startBackend({ knex, sources: [edr], entities });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it.each([
    // entity, environment, decision, riskLevel, phase
    ['calm', 'production', 'proceed', 'low', 'Successful'],
    ['calm', 'staging', 'proceed', 'low', 'Successful'],
    ['busy', 'production', 'approval_required', 'moderate', 'Inconclusive'],
    ['busy', 'staging', 'proceed', 'moderate', 'Successful'],
    ['breached', 'production', 'block', 'high', 'Failed'],
    ['breached', 'staging', 'approval_required', 'high', 'Inconclusive'],
  ] as const)('maps %s in %s (%s, %s) to %s with 200, recording nothing', async (name, environment, decision, riskLevel, phase) => {
    const decisionsBefore = await countDecisions(knex);
    const fetchesBefore = edr.cursorsSeen.length;
    const res = await analysis(`?entityRef=component:default/${name}&environment=${environment}`);
    expect(res.status).toBe(200);
    expect(AnalysisResultSchema.parse(res.body)).toMatchObject({
      phase,
      decision,
      riskLevel,
      entityRef: `component:default/${name}`,
      environment,
    });
    expect(typeof res.body.score).toBe('number');
    expect(Date.parse(res.body.evaluatedAt)).not.toBeNaN();
    expect(codes(res.body)).toContain('signal_active');
    // read-only: no decision recorded, no EDR fetch on this path
    expect(await countDecisions(knex)).toBe(decisionsBefore);
    expect(edr.cursorsSeen.length).toBe(fetchesBefore);
  });

  it('answers the same decision, level, score and reasons as the entity risk route', async () => {
    const risk = await request(harness.backend.server)
      .get('/api/runtime-risk/v1/entities/component/default/busy/risk?environment=production')
      .set('Authorization', USER);
    const res = await analysis('?entityRef=busy&environment=production', USER);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      entityRef: 'component:default/busy',
      decision: risk.body.decision,
      riskLevel: risk.body.riskLevel,
      score: risk.body.score,
      reasons: risk.body.reasons,
      policy: risk.body.policy,
    });
    expect(res.body.score).toBeGreaterThanOrEqual(50);
    expect(res.body.score).toBeLessThan(70);
  });

  it.each([
    ['production', 'approval_required', 'Inconclusive'],
    ['staging', 'proceed', 'Successful'],
  ] as const)('maps an uncorrelated entity in %s to %s -> %s and keeps the reason', async (environment, decision, phase) => {
    const before = await countDecisions(knex);
    const res = await analysis(`?entityRef=component:default/orphan&environment=${environment}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ phase, decision, riskLevel: 'unknown' });
    expect(codes(res.body)).toContain('uncorrelated');
    expect(await countDecisions(knex)).toBe(before);
  });

  it.each([
    ['', 'entityRef'],
    ['?environment=production', 'entityRef'],
    ['?entityRef=component:default/calm', 'environment'],
    ['?entityRef=component:default/calm&environment=moon', 'environment'],
    ['?entityRef=component:default/&environment=production', 'entityRef'],
    ['?entityRef=component:default/calm&environment=production&environment=staging', 'environment'],
    ['?entityRef=component:default/calm&environment=production&colour=red', 'colour'],
  ])('answers 400 naming the field for %s', async (query, field) => {
    const res = await analysis(query);
    expect(res.status).toBe(400);
    expect(res.body.error.name).toBe('InputError');
    expect(res.body.error.message).toContain(field);
  });

  it('answers 404 for an unknown entity', async () => {
    const res = await analysis('?entityRef=component:default/ghost&environment=production');
    expect(res.status).toBe(404);
    expect(res.body.error.name).toBe('NotFoundError');
  });

  it('answers 401 without credentials', async () => {
    const res = await analysis('?entityRef=component:default/breached&environment=production', null);
    expect(res.status).toBe(401);
    expect(res.body.phase).toBeUndefined();
  });
});

describe.each(databases.eachSupportedId())('GET /v1/analysis failure modes on %p', databaseId => {
  it.each([
    ['production', 'approval_required', 'Inconclusive'],
    ['staging', 'proceed', 'Successful'],
  ] as const)('maps stale signals in %s to %s -> %s with the reason', async (environment, decision, phase) => {
    const knex = await databases.init(databaseId);
    const edr = new LaggingPullSource('edr');
    edr.pages = [{ signals: [signals[0]] }];
    // the export lags two hours behind: stale for production (15 min) and staging (1 h)
    edr.asOf = new Date(Date.now() - 2 * 3600_000).toISOString();
    const { backend, runTask } = await startBackend({ knex, sources: [edr], entities });
    try {
      await runTask('runtime-risk-ingest-edr');
      const res = await request(backend.server)
        .get(`${ANALYSIS}?entityRef=component:default/calm&environment=${environment}`)
        .set('Authorization', SERVICE);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ phase, decision, riskLevel: 'low' });
      const stale = res.body.reasons.find((r: { code: string }) => r.code === 'signals_stale');
      expect(stale).toMatchObject({ source: 'edr' });
      expect(codes(res.body)).not.toContain('source_unavailable');
      expect(await countDecisions(knex)).toBe(0);
    } finally {
      await backend.stop();
    }
  });

  it.each([
    ['production', 'block', 'Failed'],
    ['staging', 'proceed', 'Successful'],
  ] as const)('maps a source that is down in %s to %s -> %s with the reason', async (environment, decision, phase) => {
    const knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signals[0]] }];
    const { backend, runTask } = await startBackend({ knex, sources: [edr], entities });
    try {
      await runTask('runtime-risk-ingest-edr');
      const url = `${ANALYSIS}?entityRef=component:default/calm&environment=${environment}`;
      const healthy = await request(backend.server).get(url).set('Authorization', SERVICE);
      expect(healthy.body).toMatchObject({ phase: 'Successful', decision: 'proceed' });

      edr.failWith = new Error('connect ECONNREFUSED');
      for (let i = 0; i < 3; i++) await runTask('runtime-risk-ingest-edr');
      const fetches = edr.cursorsSeen.length;
      const res = await request(backend.server).get(url).set('Authorization', SERVICE);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ phase, decision, riskLevel: 'low' });
      const down = res.body.reasons.find((r: { code: string }) => r.code === 'source_unavailable');
      expect(down).toMatchObject({ source: 'edr' });
      expect(edr.cursorsSeen.length).toBe(fetches);
      expect(await countDecisions(knex)).toBe(0);
    } finally {
      await backend.stop();
    }
  });
});
