import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Entity } from '@backstage/catalog-model';
import request from 'supertest';
import { GateDecisionSchema, sameEntityRef } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG } from '../engine';
import { signalInput } from '../testUtils/fixtures';
import { entities, seededBackendPerDatabase } from '../testUtils/backend';
import { DEV, LEAD, SECURITY, securityTeamPolicy } from '../testUtils/permissions';
import { RequesterResolver, selfApproval } from './requester';

const API = '/api/runtime-risk/v1';
const as = (user: string) => mockCredentials.user.header(user);
const SERVICE = mockCredentials.service.header();
const SERVICE_SUBJECT = 'external:test-service';

const user = (name: string, annotations: Record<string, string>): Entity => ({
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'User',
  metadata: { name, namespace: 'default', annotations },
  spec: {},
});

const USERS = [
  user('security-lead', { 'github.com/user-login': 'sec-lead-gh' }),
  user('dev', { 'gitlab.com/user-login': 'dev-gl' }),
  // two users claim one login: never resolved to either
  user('twin-a', { 'github.com/user-login': 'twin' }),
  user('twin-b', { 'github.com/user-login': 'twin' }),
];

describe('entity refs compare case-insensitively', () => {
  it('sameEntityRef and selfApproval ignore case', () => {
    expect(sameEntityRef('user:default/Alice', 'user:default/alice')).toBe(true);
    expect(sameEntityRef('user:default/alice', 'user:default/alicia')).toBe(false);
    expect(sameEntityRef(undefined, 'user:default/alice')).toBe(false);
    expect(selfApproval('user:default/alice', { assertedBy: 'user:default/Alice' })).toContain('asked the gate');
    const requester = {
      provider: 'github' as const,
      login: 'al',
      entityRef: 'user:default/Alice',
      resolved: true,
      assertedBy: 'external:ci',
    };
    expect(selfApproval('user:default/ALICE', { assertedBy: 'external:ci', requester })).toContain('requested this deployment');
    expect(selfApproval('user:default/bob', { assertedBy: 'external:ci', requester })).toBeUndefined();
    // unresolved: a user named like the login is refused too
    const unresolved = { ...requester, entityRef: null, resolved: false, login: 'Bob' };
    expect(selfApproval('user:default/bob', { assertedBy: 'external:ci', requester: unresolved })).toContain('unresolved requester');
  });
});

describe('RequesterResolver', () => {
  it('asks the catalog once per login with its own credentials (filtered by annotation), then from its cache', async () => {
    const catalog = catalogServiceMock({ entities: [...entities, ...USERS] });
    const calls: unknown[] = [];
    const counting = {
      getEntities: (req: Parameters<typeof catalog.getEntities>[0], opts: Parameters<typeof catalog.getEntities>[1]) => {
        const credentials = (opts as { credentials?: { principal: { type: string } } } | undefined)?.credentials;
        calls.push({ filter: req?.filter, principal: credentials?.principal.type });
        return catalog.getEntities(req, opts);
      },
    };
    let now = 1_000_000;
    const resolver = new RequesterResolver({ catalog: counting, auth: mockServices.auth(), clock: () => now });
    const first = await resolver.resolve({ provider: 'github', login: 'Sec-Lead-GH' }, SERVICE_SUBJECT);
    expect(first).toEqual({
      provider: 'github',
      login: 'Sec-Lead-GH',
      entityRef: 'user:default/security-lead',
      resolved: true,
      assertedBy: SERVICE_SUBJECT,
    });
    await Promise.all([1, 2, 3].map(() => resolver.resolve({ provider: 'github', login: 'sec-lead-gh' }, 'x')));
    expect(calls).toEqual([
      { filter: { kind: 'User', 'metadata.annotations.github.com/user-login': 'Sec-Lead-GH' }, principal: 'service' },
    ]);
    // gitlab logins by their own annotation; a github login does not match it
    expect((await resolver.resolve({ provider: 'gitlab', login: 'dev-gl' }, 'x')).entityRef).toBe('user:default/dev');
    expect((await resolver.resolve({ provider: 'github', login: 'dev-gl' }, 'x')).resolved).toBe(false);
    const twin = await resolver.resolve({ provider: 'github', login: 'twin' }, 'x');
    expect(twin).toMatchObject({ entityRef: null, resolved: false });
    expect(twin.note).toContain('several User entities');
    now += 61_000;
    await resolver.resolve({ provider: 'github', login: 'sec-lead-gh' }, 'x');
    expect(calls).toHaveLength(5);
  });

  it('records an unresolved requester when the catalog fails, and asks again next time', async () => {
    let fail = true;
    const catalog = catalogServiceMock({ entities: USERS });
    const flaky = {
      getEntities: (req: Parameters<typeof catalog.getEntities>[0], opts: Parameters<typeof catalog.getEntities>[1]) =>
        fail ? Promise.reject(new Error('ECONNREFUSED')) : catalog.getEntities(req, opts),
    };
    const resolver = new RequesterResolver({ catalog: flaky, auth: mockServices.auth() });
    expect(await resolver.resolve({ provider: 'github', login: 'sec-lead-gh' }, 'x')).toMatchObject({
      resolved: false,
      note: 'catalog unavailable',
    });
    fail = false;
    expect((await resolver.resolve({ provider: 'github', login: 'sec-lead-gh' }, 'x')).resolved).toBe(true);
  });
});

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

describe('who asked: requestedBy and self-approval', () => {
  const seeded = seededBackendPerDatabase(databases, 'SQLITE_3', {
    // payments: one medium detection -> approval_required in production
    signals: [signalInput('med-1', { hostname: 'web-01', severity: 'medium' })],
    authorize: securityTeamPolicy({ createRequiresUser: true, overrider: LEAD }),
    entities: [...entities, ...USERS],
    config: { runtimeRisk: { ingestion: { frequency: { seconds: 30 } }, policy: DEFAULT_POLICY_CONFIG } },
  });

  const gate = async (authorization: string, extra: Record<string, unknown> = {}) => {
    const res = await request(seeded.server)
      .post(`${API}/gate`)
      .set('Authorization', authorization)
      .send({ entityRef: 'component:default/payments', environment: 'production', ...extra });
    expect(res.status).toBe(200);
    const decided = GateDecisionSchema.parse(res.body);
    expect(decided.status).toBe('pending');
    return decided;
  };
  const act = (id: string, action: 'approve' | 'reject' | 'override', who: string) =>
    request(seeded.server)
      .post(`${API}/decisions/${id}/${action}`)
      .set('Authorization', as(who))
      .send(action === 'override' ? { decision: 'proceed', reason: 'hotfix' } : {});

  it('refuses the requester under another casing of their ref (decisions and exceptions)', async () => {
    const pending = await gate(as('user:default/Security'));
    for (const action of ['approve', 'reject'] as const) {
      const self = await act(pending.decisionId, action, SECURITY);
      expect(self.status).toBe(403);
      expect(self.body.error.message).toContain('user:default/security asked the gate for this deployment');
    }
    const overrideOwn = await gate(as('user:default/SECURITY-LEAD'));
    const self = await act(overrideOwn.decisionId, 'override', LEAD);
    expect(self.status).toBe(403);
    expect(self.body.error.message).toContain('can never override');
    expect((await act(pending.decisionId, 'approve', LEAD)).status).toBe(200);

    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const exception = await request(seeded.server)
      .post(`${API}/exceptions`)
      .set('Authorization', as('user:default/Security'))
      .send({ entityRef: 'component:default/payments', environment: 'production', reason: 'hotfix', expiresAt });
    expect(exception.status).toBe(201);
    const approveOwn = await request(seeded.server)
      .post(`${API}/exceptions/${exception.body.id}/approve`)
      .set('Authorization', as(SECURITY))
      .send({});
    expect(approveOwn.status).toBe(403);
    expect(approveOwn.body.error.message).toContain('requester of an exception');
    // the requester may revoke their own request under any casing
    const revoke = await request(seeded.server)
      .post(`${API}/exceptions/${exception.body.id}/revoke`)
      .set('Authorization', as('user:default/SeCuRiTy'))
      .send({});
    expect(revoke.status).toBe(200);
  });

  it('resolves requestedBy to a User with the plugin credentials and refuses that person and the token', async () => {
    const pending = await gate(SERVICE, { requestedBy: { provider: 'github', login: 'Sec-Lead-GH' } });
    expect(pending.requester).toEqual({
      provider: 'github',
      login: 'Sec-Lead-GH',
      entityRef: 'user:default/security-lead',
      resolved: true,
      assertedBy: SERVICE_SUBJECT,
    });
    const detail = await request(seeded.server).get(`${API}/decisions/${pending.decisionId}`).set('Authorization', as(DEV));
    expect(detail.body.requester).toMatchObject({ entityRef: 'user:default/security-lead', assertedBy: SERVICE_SUBJECT });

    // (the test policy knows approvers by their exact ref; casing is covered above)
    const self = await act(pending.decisionId, 'approve', LEAD);
    expect(self.status).toBe(403);
    expect(self.body.error.message).toContain("requested this deployment (github login 'Sec-Lead-GH', asserted by external:test-service)");
    expect((await act(pending.decisionId, 'override', LEAD)).status).toBe(403);
    const other = await act(pending.decisionId, 'approve', SECURITY);
    expect(other.status).toBe(200);
    expect(other.body.status).toBe('approved');

    // the audit log records who asked and who asserted it
    const rows = await seeded.knex('runtime_risk_audit_log').where({ subject: pending.decisionId, type: 'gate-decision' });
    expect(rows).toHaveLength(1);
    expect(rows[0].actor).toBe(SERVICE_SUBJECT);
    expect(JSON.stringify(rows[0].payload)).toContain('user:default/security-lead');
  });

  it('records an unknown login unresolved (flagged) and still refuses a user of that name', async () => {
    const pending = await gate(SERVICE, { requestedBy: { provider: 'github', login: 'security' } });
    expect(pending.requester).toMatchObject({ login: 'security', entityRef: null, resolved: false, assertedBy: SERVICE_SUBJECT });
    expect(pending.requester?.note).toContain('no User entity has github.com/user-login: security');
    const self = await act(pending.decisionId, 'approve', SECURITY);
    expect(self.status).toBe(403);
    expect(self.body.error.message).toContain('unresolved requester');
    expect((await act(pending.decisionId, 'approve', LEAD)).status).toBe(200);
  });

  it('refuses a malformed requestedBy with a 400 naming the field', async () => {
    for (const [requestedBy, field] of [
      [{ provider: 'bitbucket', login: 'x' }, 'requestedBy'],
      [{ provider: 'github', login: 'a b' }, 'requestedBy'],
      [{ provider: 'github', login: 'x', email: 'x@example.com' }, 'requestedBy'],
      [{ provider: 'github', login: '' }, 'requestedBy'],
    ] as const) {
      const res = await request(seeded.server)
        .post(`${API}/gate`)
        .set('Authorization', SERVICE)
        .send({ entityRef: 'component:default/payments', environment: 'production', requestedBy });
      expect(res.status, JSON.stringify(requestedBy)).toBe(400);
      expect(res.body.error.message).toContain(field);
    }
  });
});
