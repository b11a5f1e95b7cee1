import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import type { PermissionsService } from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import request from 'supertest';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const API = '/api/runtime-risk/v1';
const as = (user: string) => mockCredentials.user.header(user);
const DEV = 'user:default/dev';
const OUTSIDER = 'user:default/outsider';

/** Everyone may do everything, except that the outsider cannot see payments. */
const authorize: PermissionsService['authorize'] = async (requests, options) => {
  const user = (options.credentials.principal as { userEntityRef?: string }).userEntityRef;
  return requests.map(r => {
    const hidden =
      r.permission.name === 'catalog.entity.read' &&
      user === OUTSIDER &&
      (r as { resourceRef?: string }).resourceRef === 'component:default/payments';
    return { result: hidden ? AuthorizeResult.DENY : AuthorizeResult.ALLOW };
  });
};

describe.each(databases.eachSupportedId())('GET /v1/summary on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: [
      // payments (web-01), and split in staging: medium, 35 -> moderate in production, low in staging
      signalInput('med-1', { hostname: 'web-01', severity: 'medium' }),
      // checkout (app-01): critical, 100 -> high
      signalInput('crit-1', { hostname: 'app-01', severity: 'critical' }),
    ],
    authorize,
  });
  const summary = async (query = '', user = DEV) => {
    const res = await request(seeded.server).get(`${API}/summary${query}`).set('Authorization', as(user));
    expect(res.status).toBe(200);
    return res.body;
  };
  const gate = async (entity: string, dryRun = false) => {
    const res = await request(seeded.server)
      .post(`${API}/gate`)
      .set('Authorization', as(DEV))
      .send({ entityRef: `component:default/${entity}`, environment: 'production', dryRun });
    expect(res.status).toBe(200);
    return res.body as { decisionId: string };
  };

  beforeAll(async () => {
    await seeded.harness.runTask('runtime-risk-correlate');
  });

  it('counts the current risk by level and decision per environment, riskiest first', async () => {
    const body = await summary();
    expect(body.environments).toEqual(['production', 'staging']);
    expect(body.entities).toEqual({ total: 4, correlated: 3 });
    expect(body.counts).toEqual([
      {
        environment: 'production',
        byLevel: { low: 0, moderate: 1, high: 1, unknown: 2 },
        byDecision: { proceed: 0, approval_required: 3, block: 1 },
      },
      {
        environment: 'staging',
        byLevel: { low: 2, moderate: 0, high: 1, unknown: 1 },
        byDecision: { proceed: 3, approval_required: 1, block: 0 },
      },
    ]);
    const production = await summary('?environment=production');
    expect(production.topRisky.map((r: { entityRef: string }) => r.entityRef)).toEqual([
      'component:default/checkout',
      'component:default/payments',
      'component:default/orphan',
      'component:default/split',
    ]);
    expect(production.topRisky[0]).toMatchObject({ name: 'checkout', environment: 'production', riskLevel: 'high', decision: 'block', score: 100 });
    expect(production.uncorrelated).toEqual([
      { entityRef: 'component:default/orphan', environments: ['production'] },
      { entityRef: 'component:default/split', environments: ['production'] },
    ]);
    expect((await summary('?environment=production&limit=1')).topRisky).toHaveLength(1);
  });

  it('agrees with the per-entity risk answers', async () => {
    const body = await summary();
    for (const row of body.topRisky as { entityRef: string; environment: string; riskLevel: string; decision: string; score: number | null }[]) {
      const name = row.entityRef.split('/')[1];
      const res = await request(seeded.server)
        .get(`${API}/entities/component/default/${name}/risk?environment=${row.environment}`)
        .set('Authorization', as(DEV));
      expect(res.status).toBe(200);
      expect({ riskLevel: res.body.riskLevel, decision: res.body.decision, score: res.body.score }).toEqual({
        riskLevel: row.riskLevel,
        decision: row.decision,
        score: row.score,
      });
    }
  });

  it('counts pending approvals and shadow-mode decisions that would have blocked, per day', async () => {
    const pending = await gate('payments');
    await gate('checkout', true);
    await gate('checkout', true);
    await gate('orphan', true);
    const body = await summary('?days=3');
    expect(body.pending).toMatchObject({ totalCount: 1, items: [{ decisionId: pending.decisionId, entityRef: 'component:default/payments' }] });
    expect(body.shadow.buckets).toHaveLength(3);
    expect(body.shadow.buckets.slice(0, 2).map((b: { total: number }) => b.total)).toEqual([0, 0]);
    expect(body.shadow.buckets[2]).toMatchObject({ total: 3, wouldHaveBlocked: 2, wouldHaveRequiredApproval: 1 });
  });

  it('covers only the entities the caller may see', async () => {
    const body = await summary('?environment=production', OUTSIDER);
    expect(body.entities).toEqual({ total: 3, correlated: 1 });
    expect(body.counts[0].byLevel).toEqual({ low: 0, moderate: 0, high: 1, unknown: 2 });
    expect(body.pending.totalCount).toBe(0);
    expect(JSON.stringify(body)).not.toContain('payments');
  });

  it('shares answers between concurrent requests of one caller only, and a new pending decision shows on the next request', async () => {
    const ask = (user: string) => request(seeded.server).get(`${API}/summary?environment=production`).set('Authorization', as(user));
    // the decisions table held (PostgreSQL: locked; SQLite: its one connection taken) while the
    // requests arrive: they all wait on one read of the pending decisions, so they share it
    const trx = await seeded.knex.transaction();
    if (databaseId !== 'SQLITE_3') await trx.raw('LOCK TABLE runtime_risk_decisions IN ACCESS EXCLUSIVE MODE');
    const asked = Promise.all(Array.from({ length: 24 }, (_, i) => ask(i % 2 ? OUTSIDER : DEV)));
    await new Promise(resolve => setTimeout(resolve, 500));
    await trx.commit();
    const answers = await asked;
    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(200);
      const sees = JSON.stringify(res.body).includes('payments');
      expect(sees).toBe(i % 2 === 0);
      expect(res.body.entities.total).toBe(i % 2 ? 3 : 4);
    }
    const before = (await ask(DEV)).body.pending.totalCount as number;
    const held = await gate('payments');
    const after = (await ask(DEV)).body;
    expect(after.pending.totalCount).toBe(before + 1);
    expect(after.pending.items.map((p: { decisionId: string }) => p.decisionId)).toContain(held.decisionId);
    expect(JSON.stringify((await ask(OUTSIDER)).body)).not.toContain('payments');
  });

  it('counts many held deploys in the database, lists the oldest 20 the caller may see past hundreds it may not, leaves out expired ones', async () => {
    const pendingOf = async (user: string) => (await summary('?environment=production', user)).pending as { totalCount: number; items: { decisionId: string }[] };
    const beforeDev = (await pendingOf(DEV)).totalCount;
    const beforeOutsider = (await pendingOf(OUTSIDER)).totalCount;
    // a pipeline that retried one held deploy of payments 250 times, and one held past its approvalTtl (24 h)
    const held = await gate('payments');
    const { seq: _seq, ...template } = await seeded.knex('runtime_risk_decisions').where({ id: held.decisionId }).first();
    await seeded.knex.batchInsert('runtime_risk_decisions', Array.from({ length: 250 }, (_, i) => ({ ...template, id: `retried-${i}` })), 50);
    await seeded.knex('runtime_risk_decisions').insert({ ...template, id: 'held-expired', created_at: new Date(Date.now() - 2 * 86_400_000).toISOString() });
    const orphan = await gate('orphan');

    const dev = await pendingOf(DEV);
    expect(dev.totalCount).toBe(beforeDev + 252);
    expect(dev.items).toHaveLength(20);
    expect(dev.items.map(p => p.decisionId)).not.toContain('held-expired');
    // the outsider's held deploy comes after the 250 it may not see
    const outsider = await pendingOf(OUTSIDER);
    expect(outsider.totalCount).toBe(beforeOutsider + 1);
    expect(outsider.items.map(p => p.decisionId)).toContain(orphan.decisionId);
    expect(JSON.stringify(outsider)).not.toMatch(/payments|retried-/);
  });

  it('answers 400 naming the parameter', async () => {
    const res = await request(seeded.server).get(`${API}/summary?environment=prod&days=0`).set('Authorization', as(DEV));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/days|environment/);
    const env = await request(seeded.server).get(`${API}/summary?environment=prod`).set('Authorization', as(DEV));
    expect(env.body.error.message).toMatch(/^environment: /);
  });
});
