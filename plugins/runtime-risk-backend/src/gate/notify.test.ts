import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { createServiceFactory } from '@backstage/backend-plugin-api';
import { notificationService, type NotificationSendOptions } from '@backstage/plugin-notifications-node';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import request from 'supertest';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';
import type { GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { BLOCK_NOTIFICATION_INTERVAL_MS, RiskNotifier } from './notify';

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const API = '/api/runtime-risk/v1';
const DEV = 'user:default/dev';

async function start(sent: NotificationSendOptions[], options: { fail?: boolean; config?: Record<string, unknown> } = {}) {
  const knex = await databases.init('SQLITE_3');
  const edr = new MemoryPullSource('edr');
  edr.pages = [
    {
      signals: [
        signalInput('crit-1', { hostname: 'web-01', severity: 'critical' }),
        signalInput('med-1', { hostname: 'app-01', severity: 'medium' }),
      ],
    },
  ];
  const harness = await startBackend({
    knex,
    sources: [edr],
    config: { permission: { enabled: true }, runtimeRisk: { ingestion: { frequency: { seconds: 30 } }, ...(options.config ?? {}) } },
    features: [
      mockServices.permissions.mock({ authorize: async r => r.map(() => ({ result: AuthorizeResult.ALLOW })) }).factory,
      createServiceFactory({
        service: notificationService,
        deps: {},
        factory: () => ({
          async send(o: NotificationSendOptions) {
            if (options.fail) throw new Error('notifications backend not installed');
            sent.push(o);
          },
        }),
      }),
    ],
  });
  await harness.runTask('runtime-risk-ingest-edr');
  await harness.runTask('runtime-risk-correlate');
  return harness;
}

const gate = (harness: Harness, entity: string, dryRun = false) =>
  request(harness.backend.server)
    .post(`${API}/gate`)
    .set('Authorization', mockCredentials.user.header(DEV))
    .send({ entityRef: `component:default/${entity}`, environment: 'production', dryRun });

/** Notifications are sent after the answer: wait for them. */
const until = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise(r => setTimeout(r, 10));
};

describe('runtime-risk notifications', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.backend.stop();
    harness = undefined;
  });

  it('tells the owners of a blocked deploy and the approvers of pending decisions and exceptions', async () => {
    const sent: NotificationSendOptions[] = [];
    harness = await start(sent, { config: { approvers: { group: 'security' } } });

    const blocked = await gate(harness, 'payments');
    expect(blocked.body.decision).toBe('block');
    await until(() => sent.length >= 1);
    expect(sent).toHaveLength(1);
    expect(sent[0].recipients).toEqual({ type: 'entity', entityRef: 'group:default/team-a' });
    expect(sent[0].payload).toMatchObject({ severity: 'high', topic: 'runtime-risk' });
    expect(sent[0].payload.title).toContain('payments');
    expect(sent[0].payload.title).toContain('blocked');

    const pending = await gate(harness, 'checkout');
    expect(pending.body).toMatchObject({ decision: 'approval_required', status: 'pending' });
    await until(() => sent.length >= 2);
    // approvers and the owners, with the decision page to review it on
    expect(sent[1].recipients).toEqual({ type: 'entity', entityRef: ['group:default/security', 'group:default/team-a'] });
    expect(sent[1].payload.description).toContain(pending.body.decisionId);
    expect(sent[1].payload.link).toBe(`/runtime-risk/decisions/${pending.body.decisionId}`);
    expect(sent[1].payload.scope).toBe(`runtime-risk:decision:${pending.body.decisionId}`);

    // dry runs notify nobody; a retried blocked deploy is not told again (same entity, environment, level)
    expect((await gate(harness, 'payments', true)).status).toBe(200);
    expect((await gate(harness, 'payments')).body.decision).toBe('block');
    expect(sent[0].payload.scope).toBe('runtime-risk:blocked:component:default/payments:production');

    const exception = await request(harness.backend.server)
      .post(`${API}/exceptions`)
      .set('Authorization', mockCredentials.user.header(DEV))
      .send({
        entityRef: 'component:default/payments',
        environment: 'production',
        reason: 'hotfix',
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      });
    expect(exception.status).toBe(201);
    await until(() => sent.length >= 3);
    expect(sent).toHaveLength(3);
    expect(sent[2].recipients).toEqual({ type: 'entity', entityRef: 'group:default/security', excludeEntityRef: DEV });
    expect(sent[2].payload.title).toContain('awaits approval');
  });

  it('tells only the owners without runtimeRisk.approvers.group, nothing at all when disabled', async () => {
    const sent: NotificationSendOptions[] = [];
    harness = await start(sent);
    expect((await gate(harness, 'checkout')).body.status).toBe('pending');
    await until(() => sent.length >= 1);
    expect((await gate(harness, 'payments')).body.decision).toBe('block');
    await until(() => sent.length >= 2);
    expect(sent.map(s => s.recipients)).toEqual([
      { type: 'entity', entityRef: ['group:default/team-a'] },
      { type: 'entity', entityRef: 'group:default/team-a' },
    ]);
    await harness.backend.stop();

    const none: NotificationSendOptions[] = [];
    harness = await start(none, { config: { notifications: { enabled: false }, approvers: { group: 'group:default/security' } } });
    expect((await gate(harness, 'payments')).body.decision).toBe('block');
    expect((await gate(harness, 'checkout')).body.status).toBe('pending');
    await new Promise(r => setTimeout(r, 50));
    expect(none).toEqual([]);
  });

  it('answers the gate normally when notifications cannot be delivered', async () => {
    harness = await start([], { fail: true, config: { approvers: { group: 'group:default/security' } } });
    const blocked = await gate(harness, 'payments');
    expect(blocked.status).toBe(200);
    expect(blocked.body.decision).toBe('block');
    const pending = await gate(harness, 'checkout');
    expect(pending.status).toBe(200);
    expect(pending.body.status).toBe('pending');
  });
});

describe('RiskNotifier block notifications', () => {
  it('tells the owners of a blocked deploy once per entity, environment and risk level in the interval', async () => {
    const sent: NotificationSendOptions[] = [];
    let now = 0;
    const notifier = new RiskNotifier({
      notifications: { send: async (o: NotificationSendOptions) => void sent.push(o) },
      logger: mockServices.logger.mock(),
      now: () => now,
    });
    const entity = {
      entityRef: 'component:default/payments',
      kind: 'Component',
      namespace: 'default',
      name: 'payments',
      owner: 'team-a',
      hosts: [],
      updatedAt: '2026-11-29T00:00:00.000Z',
    };
    const answer = (riskLevel: 'moderate' | 'high', environment = 'production') =>
      ({ decisionId: `d-${now}`, decision: 'block', riskLevel, environment, dryRun: false, reasons: [{ message: 'critical detection' }] }) as unknown as GateDecision;
    notifier.gateDecided(answer('high'), entity);
    now += 5 * 60_000;
    notifier.gateDecided(answer('high'), entity); // a retry: not told again
    notifier.gateDecided(answer('high', 'staging'), entity); // another environment
    notifier.gateDecided(answer('moderate'), entity); // another level
    now += BLOCK_NOTIFICATION_INTERVAL_MS;
    notifier.gateDecided(answer('high'), entity); // the interval passed
    await notifier.settled();
    expect(sent.map(s => `${s.payload.scope} ${s.payload.title}`)).toEqual([
      'runtime-risk:blocked:component:default/payments:production Deploy of payments to production blocked (risk high)',
      'runtime-risk:blocked:component:default/payments:staging Deploy of payments to staging blocked (risk high)',
      'runtime-risk:blocked:component:default/payments:production Deploy of payments to production blocked (risk moderate)',
      'runtime-risk:blocked:component:default/payments:production Deploy of payments to production blocked (risk high)',
    ]);
    expect(sent[0].recipients).toEqual({ type: 'entity', entityRef: 'group:default/team-a' });
  });
});
