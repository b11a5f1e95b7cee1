import { TestDatabases, mockCredentials, type TestBackend } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import { MemoryPullSource, sign, signalInput, testPushSource } from '../testUtils/fixtures';
import { countDecisions, startBackend, type Harness } from '../testUtils/backend';
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { loadOpenApiSpec } from '../schema/openapi';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhookBody, signalSourcesModule, signedPushSource } from '../testUtils/pushSources';

/** The `required` properties of a schema in openapi.yaml. */
function requiredOf(schema: string): string[] {
  const schemas = loadOpenApiSpec().components.schemas as Record<string, { required?: string[] }>;
  return schemas[schema].required ?? [];
}

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const USER = mockCredentials.user.header();
const SERVICE = mockCredentials.service.header();

describe.each(databases.eachSupportedId())('runtime-risk router on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  let edr: MemoryPullSource;
  let server: TestBackend['server'];

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    edr = new MemoryPullSource('edr');
    edr.pages = [
      {
        signals: [
          signalInput('crit-1', { hostname: 'WEB-01.prod.example.com', severity: 'critical' }),
          signalInput('resolved-1', { hostname: 'web-01', severity: 'critical', status: 'resolved' }),
          signalInput('low-1', { hostname: 'app-01', severity: 'low', confidence: 0.5 }),
        ],
      },
    ];
    harness = await startBackend({ knex, sources: [edr, testPushSource] });
    server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('schedules ingestion per pull source, correlation and the exception sweep, globally', async () => {
    const calls = (harness.scheduler.scheduleTask as unknown as { mock: { calls: [{ id: string; scope?: string }][] } }).mock
      .calls;
    expect(calls.map(c => [c[0].id, c[0].scope]).sort()).toEqual([
      ['runtime-risk-audit-head', 'global'],
      ['runtime-risk-correlate', 'global'],
      ['runtime-risk-exceptions', 'global'],
      ['runtime-risk-ingest-edr', 'global'],
      ['runtime-risk-score-history', 'global'],
    ]);
  });

  it.each([
    ['post', '/api/runtime-risk/v1/gate'],
    ['get', '/api/runtime-risk/v1/decisions'],
    ['get', '/api/runtime-risk/v1/decisions/some-id'],
    ['post', '/api/runtime-risk/v1/decisions/some-id/replay'],
    ['get', '/api/runtime-risk/v1/entities/component/default/payments/risk'],
    ['get', '/api/runtime-risk/v1/signals'],
    ['get', '/api/runtime-risk/v1/sources'],
  ] as const)('%s %s answers 401 without credentials', async (method, path) => {
    const before = await countDecisions(knex);
    const res = await request(server)[method](path).send({ entityRef: 'component:default/payments', environment: 'production' });
    expect(res.status).toBe(401);
    expect(await countDecisions(knex)).toBe(before);
  });

  it.each([
    [{ entityRef: 'component:default/', environment: 'production' }, 'entityRef'],
    [{ entityRef: 42, environment: 'production' }, 'entityRef'],
    [{ environment: 'production' }, 'entityRef'],
    [{ entityRef: 'component:default/payments' }, 'environment'],
    [{ entityRef: 'component:default/payments', environment: 'moon' }, 'environment'],
    [{ entityRef: 'component:default/payments', environment: 'production', dryRun: 'yes' }, 'dryRun'],
    [{ entityRef: 'component:default/payments', environment: 'production', colour: 'red' }, 'colour'],
  ])('gate answers 400 naming the field for %j', async (body, field) => {
    const before = await countDecisions(knex);
    const res = await request(server).post('/api/runtime-risk/v1/gate').set('Authorization', USER).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.name).toBe('InputError');
    expect(res.body.error.message).toContain(field);
    expect(await countDecisions(knex)).toBe(before);
  });

  it.each(['a/b/c/', 'component:default/payments/', 'component:default/a/b', 'component:a:b/c', 'component:default/pay ments', `component:default/${'x'.repeat(64)}`])(
    'gate answers 400 naming entityRef (not 404) for the malformed ref %j',
    async entityRef => {
      const before = await countDecisions(knex);
      const res = await request(server).post('/api/runtime-risk/v1/gate').set('Authorization', USER).send({ entityRef, environment: 'production' });
      expect(res.status).toBe(400);
      expect(res.body.error.name).toBe('InputError');
      expect(res.body.error.message).toMatch(/^entityRef: malformed entity ref/);
      expect(await countDecisions(knex)).toBe(before);
    },
  );

  it('gate answers 400 for a body that is not JSON', async () => {
    const res = await request(server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .set('Content-Type', 'application/json')
      .send('{"entityRef": ');
    expect(res.status).toBe(400);
  });

  it('gate answers 404 for an unknown entity and records nothing', async () => {
    const before = await countDecisions(knex);
    const res = await request(server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', SERVICE)
      .send({ entityRef: 'component:default/nope', environment: 'production' });
    expect(res.status).toBe(404);
    expect(res.body.error.name).toBe('NotFoundError');
    expect(await countDecisions(knex)).toBe(before);
  });

  it('blocks a high-risk entity in production and records the decision', async () => {
    const res = await request(server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'Component:default/Payments', environment: 'production', pipeline: { provider: 'github', runId: '7' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      entityRef: 'component:default/payments',
      environment: 'production',
      decision: 'block',
      riskLevel: 'high',
      dryRun: false,
      status: 'final',
      hosts: [{ id: 'web-01', matchedBy: 'annotation:runtime-risk.io/hosts', value: 'web-01', sources: ['edr'] }],
      signals: { count: 1, stale: false },
    });
    expect(res.body.score).toBeGreaterThanOrEqual(70);
    expect(GateDecisionSchema.safeParse(res.body).success).toBe(true);
    expect(Object.keys(res.body)).toEqual(expect.arrayContaining(requiredOf('GateDecision')));
    const active = res.body.reasons.find((r: { code: string }) => r.code === 'signal_active');
    expect(active.signalIds).toEqual(['edr:crit-1']);
    expect(typeof res.body.policy.hash).toBe('string');

    const stored = await request(server).get(`/api/runtime-risk/v1/decisions/${res.body.decisionId}`).set('Authorization', USER);
    expect(stored.status).toBe(200);
    // the decision as answered, plus the signals the gate saw (the decision page shows them)
    const { evaluatedSignals, ...answered } = stored.body;
    expect(answered).toEqual(res.body);
    expect(evaluatedSignals.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ['edr:crit-1', 'active'],
      ['edr:resolved-1', 'resolved'],
    ]);

    // the decision row keeps the request's own inputs; what came from the store is kept once by content hash
    const row = await knex('runtime_risk_decisions').where({ id: res.body.decisionId }).first();
    const own = JSON.parse(row.inputs);
    expect(own).toMatchObject({ entityRef: 'component:default/payments', environment: 'production', now: res.body.evaluatedAt });
    expect(row.inputs_hash).toMatch(/^[0-9a-f]{64}$/);
    const shared = await knex('runtime_risk_decision_inputs').where({ hash: row.inputs_hash }).first();
    const inputs = JSON.parse(shared.body);
    expect(inputs.signals.map((s: { id: string }) => s.id).sort()).toEqual(['edr:crit-1', 'edr:resolved-1']);
  });

  it('matches hostnames exactly, never by prefix', async () => {
    const res = await request(server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/checkout', environment: 'staging' });
    expect(res.status).toBe(200);
    // web-010 must not pick up the critical detection on web-01; app-01 has one low signal
    expect(res.body.signals.count).toBe(1);
    expect(res.body.riskLevel).toBe('low');
    expect(res.body.decision).toBe('proceed');
  });

  it('uses the per-environment annotation instead of the generic one', async () => {
    const prod = await request(server)
      .get('/api/runtime-risk/v1/entities/component/default/split/risk?environment=production')
      .set('Authorization', USER);
    expect(prod.status).toBe(200);
    expect(prod.body.hosts.map((h: { id: string }) => h.id)).toEqual(['db-01']);
    // db-01 is reached but no source has reported it (DESIGN "Coverage")
    expect(prod.body.riskLevel).toBe('unknown');
    const staging = await request(server)
      .get('/api/runtime-risk/v1/entities/component/default/split/risk?environment=staging')
      .set('Authorization', USER);
    expect(staging.body.hosts.map((h: { id: string }) => h.id)).toEqual(['web-01']);
    expect(staging.body.riskLevel).toBe('high');
  });

  it('answers riskLevel unknown for an uncorrelated entity', async () => {
    const res = await request(server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/orphan', environment: 'production' });
    expect(res.status).toBe(200);
    expect(res.body.riskLevel).toBe('unknown');
    expect(res.body.hosts).toEqual([]);
    expect(res.body.reasons.map((r: { code: string }) => r.code)).toContain('uncorrelated');
    expect(res.body.decision).toBe('approval_required');
    expect(res.body.status).toBe('pending');
  });

  it('dry-run proceeds and says what would have been', async () => {
    const res = await request(server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/payments', environment: 'production', dryRun: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ decision: 'proceed', wouldHaveBeen: 'block', dryRun: true, riskLevel: 'high', status: 'final' });
    expect(GateDecisionSchema.safeParse(res.body).success).toBe(true);
    expect(res.body.reasons.map((r: { code: string }) => r.code)).toContain('dry_run');
  });

  it('gives the same decision, score, reasons and policy hash for the same request, and replays it', async () => {
    const body = { entityRef: 'component:default/payments', environment: 'production' };
    const a = await request(server).post('/api/runtime-risk/v1/gate').set('Authorization', USER).send(body);
    const b = await request(server).post('/api/runtime-risk/v1/gate').set('Authorization', USER).send(body);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.decisionId).not.toBe(a.body.decisionId);
    const pick = (x: Record<string, unknown>) => ({
      decision: x.decision,
      riskLevel: x.riskLevel,
      score: x.score,
      reasons: x.reasons,
      policy: x.policy,
      hosts: x.hosts,
    });
    expect(pick(b.body)).toEqual(pick(a.body));

    const replay = await request(server).post(`/api/runtime-risk/v1/decisions/${a.body.decisionId}/replay`).set('Authorization', USER);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ decisionId: a.body.decisionId, matches: true });
    expect(replay.body.replayed).toEqual(replay.body.original);
    expect(replay.body.original.score).toBe(a.body.score);

    const missing = await request(server).post('/api/runtime-risk/v1/decisions/nope/replay').set('Authorization', USER);
    expect(missing.status).toBe(404);
  });

  it('lists decisions by entity with paging', async () => {
    for (let i = 0; i < 3; i++) {
      await request(server)
        .post('/api/runtime-risk/v1/gate')
        .set('Authorization', USER)
        .send({ entityRef: 'component:default/checkout', environment: 'production' })
        .expect(200);
    }
    const all = await request(server)
      .get('/api/runtime-risk/v1/decisions?entityRef=component:default/checkout&environment=production')
      .set('Authorization', USER);
    expect(all.status).toBe(200);
    const total = all.body.totalCount;
    expect(total).toBeGreaterThanOrEqual(3);
    const first = await request(server)
      .get('/api/runtime-risk/v1/decisions?entityRef=component:default/checkout&environment=production&limit=2')
      .set('Authorization', USER);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.totalCount).toBe(total);
    const second = await request(server)
      .get(`/api/runtime-risk/v1/decisions?entityRef=component:default/checkout&environment=production&limit=2&cursor=${first.body.nextCursor}`)
      .set('Authorization', USER);
    const ids = [...first.body.items, ...second.body.items].map((d: { decisionId: string }) => d.decisionId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.body.items.map((d: { decisionId: string }) => d.decisionId).slice(0, ids.length)).toEqual(ids);
    for (const item of all.body.items) expect(item.entityRef).toBe('component:default/checkout');

    const badLimit = await request(server).get('/api/runtime-risk/v1/decisions?limit=0').set('Authorization', USER);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body.error.message).toContain('limit');
    const badCursor = await request(server).get('/api/runtime-risk/v1/decisions?cursor=xyz').set('Authorization', USER);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.message).toContain('cursor');
    const unknown = await request(server).get('/api/runtime-risk/v1/decisions/does-not-exist').set('Authorization', USER);
    expect(unknown.status).toBe(404);
  });

  it('answers the current risk without recording a decision', async () => {
    const before = await countDecisions(knex);
    const all = await request(server).get('/api/runtime-risk/v1/entities/component/default/payments/risk').set('Authorization', USER);
    expect(all.status).toBe(200);
    expect(all.body.items.map((i: { environment: string }) => i.environment)).toEqual(['production', 'staging']);
    expect(all.body.items[0]).toMatchObject({ decision: 'block', riskLevel: 'high' });
    const bad = await request(server)
      .get('/api/runtime-risk/v1/entities/component/default/payments/risk?environment=moon')
      .set('Authorization', USER);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('environment');
    const missing = await request(server).get('/api/runtime-risk/v1/entities/component/default/ghost/risk').set('Authorization', USER);
    expect(missing.status).toBe(404);
    expect(await countDecisions(knex)).toBe(before);
  });

  it('lists signals by entity, status and page', async () => {
    const forEntity = await request(server)
      .get('/api/runtime-risk/v1/signals?entityRef=component:default/payments')
      .set('Authorization', USER);
    expect(forEntity.status).toBe(200);
    expect(forEntity.body.items.map((s: { id: string }) => s.id).sort()).toEqual(['edr:crit-1', 'edr:resolved-1']);
    expect(forEntity.body.totalCount).toBe(2);
    for (const item of forEntity.body.items) expect(Object.keys(item)).toEqual(expect.arrayContaining(requiredOf('Signal')));
    const active = await request(server)
      .get('/api/runtime-risk/v1/signals?entityRef=component:default/payments&status=active')
      .set('Authorization', USER);
    expect(active.body.items.map((s: { id: string }) => s.id)).toEqual(['edr:crit-1']);
    const page1 = await request(server).get('/api/runtime-risk/v1/signals?limit=2').set('Authorization', USER);
    expect(page1.body.items).toHaveLength(2);
    expect(page1.body.nextCursor).toBeDefined();
    const page2 = await request(server)
      .get(`/api/runtime-risk/v1/signals?limit=2&cursor=${page1.body.nextCursor}`)
      .set('Authorization', USER);
    expect(page2.body.items.length).toBeGreaterThanOrEqual(1);
    expect(page2.body.items[0].id).not.toBe(page1.body.items[0].id);
    for (const [query, field] of [
      ['limit=abc', 'limit'],
      ['limit=100000', 'limit'],
      ['status=burning', 'status'],
      ['entityRef=component:default/', 'entityRef'],
      ['environment=moon', 'environment'],
      ['cursor=%25%25', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const res = await request(server).get(`/api/runtime-risk/v1/signals?${query}`).set('Authorization', USER);
      expect(res.status, query).toBe(400);
      expect(res.body.error.message, query).toContain(field);
    }
  });

  it('accepts HMAC-signed pushes without Backstage credentials and refuses bad signatures', async () => {
    const body = JSON.stringify({ signals: [signalInput('pushed-1', { hostname: 'app-01', severity: 'medium' })] });
    const bad = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(body, 'wrong-secret'))
      .send(body);
    expect(bad.status).toBe(401);
    const unsigned = await request(server).post('/api/runtime-risk/v1/signals/webhook/hooks').set('Content-Type', 'application/json').send(body);
    expect(unsigned.status).toBe(401);
    expect(Number((await knex('runtime_risk_signals').where({ source: 'hooks' }).count({ n: '*' }).first())?.n)).toBe(0);

    const unknown = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/nope')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(body))
      .send(body);
    expect(unknown.status).toBe(404);
    const pullSource = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/edr')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(body))
      .send(body);
    expect(pullSource.status).toBe(404);

    const malformed = JSON.stringify({ items: [] });
    const badBody = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(malformed))
      .send(malformed);
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.message).toContain('signals');

    const ok = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(body))
      .send(body);
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ accepted: 1, rejected: 0 });

    const signals = await request(server).get('/api/runtime-risk/v1/signals?entityRef=component:default/checkout').set('Authorization', USER);
    expect(signals.body.items.map((s: { id: string }) => s.id)).toContain('hooks:pushed-1');
    const sources = await request(server).get('/api/runtime-risk/v1/sources').set('Authorization', SERVICE);
    for (const item of sources.body.items) expect(Object.keys(item)).toEqual(expect.arrayContaining(requiredOf('SourceHealth')));
    const hooks = sources.body.items.find((s: { id: string }) => s.id === 'hooks');
    expect(hooks).toMatchObject({ type: 'webhook', status: 'ok', consecutiveFailures: 0 });
    expect(hooks.lastSuccessAt).not.toBeNull();
  });

  it('refuses oversized pushes with 413 naming the limit, storing nothing', async () => {
    const count = async () => Number((await knex('runtime_risk_signals').where({ source: 'hooks' }).count({ n: '*' }).first())?.n);
    const before = await count();
    // over the source's limit (1 MiB default), correctly signed: refused before verification
    const padding = 'x'.repeat(1024 * 1024);
    const big = JSON.stringify({ signals: [signalInput('big-1', { hostname: 'app-01', description: padding })] });
    const overSource = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(big))
      .send(big);
    expect(overSource.status).toBe(413);
    expect(overSource.body.error.message).toBe(`body: ${Buffer.byteLength(big)} bytes is more than the 1048576 allowed by source 'hooks'`);
    // far over it: refused from Content-Length, before the body is read
    const huge = 'x'.repeat(10 * 1024 * 1024 + 1);
    const overCap = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/octet-stream')
      .set('x-signature', sign(huge))
      .send(Buffer.from(huge));
    expect(overCap.status).toBe(413);
    expect(overCap.body.error.message).toBe(`body: ${10 * 1024 * 1024 + 1} bytes is more than the 1048576 allowed by source 'hooks'`);
    expect(await count()).toBe(before);
  });
});

describe.each(databases.eachSupportedId())('runtime-risk sources and policy changes on %p', databaseId => {
  it('reports degraded then down after failed syncs, and ok after a success', async () => {
    const knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signalInput('crit-1')] }];
    const { backend, runTask } = await startBackend({ knex, sources: [edr] });
    try {
      const status = async () => {
        const res = await request(backend.server).get('/api/runtime-risk/v1/sources').set('Authorization', USER);
        expect(res.status).toBe(200);
        return res.body.items[0];
      };
      await runTask('runtime-risk-ingest-edr');
      expect(await status()).toMatchObject({ id: 'edr', type: 'memory', status: 'ok', consecutiveFailures: 0 });

      // the gate works before the first correlation run: the entity is looked up once and indexed
      const gate = await request(backend.server)
        .post('/api/runtime-risk/v1/gate')
        .set('Authorization', USER)
        .send({ entityRef: 'component:default/payments', environment: 'production' });
      expect(gate.status).toBe(200);
      expect(gate.body.decision).toBe('block');
      expect(await knex('runtime_risk_entities').where({ entity_ref: 'component:default/payments' }).first()).toBeDefined();

      edr.failWith = new Error('connect ECONNREFUSED (api_key=supersecret)');
      await runTask('runtime-risk-ingest-edr');
      const degraded = await status();
      expect(degraded).toMatchObject({ status: 'degraded', consecutiveFailures: 1 });
      expect(degraded.lastError).toContain('ECONNREFUSED');
      expect(degraded.lastError).not.toContain('supersecret');
      await runTask('runtime-risk-ingest-edr');
      await runTask('runtime-risk-ingest-edr');
      expect(await status()).toMatchObject({ status: 'down', consecutiveFailures: 3 });

      // production blocks when the covering source is down (payments' web-01 is a host edr covers)
      const down = await request(backend.server)
        .post('/api/runtime-risk/v1/gate')
        .set('Authorization', USER)
        .send({ entityRef: 'component:default/payments', environment: 'production' });
      expect(down.body.reasons.map((r: { code: string }) => r.code)).toContain('source_unavailable');
      expect(down.body.decision).toBe('block');

      edr.failWith = undefined;
      await runTask('runtime-risk-ingest-edr');
      const healed = await status();
      expect(healed).toMatchObject({ status: 'ok', consecutiveFailures: 0 });
      expect(healed.lagSeconds).toBeLessThan(60);
    } finally {
      await backend.stop();
    }
  });

  it('replays a decision made under another policy with the policy it was made with (policy history)', async () => {
    const knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signalInput('crit-1')] }];
    const first = await startBackend({ knex, sources: [edr] });
    let decisionId: string;
    try {
      await first.runTask('runtime-risk-ingest-edr');
      const gate = await request(first.backend.server)
        .post('/api/runtime-risk/v1/gate')
        .set('Authorization', USER)
        .send({ entityRef: 'component:default/payments', environment: 'production' });
      expect(gate.status).toBe(200);
      decisionId = gate.body.decisionId;
    } finally {
      await first.backend.stop();
    }
    const stricter = {
      runtimeRisk: {
        policy: {
          id: 'stricter',
          environments: {
            production: {
              thresholds: { moderate: 10, high: 40 },
              actions: { low: 'proceed', moderate: 'block', high: 'block' },
              maxSignalAge: { minutes: 15 },
              onFailure: { sourceUnavailable: 'block', signalsStale: 'block', uncorrelated: 'block', scoreUnavailable: 'block' },
            },
          },
        },
      },
    };
    const second = await startBackend({ knex, sources: [edr], config: stricter });
    try {
      const replay = await request(second.backend.server)
        .post(`/api/runtime-risk/v1/decisions/${decisionId}/replay`)
        .set('Authorization', USER);
      expect(replay.status).toBe(200);
      // answered under the stored (default) policy, not the stricter active one
      expect(replay.body).toMatchObject({ decisionId, matches: true, replayed: { decision: 'block' } });
      expect(replay.body.replayed.policy.id).not.toBe('stricter');
      // the old decision is still readable
      const old = await request(second.backend.server).get(`/api/runtime-risk/v1/decisions/${decisionId}`).set('Authorization', USER);
      expect(old.status).toBe(200);
    } finally {
      await second.backend.stop();
    }
  });

  it('fails start-up naming the key of an invalid policy', async () => {
    const knex = await databases.init(databaseId);
    await expect(
      startBackend({
        knex,
        sources: [],
        config: { runtimeRisk: { policy: { id: 'x', environments: { production: { thresholds: { moderate: 'lots' } } } } } },
      }),
    ).rejects.toThrow(/runtimeRisk\.policy/);
  });
});

describe.each(databases.eachSupportedId())('runtime-risk webhook pushes through the webhook module on %p', databaseId => {
  const SECRET = 'ndjson-test-secret';
  let knex: Knex;
  let harness: Harness;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    harness = await startBackend({
      knex,
      sources: [],
      features: [signalSourcesModule('ndjson-push', [signedPushSource({ id: 'ndjson', secret: SECRET })])],
      config: {
        runtimeRisk: {
          ingestion: { frequency: { seconds: 30 } },
        },
      },
    });
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  /** A push signed as the webhook module expects: HMAC-SHA256 over `<timestamp>.<raw body>`. */
  const push = (body: string, contentType = 'application/x-ndjson') => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    return request(harness.backend.server)
      .post('/api/runtime-risk/v1/signals/webhook/ndjson')
      .set('Content-Type', contentType)
      .set(TIMESTAMP_HEADER, timestamp)
      .set(SIGNATURE_HEADER, signWebhookBody(SECRET, body, timestamp))
      .send(body);
  };
  const stored = async () =>
    (await knex('runtime_risk_signals').where({ source: 'ndjson' }).select('id')).map((r: { id: string }) => r.id).sort();

  it('accepts a signed multi-line NDJSON push and stores every line', async () => {
    const body = `${[
      signalInput('nd-1', { hostname: 'web-01', severity: 'critical' }),
      signalInput('nd-2', { hostname: 'app-01', severity: 'low' }),
    ]
      .map(s => JSON.stringify(s))
      .join('\n')}\n`;
    const res = await push(body);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toEqual({ accepted: 2, rejected: 0 });
    expect(await stored()).toEqual(['ndjson:nd-1', 'ndjson:nd-2']);

    const gate = await request(harness.backend.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/payments', environment: 'production' });
    expect(gate.status).toBe(200);
    expect(gate.body.decision).toBe('block');
    expect(gate.body.reasons.flatMap((r: { signalIds: string[] }) => r.signalIds)).toContain('ndjson:nd-1');
  });

  it('still answers 400 (and stores nothing) for signed bodies that are neither JSON nor NDJSON signals', async () => {
    const before = await stored();
    const goodLine = JSON.stringify(signalInput('nd-3', { hostname: 'web-01' }));
    for (const [body, field] of [
      [`${goodLine}\nnot json at all`, 'line 2'],
      ['{"signals": [', 'line 1'],
      ['   \n  ', 'body'],
      [`${goodLine}\n${JSON.stringify({ ...signalInput('nd-4'), severity: 'apocalyptic' })}`, 'severity'],
    ] as const) {
      const res = await push(body);
      expect(res.status, body).toBe(400);
      expect(res.body.error.name).toBe('InputError');
      expect(res.body.error.message, body).toContain(field);
    }
    // a JSON document is still read as JSON
    const json = JSON.stringify({ signals: [signalInput('nd-5', { hostname: 'web-01' })] });
    const ok = await push(json, 'application/json');
    expect(ok.status, ok.text).toBe(202);
    expect(await stored()).toEqual([...before, 'ndjson:nd-5'].sort());
  });
});
