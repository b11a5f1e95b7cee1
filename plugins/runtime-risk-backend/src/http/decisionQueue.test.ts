import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import type { PermissionsService } from '@backstage/backend-plugin-api';
import request from 'supertest';
import { GateDecisionSchema, type GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG } from '../engine';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';
import { DEV, OUTSIDER, SECURITY, securityTeamPolicy } from '../testUtils/permissions';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const API = '/api/runtime-risk/v1';
const as = (user: string) => mockCredentials.user.header(user);

/** The router tests' policy, except that the outsider may not read payments in the catalog. */
const policy: PermissionsService['authorize'] = async (requests, options) => {
  const answers = await securityTeamPolicy({ createRequiresUser: true })(requests, options);
  const user = (options.credentials.principal as { userEntityRef?: string }).userEntityRef;
  return requests.map((r, i) =>
    r.permission.name === 'catalog.entity.read' &&
    user === OUTSIDER &&
    (r as { resourceRef?: string }).resourceRef === 'component:default/payments'
      ? { result: AuthorizeResult.DENY }
      : answers[i],
  );
};

describe.each(databases.eachSupportedId())('the review queue (GET /v1/decisions?status=pending) on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: [
      // payments: a medium detection -> moderate -> approval_required in production
      signalInput('med-1', { hostname: 'web-01', severity: 'medium' }),
      signalInput('info-1', { hostname: 'web-01', severity: 'informational' }),
      // checkout: critical -> block
      signalInput('crit-1', { hostname: 'app-01', severity: 'critical' }),
    ],
    authorize: policy,
    config: {
      runtimeRisk: {
        ingestion: { frequency: { seconds: 30 } },
        policy: {
          ...DEFAULT_POLICY_CONFIG,
          environments: {
            ...DEFAULT_POLICY_CONFIG.environments,
            production: { ...DEFAULT_POLICY_CONFIG.environments.production, approvalTtl: { hours: 1 } },
          },
        },
      },
    },
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  const gate = async (entity: string, body: Record<string, unknown> = {}) => {
    const res = await request(seeded.server)
      .post(`${API}/gate`)
      .set('Authorization', as(DEV))
      .send({ entityRef: `component:default/${entity}`, environment: 'production', ...body });
    expect(res.status).toBe(200);
    return GateDecisionSchema.parse(res.body);
  };
  const list = async (query: string, user = SECURITY) => {
    const res = await request(seeded.server).get(`${API}/decisions?${query}`).set('Authorization', as(user));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { items: GateDecision[]; totalCount: number; nextCursor?: string };
  };
  const ids = (page: { items: GateDecision[] }) => page.items.map(d => d.decisionId);

  it('lists only decisions awaiting approval, with their expiry; the decision itself carries signals and requester', async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
    const old = await gate('payments');
    vi.setSystemTime(t0 + 60_000);
    const held = await gate('payments');
    const approved = await gate('payments');
    const blocked = await gate('checkout');
    const dry = await gate('payments', { dryRun: true });
    expect([old.status, held.status, approved.status, blocked.status, dry.status]).toEqual(['pending', 'pending', 'pending', 'final', 'final']);
    const ok = await request(seeded.server)
      .post(`${API}/decisions/${approved.decisionId}/approve`)
      .set('Authorization', as(SECURITY))
      .send({ comment: 'hotfix' });
    expect(ok.status).toBe(200);

    // 45 minutes in: both pending ones still await approval; newest first
    vi.setSystemTime(t0 + 45 * 60_000);
    let queue = await list('status=pending');
    expect(ids(queue)).toEqual([held.decisionId, old.decisionId]);
    expect(queue.totalCount).toBe(2);
    expect(queue.items[0].approval).toEqual({
      expiresAt: new Date(t0 + 61 * 60_000).toISOString(),
      requestedBy: DEV,
    });
    expect(queue.items.every(d => d.status === 'pending' && d.decision === 'approval_required')).toBe(true);

    // 60.5 minutes in: the first one is past the 1 h approvalTtl (not yet swept) and leaves the queue
    vi.setSystemTime(t0 + 60.5 * 60_000);
    queue = await list('status=pending');
    expect(ids(queue)).toEqual([held.decisionId]);
    expect(queue.totalCount).toBe(1);
    const expired = await list('status=expired');
    expect(ids(expired)).toEqual([old.decisionId]);
    expect(expired.items[0].status).toBe('expired');
    expect(ids(await list('status=approved'))).toEqual([approved.decisionId]);
    expect((await list('status=approved')).items[0].approval).toMatchObject({ decidedBy: SECURITY, comment: 'hotfix', requestedBy: DEV });
    expect(ids(await list('status=final&entityRef=component:default/checkout'))).toEqual([blocked.decisionId]);
    // paging keeps the filter
    const first = await list('status=pending&limit=1&environment=production');
    expect(ids(first)).toEqual([held.decisionId]);
    expect(first.nextCursor).toBeUndefined();

    // the single decision: signals the gate saw (most severe first), hosts, policy, approval
    const one = await request(seeded.server).get(`${API}/decisions/${held.decisionId}`).set('Authorization', as(SECURITY));
    expect(one.status).toBe(200);
    const detail = GateDecisionSchema.parse(one.body);
    expect(detail.evaluatedSignals?.map(s => [s.id, s.severity])).toEqual([
      ['edr:med-1', 'medium'],
      ['edr:info-1', 'informational'],
    ]);
    expect(detail.hosts.map(h => h.id)).toContain('web-01');
    expect(detail.policy.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(detail.approval?.expiresAt).toBe(new Date(t0 + 61 * 60_000).toISOString());
    // lists stay light
    expect(queue.items[0].evaluatedSignals).toBeUndefined();
    // a final decision that needed no approval has no approval block
    expect((await list('status=final&entityRef=component:default/checkout')).items[0].approval).toBeUndefined();
  });

  it('follows catalog visibility: the queue leaves out (and does not count) entities the caller may not read', async () => {
    const held = await gate('payments');
    expect(held.status).toBe('pending');
    expect(ids(await list('status=pending', SECURITY))).toContain(held.decisionId);
    const hidden = await list('status=pending', OUTSIDER);
    expect(ids(hidden)).not.toContain(held.decisionId);
    expect(hidden.totalCount).toBe(hidden.items.length);
    expect(hidden.items.every(d => d.entityRef !== 'component:default/payments')).toBe(true);
    expect(await list('status=pending&entityRef=component:default/payments', OUTSIDER)).toEqual({ items: [], totalCount: 0 });
  });

  it('refuses an unknown status naming the field', async () => {
    const res = await request(seeded.server).get(`${API}/decisions?status=waiting`).set('Authorization', as(SECURITY));
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('status');
  });
});
