import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import type { PermissionsService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import request from 'supertest';
import { loadOpenApiSpec } from '../schema/openapi';
import { WEBHOOK_PATH_PREFIX } from '../http/router';
import { MemoryPullSource, signalInput, testPushSource } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';
import { rowCounts } from './helpers';

/**
 * Every route of src/schema/openapi.yaml (read at test time, so new routes are
 * covered) answers 401 without credentials or with a bad token and writes
 * nothing; the exception routes answer 403 without the permission.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const BASE = '/api/runtime-risk';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];

const REQUESTER = 'user:default/dev';
const OTHER = 'user:default/someone-else';

/** Only the requester may request exceptions; nobody may approve; everyone reads every entity. */
const authorize: PermissionsService['authorize'] = async (requests, options) => {
  const principal = options.credentials.principal as { type: string; userEntityRef?: string };
  return requests.map(r => ({
    result:
      r.permission.name === 'catalog.entity.read' ||
      (r.permission.name === 'runtime-risk.exception.create' && principal.userEntityRef === REQUESTER)
        ? AuthorizeResult.ALLOW
        : AuthorizeResult.DENY,
  }));
};

/** Example values of path parameters: a real entity, the push source, anything else. */
const PARAMS: Record<string, string> = { kind: 'component', namespace: 'default', name: 'payments', source: testPushSource.id };

function operations(): { method: Method; path: string; template: string }[] {
  const out: { method: Method; path: string; template: string }[] = [];
  for (const [template, item] of Object.entries(loadOpenApiSpec().paths)) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const path = template.replace(/\{(\w+)\}/g, (_, p: string) => PARAMS[p] ?? 'some-id');
      out.push({ method, path, template });
    }
  }
  return out;
}

describe.each(databases.eachSupportedId())('credentials and permissions on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })] }];
    harness = await startBackend({
      knex,
      sources: [edr, testPushSource],
      config: { permission: { enabled: true } },
      features: [mockServices.permissions.mock({ authorize }).factory],
    });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('finds every documented operation', () => {
    const ops = operations();
    // the DESIGN's routes at least; more appear here as the spec grows
    expect(ops.length).toBeGreaterThanOrEqual(14);
    expect(ops.map(o => `${o.method} ${o.template}`)).toEqual(
      expect.arrayContaining(['post /v1/gate', 'get /v1/sources', 'post /v1/exceptions/{id}/approve', `post ${WEBHOOK_PATH_PREFIX}/{source}`]),
    );
  });

  const body = { entityRef: 'component:default/payments', environment: 'production', reason: 'x', expiresAt: new Date(Date.now() + 3600_000).toISOString() };

  it.each(operations())('$method $template answers 401 without credentials and with a forged token', async ({ method, path }) => {
    const before = await rowCounts(knex);
    const anonymous = await request(harness.backend.server)[method](`${BASE}${path}`).send(body);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.name).toBe('AuthenticationError');
    const forged = await request(harness.backend.server)
      [method](`${BASE}${path}`)
      .set('Authorization', 'Bearer not-a-real-token')
      .set('x-signature', 'sha256=forged')
      .send(body);
    expect(forged.status).toBe(401);
    expect(await rowCounts(knex)).toEqual(before);
  });

  it('answers 403 to exception requests, approvals, rejections and revocations without the permission', async () => {
    const before = await rowCounts(knex);
    const denied = await request(harness.backend.server)
      .post(`${BASE}/v1/exceptions`)
      .set('Authorization', mockCredentials.user.header(OTHER))
      .send(body);
    expect(denied.status).toBe(403);
    expect(denied.body.error.name).toBe('NotAllowedError');
    expect(await rowCounts(knex)).toEqual(before);

    const created = await request(harness.backend.server)
      .post(`${BASE}/v1/exceptions`)
      .set('Authorization', mockCredentials.user.header(REQUESTER))
      .send(body);
    expect(created.status).toBe(201);
    const id = created.body.id;

    for (const action of ['approve', 'reject', 'revoke']) {
      for (const who of [OTHER, ...(action === 'revoke' ? [] : [REQUESTER])]) {
        const res = await request(harness.backend.server)
          .post(`${BASE}/v1/exceptions/${id}/${action}`)
          .set('Authorization', mockCredentials.user.header(who))
          .send({});
        expect(`${action} by ${who}: ${res.status}`).toBe(`${action} by ${who}: 403`);
      }
      const asService = await request(harness.backend.server)
        .post(`${BASE}/v1/exceptions/${id}/${action}`)
        .set('Authorization', mockCredentials.service.header())
        .send({});
      expect(asService.status).toBe(403);
    }
    const stored = await knex('runtime_risk_exceptions').where({ id }).first();
    expect(stored.status).toBe('pending');
    expect(stored.approved_by).toBeNull();
  });
});
