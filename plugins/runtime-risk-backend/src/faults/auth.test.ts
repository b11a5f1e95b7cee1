import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import type { PermissionsService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import request from 'supertest';
import { loadOpenApiSpec } from '../schema/openapi';
import { WEBHOOK_PATH_PREFIX } from '../http/router';
import { GITHUB_EVENTS_PATH } from '../http/githubRoutes';
import { criticalEdrSource, sign, testPushSource } from '../testUtils/fixtures';
import { FakeGithub, githubSignature } from '../testUtils/fakeGithub';
import { startBackend, type Harness } from '../testUtils/backend';
import { rowCounts } from './helpers';

/**
 * Every route of src/schema/openapi.yaml (read at test time, so new routes are
 * covered) answers 401 without credentials or with a bad token and writes
 * nothing; the exception routes answer 403 without the permission.
 *
 * The exceptions: the routes the spec marks `security: []` are reachable without
 * Backstage credentials (auth policies in plugin.ts) because their callers cannot
 * hold Backstage tokens; each trusts only its HMAC over the raw body. Exactly the
 * ones in SIGNED_ROUTES may be so; for them a missing or wrong signature is a 401
 * and no Backstage credential (user or service) is taken in place of it.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const BASE = '/api/runtime-risk';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];

/** Operations authenticated by an HMAC signature instead of Backstage credentials (spec: `security: []`). */
const SIGNED_ROUTES = [
  `post ${WEBHOOK_PATH_PREFIX}/{source}`,
  `post ${WEBHOOK_PATH_PREFIX}/{source}/heartbeat`,
  `post ${GITHUB_EVENTS_PATH}`,
];
const GITHUB_SECRET = 'github-webhook-secret-for-auth-tests';

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

interface Operation {
  method: Method;
  path: string;
  template: string;
  /** `security: []` in the spec: no Backstage credentials required. */
  open: boolean;
}

function allOperations(): Operation[] {
  const out: Operation[] = [];
  for (const [template, item] of Object.entries(loadOpenApiSpec().paths)) {
    for (const method of METHODS) {
      const op = item[method] as { security?: unknown[] } | undefined;
      if (!op) continue;
      const path = template.replace(/\{(\w+)\}/g, (_, p: string) => PARAMS[p] ?? 'some-id');
      out.push({ method, path, template, open: Array.isArray(op.security) && op.security.length === 0 });
    }
  }
  return out;
}
const key = (o: Operation) => `${o.method} ${o.template}`;
/** Operations that need Backstage credentials. */
const operations = () => allOperations().filter(o => !SIGNED_ROUTES.includes(key(o)));
/** The HMAC-signed operations. */
const signedOperations = () => allOperations().filter(o => SIGNED_ROUTES.includes(key(o)));

describe.each(databases.eachSupportedId())('credentials and permissions on %p', databaseId => {
  const github = new FakeGithub(); // its App key only: no call reaches GitHub here
  let knex: Knex;
  let harness: Harness;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const edr = criticalEdrSource();
    harness = await startBackend({
      knex,
      sources: [edr, testPushSource],
      config: {
        permission: { enabled: true },
        // configured, so its receiver checks signatures (without the block it answers 404)
        runtimeRisk: {
          integrations: {
            github: {
              appId: Number(github.appId),
              privateKey: github.privateKeyPem,
              webhookSecret: GITHUB_SECRET,
              apiBaseUrl: 'http://127.0.0.1:9',
              environments: { production: 'production' },
            },
          },
        },
      },
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
    expect(ops.map(key)).toEqual(expect.arrayContaining(['post /v1/gate', 'get /v1/sources', 'post /v1/exceptions/{id}/approve']));
    // exactly the signed routes are open without credentials; a new `security: []` route must be added here (and tested)
    expect(allOperations().filter(o => o.open).map(key).sort()).toEqual([...SIGNED_ROUTES].sort());
    expect(signedOperations().map(key).sort()).toEqual([...SIGNED_ROUTES].sort());
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

  /** A request to a signed route with `signature` (or none) and optional Backstage credentials. */
  const signedRequest = (op: Operation, payload: string, signature?: string, authorization?: string) => {
    let req = request(harness.backend.server)
      [op.method](`${BASE}${op.path}`)
      .set('Content-Type', 'application/json')
      .set('X-GitHub-Event', 'ping')
      .set('X-GitHub-Delivery', `delivery-${Math.random().toString(36).slice(2)}`);
    if (signature) req = req.set(op.template === GITHUB_EVENTS_PATH ? 'X-Hub-Signature-256' : 'x-signature', signature);
    if (authorization) req = req.set('Authorization', authorization);
    return req.send(payload);
  };
  const validSignature = (op: Operation, payload: string) =>
    op.template === GITHUB_EVENTS_PATH ? githubSignature(payload, GITHUB_SECRET) : sign(payload);
  const githubDeliveries = async () => Number((await knex('runtime_risk_github_deliveries').count({ n: '*' }).first())?.n ?? 0);

  it.each(signedOperations())(
    '$method $template trusts only its signature: 401 without a valid one, whatever Backstage credentials come with it',
    async op => {
      const before = { rows: await rowCounts(knex), deliveries: await githubDeliveries() };
      const payload = JSON.stringify({ zen: 'Keep it logically awesome.', signals: [] });
      const attempts: [string, string | undefined, string | undefined][] = [
        ['no signature, no credentials', undefined, undefined],
        ['forged signature and token', 'sha256=forged', 'Bearer not-a-real-token'],
        ['signature with another secret', githubSignature(payload, 'not-the-secret'), undefined],
        ['signature of another body', validSignature(op, `${payload} `), undefined],
        ['a valid user token, no signature', undefined, mockCredentials.user.header(REQUESTER)],
        ['a valid service token, no signature', undefined, mockCredentials.service.header()],
        ['a valid user token, forged signature', 'sha256=forged', mockCredentials.user.header(REQUESTER)],
      ];
      for (const [what, signature, authorization] of attempts) {
        const res = await signedRequest(op, payload, signature, authorization);
        expect(`${what}: ${res.status} ${res.body?.error?.name}`).toBe(`${what}: 401 AuthenticationError`);
      }
      expect({ rows: await rowCounts(knex), deliveries: await githubDeliveries() }).toEqual(before);

      // the control: the route is there and the valid signature alone (no credentials) is enough
      const signed = await signedRequest(op, payload, validSignature(op, payload));
      expect(signed.status).toBe(202);
    },
  );

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
