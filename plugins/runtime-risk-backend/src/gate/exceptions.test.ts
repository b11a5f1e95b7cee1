import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';
import { DEV, LEAD, OUTSIDER, SECURITY, securityTeamPolicy } from '../testUtils/permissions';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const as = (user: string) => mockCredentials.user.header(user);
const inHours = (h: number) => new Date(Date.now() + h * 3600_000).toISOString();

describe.each(databases.eachSupportedId())('exceptions on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })],
    authorize: securityTeamPolicy(),
  });

  const gate = async () => {
    const res = await request(seeded.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', as(DEV))
      .send({ entityRef: 'component:default/payments', environment: 'production' });
    expect(res.status).toBe(200);
    return res.body;
  };

  const requestException = (user: string, body: Record<string, unknown> = {}) =>
    request(seeded.server)
      .post('/api/runtime-risk/v1/exceptions')
      .set('Authorization', as(user))
      .send({
        entityRef: 'component:default/payments',
        environment: 'production',
        reason: 'hotfix for an outage',
        expiresAt: inHours(2),
        ...body,
      });

  it('requests, approves by someone else, applies to the gate, then revokes', async () => {
    expect((await gate()).decision).toBe('block');

    const created = await requestException(DEV);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'pending', requestedBy: DEV, approvedBy: null, entityRef: 'component:default/payments' });
    const id = created.body.id;
    // pending exceptions change nothing
    expect((await gate()).decision).toBe('block');

    const selfWithoutPermission = await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${id}/approve`).set('Authorization', as(DEV));
    expect(selfWithoutPermission.status).toBe(403);
    const asService = await request(seeded.server)
      .post(`/api/runtime-risk/v1/exceptions/${id}/approve`)
      .set('Authorization', mockCredentials.service.header());
    expect(asService.status).toBe(403);

    const approved = await request(seeded.server)
      .post(`/api/runtime-risk/v1/exceptions/${id}/approve`)
      .set('Authorization', as(SECURITY))
      .send({ comment: 'ok for two hours' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', approvedBy: SECURITY, decidedBy: SECURITY, decisionComment: 'ok for two hours' });

    const after = await gate();
    expect(after.decision).toBe('proceed');
    expect(after.exception).toEqual({ id, expiresAt: created.body.expiresAt });
    expect(after.reasons.map((r: { code: string }) => r.code)).toContain('exception_applied');
    expect(after.riskLevel).toBe('high');

    const again = await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${id}/approve`).set('Authorization', as(LEAD));
    expect(again.status).toBe(409);

    const outsiderRevoke = await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${id}/revoke`).set('Authorization', as(OUTSIDER));
    expect(outsiderRevoke.status).toBe(403);
    const revoked = await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${id}/revoke`).set('Authorization', as(DEV));
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expect((await gate()).decision).toBe('block');

    const listed = await request(seeded.server)
      .get('/api/runtime-risk/v1/exceptions?entityRef=component:default/payments&status=revoked')
      .set('Authorization', as(DEV));
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((e: { id: string }) => e.id)).toContain(id);
    const one = await request(seeded.server).get(`/api/runtime-risk/v1/exceptions/${id}`).set('Authorization', as(DEV));
    expect(one.body.status).toBe('revoked');
  });

  it('never lets the requester approve their own exception, even an approver', async () => {
    const created = await requestException(LEAD);
    expect(created.status).toBe(201);
    const self = await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${created.body.id}/approve`).set('Authorization', as(LEAD));
    expect(self.status).toBe(403);
    expect(self.body.error.name).toBe('NotAllowedError');
    expect(self.body.error.message).toContain('requester');
    const rejected = await request(seeded.server)
      .post(`/api/runtime-risk/v1/exceptions/${created.body.id}/reject`)
      .set('Authorization', as(SECURITY));
    expect(rejected.status).toBe(200);
    expect(rejected.body.status).toBe('rejected');
    const approveRejected = await request(seeded.server)
      .post(`/api/runtime-risk/v1/exceptions/${created.body.id}/approve`)
      .set('Authorization', as(SECURITY));
    expect(approveRejected.status).toBe(409);
  });

  it('does not apply an exception scoped to other signals', async () => {
    const created = await requestException(DEV, { signalIds: ['edr:something-else'] });
    expect(created.status).toBe(201);
    await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${created.body.id}/approve`).set('Authorization', as(SECURITY)).expect(200);
    const res = await gate();
    expect(res.decision).toBe('block');
    expect(res.exception).toBeUndefined();
    await request(seeded.server).post(`/api/runtime-risk/v1/exceptions/${created.body.id}/revoke`).set('Authorization', as(SECURITY)).expect(200);
  });

  it('checks who may request and validates the request', async () => {
    const denied = await requestException(OUTSIDER);
    expect(denied.status).toBe(403);
    const before = Number((await seeded.knex('runtime_risk_exceptions').count({ n: '*' }).first())?.n);
    for (const [body, field] of [
      [{ expiresAt: inHours(24 * 30) }, 'expiresAt'],
      [{ expiresAt: inHours(-1) }, 'expiresAt'],
      [{ expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ reason: '' }, 'reason'],
      [{ environment: 'moon' }, 'environment'],
      [{ entityRef: 'component:default/' }, 'entityRef'],
      [{ maxLevel: 'extreme' }, 'maxLevel'],
      [{ approvedBy: SECURITY }, 'approvedBy'],
    ] as const) {
      const res = await requestException(DEV, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message, JSON.stringify(body)).toContain(field);
    }
    const unknown = await requestException(DEV, { entityRef: 'component:default/ghost' });
    expect(unknown.status).toBe(404);
    expect(Number((await seeded.knex('runtime_risk_exceptions').count({ n: '*' }).first())?.n)).toBe(before);
    const missing = await request(seeded.server).post('/api/runtime-risk/v1/exceptions/nope/approve').set('Authorization', as(SECURITY));
    expect(missing.status).toBe(404);
    const noCredentials = await request(seeded.server).post('/api/runtime-risk/v1/exceptions').send({});
    expect(noCredentials.status).toBe(401);
  });
});
