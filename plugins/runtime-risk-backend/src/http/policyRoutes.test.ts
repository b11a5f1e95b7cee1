import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import type { PermissionsService } from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import type { Knex } from 'knex';
import request from 'supertest';
import { stringify } from 'yaml';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from '../engine';
import { signalInput } from '../testUtils/fixtures';
import { startSeededBackend, type SeededHarness } from '../testUtils/backend';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const API = '/api/runtime-risk/v1';
const as = (user: string) => mockCredentials.user.header(user);
const DEV = 'user:default/dev';
const OUTSIDER = 'user:default/outsider';
const NOBODY = 'user:default/nobody';

/** Everyone may do everything, except: the outsider cannot see payments, nobody lacks runtime-risk.policy.read. */
const authorize: PermissionsService['authorize'] = async (requests, options) => {
  const user = (options.credentials.principal as { userEntityRef?: string }).userEntityRef;
  return requests.map(r => {
    const resourceRef = (r as { resourceRef?: string }).resourceRef;
    if (r.permission.name === 'catalog.entity.read' && user === OUTSIDER && resourceRef === 'component:default/payments') {
      return { result: AuthorizeResult.DENY };
    }
    if (r.permission.name === 'runtime-risk.policy.read' && user === NOBODY) return { result: AuthorizeResult.DENY };
    return { result: AuthorizeResult.ALLOW };
  });
};

/** Production where a low score (10) is already high: every known proceed there becomes a block. */
const STRICT = {
  ...DEFAULT_POLICY_CONFIG,
  id: 'strict',
  environments: {
    ...DEFAULT_POLICY_CONFIG.environments,
    production: { ...DEFAULT_POLICY_CONFIG.environments.production, thresholds: { moderate: 5, high: 8 } },
  },
};

describe.each(databases.eachSupportedId())('policy history, replay and backtest on %p', databaseId => {
  let knex: Knex;
  let harness: SeededHarness;
  let started: Date;
  const decisions: Record<string, string> = {};

  const gate = async (entity: string, environment = 'production', dryRun = false) => {
    const res = await request(harness.server)
      .post(`${API}/gate`)
      .set('Authorization', as(DEV))
      .send({ entityRef: `component:default/${entity}`, environment, dryRun });
    expect(res.status).toBe(200);
    return res.body as { decisionId: string; decision: string };
  };
  const backtest = (body: Record<string, unknown>, user = DEV) =>
    request(harness.server).post(`${API}/policy/backtest`).set('Authorization', as(user)).send(body);

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    started = new Date(Date.now() - 1000);
    harness = await startSeededBackend({
      knex,
      signals: [
        // low severity: score 10, low in both environments -> proceed
        signalInput('low-1', { hostname: 'web-01', severity: 'low' }),
        signalInput('low-2', { hostname: 'app-01', severity: 'low' }),
      ],
      authorize,
    });
    for (let i = 0; i < 3; i++) decisions[`payments-${i}`] = (await gate('payments')).decisionId;
    for (let i = 0; i < 2; i++) decisions[`checkout-${i}`] = (await gate('checkout')).decisionId;
    decisions['payments-staging'] = (await gate('payments', 'staging')).decisionId;
    // production hosts of split (db-01) were never reported: uncorrelated -> approval_required
    decisions.split = (await gate('split')).decisionId;
    decisions['payments-dry'] = (await gate('payments', 'production', true)).decisionId;
  });
  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('a stricter threshold turns the known proceeds into blocks; the other decisions stay', async () => {
    const res = await backtest({ policy: STRICT, since: started.toISOString() });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 8, changed: 6, policy: { id: 'strict', hash: compilePolicy(STRICT).hash } });
    expect(res.body.transitions).toEqual([
      { from: 'proceed', to: 'proceed', count: 1 },
      { from: 'proceed', to: 'block', count: 6 },
      { from: 'approval_required', to: 'approval_required', count: 1 },
    ]);
    expect(res.body.byEnvironment).toEqual([
      { environment: 'production', total: 7, changed: 6, transitions: expect.any(Array) },
      { environment: 'staging', total: 1, changed: 0, transitions: [{ from: 'proceed', to: 'proceed', count: 1 }] },
    ]);
    expect(res.body.byEntity.map((g: { entityRef: string; changed: number }) => [g.entityRef, g.changed])).toEqual([
      ['component:default/payments', 4],
      ['component:default/checkout', 2],
    ]);
    const changed = res.body.changedDecisions;
    expect(changed.totalCount).toBe(6);
    expect(changed.items.map((c: { decisionId: string }) => c.decisionId)).toEqual([
      decisions['payments-0'],
      decisions['payments-1'],
      decisions['payments-2'],
      decisions['checkout-0'],
      decisions['checkout-1'],
      decisions['payments-dry'],
    ]);
    const first = changed.items[0];
    expect(first.old).toMatchObject({ decision: 'proceed', riskLevel: 'low', score: 10 });
    expect(first.new).toMatchObject({ decision: 'block', riskLevel: 'high', score: 10 });
    expect(first.old.reasons.map((r: { code: string }) => r.code)).toContain('signal_active');
    expect(first.new.reasons.map((r: { code: string }) => r.code)).toContain('signal_active');
    // shadow mode: compared by what the gate would have answered
    expect(changed.items[5]).toMatchObject({ dryRun: true, old: { decision: 'proceed' }, new: { decision: 'block' } });
    // nothing recorded by a backtest
    expect(Number((await knex('runtime_risk_decisions').count({ n: '*' }).first())?.n)).toBe(8);
  });

  it('the identical policy changes nothing', async () => {
    const res = await backtest({ policy: DEFAULT_POLICY_CONFIG, since: '1h' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 8, changed: 0, byEntity: [], changedDecisions: { items: [], totalCount: 0 } });
    expect(res.body.transitions).toEqual([
      { from: 'proceed', to: 'proceed', count: 7 },
      { from: 'approval_required', to: 'approval_required', count: 1 },
    ]);
  });

  it('takes the policy as YAML text, in JSON or as a text/yaml body (also an app-config excerpt)', async () => {
    const yaml = stringify(STRICT);
    const inJson = await backtest({ policyYaml: yaml, since: '1h' });
    expect(inJson.status).toBe(200);
    expect(inJson.body).toMatchObject({ total: 8, changed: 6 });
    const asBody = await request(harness.server)
      .post(`${API}/policy/backtest?since=1h&environment=production&limit=2`)
      .set('Authorization', as(DEV))
      .set('Content-Type', 'text/yaml')
      .send(stringify({ runtimeRisk: { policy: STRICT } }));
    expect(asBody.status).toBe(200);
    expect(asBody.body).toMatchObject({ total: 7, changed: 6 });
    expect(asBody.body.changedDecisions.items).toHaveLength(2);
  });

  it('narrows by window, environment and entity, and pages the changed decisions', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await backtest({ policy: STRICT, since: future, until: new Date(Date.now() + 7200_000).toISOString() })).body.total).toBe(0);
    expect((await backtest({ policy: STRICT, since: '2d', until: started.toISOString() })).body.total).toBe(0);
    const staging = await backtest({ policy: STRICT, since: '1h', environment: 'staging' });
    expect(staging.body).toMatchObject({ total: 1, changed: 0 });
    const checkout = await backtest({ policy: STRICT, since: '1h', entityRef: 'checkout' });
    expect(checkout.body).toMatchObject({ total: 2, changed: 2 });

    const page1 = await backtest({ policy: STRICT, since: started.toISOString(), limit: 4 });
    expect(page1.body.changedDecisions.items).toHaveLength(4);
    expect(page1.body.changedDecisions.nextCursor).toEqual(expect.any(String));
    const page2 = await backtest({ policy: STRICT, since: started.toISOString(), limit: 4, cursor: page1.body.changedDecisions.nextCursor });
    expect(page2.body.changedDecisions.items.map((c: { decisionId: string }) => c.decisionId)).toEqual([
      decisions['checkout-1'],
      decisions['payments-dry'],
    ]);
    expect(page2.body.changedDecisions.nextCursor).toBeUndefined();
  });

  it('counts only decisions of entities the caller may see', async () => {
    const res = await backtest({ policy: STRICT, since: '1h' }, OUTSIDER);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 3, changed: 2 });
    expect(JSON.stringify(res.body)).not.toContain('payments');
  });

  it('counts a decision whose stored inputs cannot be read instead of failing', async () => {
    const row = await knex('runtime_risk_decisions').where({ id: decisions['checkout-0'] }).first('inputs', 'inputs_hash');
    await knex('runtime_risk_decisions').where({ id: decisions['checkout-0'] }).update({ inputs: '{"broken":', inputs_hash: null });
    try {
      const res = await backtest({ policy: STRICT, since: '1h' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: 7, changed: 5, notEvaluated: { count: 1, unreadable: 1 } });
    } finally {
      await knex('runtime_risk_decisions').where({ id: decisions['checkout-0'] }).update(row);
    }
  });

  it('answers 400 naming the field, 403 without runtime-risk.policy.read', async () => {
    const bad = await backtest({
      policy: { ...STRICT, environments: { production: { ...STRICT.environments.production, thresholds: { moderate: 5, high: 'x' } } } },
      since: '1h',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('policy.environments.production.thresholds.high');
    const yaml = await backtest({ policyYaml: 'id: [unclosed', since: '1h' });
    expect(yaml.status).toBe(400);
    expect(yaml.body.error.message).toMatch(/^policyYaml: /);
    const both = await backtest({ policy: STRICT, policyYaml: 'id: x', since: '1h' });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toMatch(/^policy: /);
    const since = await backtest({ policy: STRICT, since: 'last week' });
    expect(since.status).toBe(400);
    expect(since.body.error.message).toMatch(/^since: /);
    const unknown = await backtest({ policy: STRICT, since: '1h', sinse: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('sinse');
    expect((await backtest({ policy: STRICT, since: '1h' }, NOBODY)).status).toBe(403);
    expect((await request(harness.server).get(`${API}/policies`).set('Authorization', as(NOBODY))).status).toBe(403);
  });

  it('keeps every policy with its period, and replays an old decision after the policy changed', async () => {
    const before = await request(harness.server).get(`${API}/policies`).set('Authorization', as(DEV));
    expect(before.status).toBe(200);
    const defaultHash = compilePolicy(DEFAULT_POLICY_CONFIG).hash;
    expect(before.body.items).toEqual([
      { hash: defaultHash, id: 'default', active: true, firstActiveAt: expect.any(String), periods: [{ from: expect.any(String), until: null }] },
    ]);

    // a restart with another policy (the same database)
    await harness.backend.stop();
    harness = await startSeededBackend({
      knex,
      signals: [signalInput('low-1', { hostname: 'web-01', severity: 'low' })],
      authorize,
      config: { runtimeRisk: { ingestion: { frequency: { seconds: 30 } }, policy: STRICT } },
    });
    const strictHash = compilePolicy(STRICT).hash;
    const after = await request(harness.server).get(`${API}/policies`).set('Authorization', as(DEV));
    expect(after.body.items.map((p: { hash: string; active: boolean }) => [p.hash, p.active])).toEqual([
      [strictHash, true],
      [defaultHash, false],
    ]);
    expect(after.body.items[1].periods[0].until).toBe(after.body.items[0].periods[0].from);
    const old = await request(harness.server).get(`${API}/policies/${defaultHash}`).set('Authorization', as(DEV));
    expect(old.status).toBe(200);
    expect(compilePolicy(old.body.body).hash).toBe(defaultHash);
    expect((await request(harness.server).get(`${API}/policies/${'0'.repeat(64)}`).set('Authorization', as(DEV))).status).toBe(404);

    // the old decision replays under the policy it was made with (it answered 409 before the history)
    const replay = await request(harness.server).post(`${API}/decisions/${decisions['payments-0']}/replay`).set('Authorization', as(DEV));
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ matches: true, replayed: { decision: 'proceed', policy: { hash: defaultHash } } });
    // a decision whose policy the history does not have still answers 409
    await knex('runtime_risk_decisions').where({ id: decisions.split }).update({ policy_hash: 'f'.repeat(64) });
    const unknown = await request(harness.server).post(`${API}/decisions/${decisions.split}/replay`).set('Authorization', as(DEV));
    expect(unknown.status).toBe(409);
    expect(unknown.body.error.message).toContain('not in the policy history');
  });
});
