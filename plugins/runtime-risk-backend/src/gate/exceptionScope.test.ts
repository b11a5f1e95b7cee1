import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { createServiceFactory } from '@backstage/backend-plugin-api';
import { notificationService, type NotificationSendOptions } from '@backstage/plugin-notifications-node';
import request from 'supertest';
import type { Knex } from 'knex';
import { MemoryPullSource, component, signalInput } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';
import { DEV, SECURITY, securityTeamPolicy } from '../testUtils/permissions';
import { T0, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { ExceptionService } from './ExceptionService';

/**
 * Issue 15 part 6: exceptions that cannot outlive the risk they accepted
 * (DESIGN "Exceptions").
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const API = '/api/runtime-risk/v1';
const as = (user: string) => mockCredentials.user.header(user);
const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

describe.each(databases.eachSupportedId())('exceptions with maxLevel through the backend on %p', databaseId => {
  let harness: Harness | undefined;
  let knex: Knex;
  const sent: NotificationSendOptions[] = [];
  const edr = new MemoryPullSource('edr');

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    // one medium detection on web-01: payments is moderate (approval_required) in production
    edr.pages = [{ signals: [signalInput('med-1', { hostname: 'web-01', severity: 'medium' })] }];
    harness = await startBackend({
      knex,
      sources: [edr],
      entities: [
        component('payments', { 'runtime-risk.io/hosts': 'web-01' }),
        component('orphan'),
      ],
      config: { permission: { enabled: true } },
      features: [
        mockServices.permissions.mock({ authorize: securityTeamPolicy() }).factory,
        createServiceFactory({
          service: notificationService,
          deps: {},
          factory: () => ({ send: async (o: NotificationSendOptions) => void sent.push(o) }),
        }),
      ],
    });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });
  afterAll(async () => {
    await harness?.backend.stop();
  });

  const server = () => harness!.backend.server;
  const gate = async (entity = 'payments') => {
    const res = await request(server())
      .post(`${API}/gate`)
      .set('Authorization', as(DEV))
      .send({ entityRef: `component:default/${entity}`, environment: 'production' });
    expect(res.status).toBe(200);
    return res.body;
  };
  const requestException = (body: Record<string, unknown> = {}) =>
    request(server())
      .post(`${API}/exceptions`)
      .set('Authorization', as(DEV))
      .send({ entityRef: 'component:default/payments', environment: 'production', reason: 'hotfix', expiresAt: inHours(2), ...body });

  it('gives an exception without signal ids the level at request time, unless the requester sets one', async () => {
    expect(await gate()).toMatchObject({ decision: 'approval_required', riskLevel: 'moderate' });

    const byDefault = await requestException();
    expect(byDefault.status).toBe(201);
    expect(byDefault.body.maxLevel).toBe('moderate');

    const chosen = await requestException({ maxLevel: 'high' });
    expect(chosen.status).toBe(201);
    expect(chosen.body.maxLevel).toBe('high');

    const scoped = await requestException({ signalIds: ['edr:med-1'] });
    expect(scoped.status).toBe(201);
    expect(scoped.body.maxLevel).toBeNull();

    // the level of an uncorrelated entity is unknown: no default
    const orphan = await requestException({ entityRef: 'component:default/orphan' });
    expect(orphan.status).toBe(201);
    expect(orphan.body.maxLevel).toBeNull();

    for (const bad of ['extreme', 'unknown', '', 3]) {
      const res = await requestException({ maxLevel: bad });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.error.message).toContain('maxLevel');
    }

    // stored as answered
    const one = await request(server()).get(`${API}/exceptions/${byDefault.body.id}`).set('Authorization', as(DEV));
    expect(one.body.maxLevel).toBe('moderate');
    for (const id of [chosen.body.id, scoped.body.id, orphan.body.id]) {
      await request(server()).post(`${API}/exceptions/${id}/revoke`).set('Authorization', as(DEV)).expect(200);
    }
  });

  it('revokes the exception when a new signal raises the level above maxLevel, audits why and tells the owners', async () => {
    const created = await requestException();
    expect(created.body.maxLevel).toBe('moderate');
    const id = created.body.id;
    await request(server()).post(`${API}/exceptions/${id}/approve`).set('Authorization', as(SECURITY)).expect(200);
    expect(await gate()).toMatchObject({ decision: 'proceed', exception: { id } });

    // a sweep while the level holds changes nothing
    await harness!.runTask('runtime-risk-exceptions');
    expect((await request(server()).get(`${API}/exceptions/${id}`).set('Authorization', as(DEV))).body.status).toBe('approved');

    // a critical detection arrives: the gate no longer applies the exception at once ...
    const before = sent.length;
    edr.pages.push({ signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })] });
    await harness!.runTask('runtime-risk-ingest-edr');
    const raised = await gate();
    expect(raised).toMatchObject({ decision: 'block', riskLevel: 'high' });
    expect(raised.exception).toBeUndefined();

    // ... and it is revoked for good right after the ingestion (no sweep runs), says why, and tells the owners and the requester
    const status = async () => (await request(server()).get(`${API}/exceptions/${id}`).set('Authorization', as(DEV))).body;
    await vi.waitFor(async () => expect((await status()).status).toBe('revoked'), { timeout: 5000 });
    const revoked = await status();
    expect(revoked).toMatchObject({ status: 'revoked', decidedBy: 'runtime-risk' });
    expect(revoked.decisionComment).toContain('risk level is now high');
    expect(revoked.decisionComment).toContain('above the exception\'s maxLevel moderate');
    expect(revoked.decisionComment).toContain('edr:crit-1');

    // the decision log (hash-chained) records the automatic revocation and why
    const entry = await knex('runtime_risk_audit_log').where({ type: 'exception-auto-revoke', subject: id }).first();
    expect(entry?.actor).toBe('runtime-risk');
    expect(JSON.parse(String(entry?.payload)).comment).toBe(revoked.decisionComment);
    expect((await request(server()).get(`${API}/audit/verify`).set('Authorization', as(SECURITY))).body.ok).toBe(true);

    // (the block answered above is told to the owners too)
    const revokedNotices = () => sent.slice(before).filter(n => String(n.payload.title).includes('revoked'));
    for (let i = 0; i < 100 && revokedNotices().length === 0; i++) await new Promise(r => setTimeout(r, 10));
    const told = revokedNotices();
    expect(told).toHaveLength(1);
    expect(told[0].recipients).toEqual({ type: 'entity', entityRef: ['group:default/team-a', DEV] });
    expect(told[0].payload.title).toContain('revoked');
    expect(told[0].payload.description).toContain(revoked.decisionComment);

    // the critical detection resolves: the exception stays revoked
    edr.pages.push({ signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical', status: 'resolved' })] });
    await harness!.runTask('runtime-risk-ingest-edr');
    expect((await gate()).decision).toBe('approval_required');
  });
});

describe.each(databases.eachSupportedId())('signal-scoped exceptions and source failure modes on %p', databaseId => {
  const scoped = (id: string) => ({
    id,
    entityRef: 'component:default/payments',
    environment: 'production',
    reason: 'known false positive',
    requestedBy: 'user:default/dev',
    status: 'approved' as const,
    approvedBy: 'user:default/security',
    expiresAt: iso(T0 + 6 * 3600_000),
    signalIds: ['edr:med-1'],
    maxLevel: null,
    createdAt: iso(T0),
  });
  const gate = (risk: Awaited<ReturnType<typeof createRiskServices>>['risk']) =>
    risk.gate({ entityRef: 'component:default/payments', environment: 'production', dryRun: false });

  it('never waives signals_stale', async () => {
    const knex = await databases.init(databaseId);
    const { store, risk } = await createRiskServices(knex);
    await store.insertException(scoped('ex-scoped'));
    // the data is as of 30 minutes before the sync (production maxSignalAge 15m): stale, not down
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'memory',
      signals: [edrSignal('med-1', 'medium', T0)],
      cursor: '1',
      at: iso(T0),
      asOf: iso(T0 - 30 * 60_000),
    });
    const stale = await gate(risk);
    expect(stale.decision).toBe('approval_required');
    expect(stale.reasons.map(r => r.code)).toContain('signals_stale');
    expect(stale.exception).toBeUndefined();

    // fresh data: the exception waives the signal it names
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [], cursor: '2', at: iso(T0), asOf: iso(T0) });
    expect(await gate(risk)).toMatchObject({ decision: 'proceed', exception: { id: 'ex-scoped' } });

    // stale again: an exception without signal ids waives it, the scoped one still does not
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [], cursor: '3', at: iso(T0), asOf: iso(T0 - 30 * 60_000) });
    expect((await gate(risk)).decision).toBe('approval_required');
    await store.insertException({ ...scoped('ex-all'), signalIds: null, maxLevel: 'moderate' });
    expect(await gate(risk)).toMatchObject({ decision: 'proceed', exception: { id: 'ex-all' } });
  });

  it('never waives source_unavailable, and lowers a block only to what the failure asks', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, risk } = await createRiskServices(knex);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('med-1', 'medium', T0)], cursor: '1', at: iso(T0) });
    await store.insertException(scoped('ex-scoped'));
    time.now = T0 + 60_000;
    for (let i = 0; i < 3; i++) {
      await store.recordFailure({ sourceId: 'edr', sourceType: 'memory', error: 'HTTP 503', at: iso(time.now + i) });
    }
    const down = await gate(risk);
    expect(down.decision).toBe('block');
    expect(down.reasons.map(r => r.code)).toContain('source_unavailable');
    expect(down.exception).toBeUndefined();
  });

  it('requests through the service: maxLevel defaults to the level, a signal-scoped one gets none', async () => {
    const knex = await databases.init(databaseId);
    const { store, risk, policy, clock } = await createRiskServices(knex);
    const service = new ExceptionService({ store, risk, permissions: mockServices.permissions(), policy, clock });
    const credentials = mockCredentials.user(DEV);
    const body = { entityRef: 'component:default/payments', environment: 'production', reason: 'hotfix', expiresAt: iso(T0 + 3600_000) };
    // no source has seen web-01 yet: uncorrelated, the level is unknown, no default
    expect((await service.request(body, credentials)).maxLevel).toBeNull();
    // a low detection: low
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('low-1', 'low', T0)], cursor: '1', at: iso(T0) });
    expect((await service.request(body, credentials)).maxLevel).toBe('low');
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('crit-1', 'critical', T0)], cursor: '2', at: iso(T0) });
    expect((await service.request(body, credentials)).maxLevel).toBe('high');
    expect((await service.request({ ...body, maxLevel: 'moderate' }, credentials)).maxLevel).toBe('moderate');
    expect((await service.request({ ...body, signalIds: ['edr:crit-1'] }, credentials)).maxLevel).toBeNull();
  });
});
