/**
 * The permission matrix through a real backend: the runtime-risk plugin, the
 * real permission backend (`@backstage/plugin-permission-backend`) with this
 * module's policy, Backstage's real permissions service (the one that decides
 * service principals by their access restrictions), the catalog service mock
 * with entities, and a stand-in for the catalog's permission endpoint that
 * applies the catalog's real rules (`IS_ENTITY_OWNER`) to those entities.
 * Static tokens are resolved as `backend.auth.externalAccess` does: subject and
 * the access restrictions for plugin `runtime-risk`.
 */
import {
  TestDatabases,
  mockCredentials,
  mockServices,
  startTestBackend,
  type TestBackend,
} from '@backstage/backend-test-utils';
import {
  coreServices,
  createBackendPlugin,
  createServiceFactory,
  type BackstageCredentials,
  type HttpAuthService,
} from '@backstage/backend-plugin-api';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { catalogEntityPermissionResourceRef } from '@backstage/plugin-catalog-node/alpha';
import { permissionRules } from '@backstage/plugin-catalog-backend/alpha';
import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import request from 'supertest';
import runtimeRiskPlugin from '@runtime-risk/backstage-plugin-runtime-risk-backend';
import permissionPolicyModule from './index';

const BASE = '/api/runtime-risk';
const PAYMENTS = 'component:default/payments';
const LEDGER = 'component:default/ledger';

const OWNER = 'user:default/olivia';
const OTHER = 'user:default/oscar';
const APPROVER = 'user:default/sam';
const HIDDEN = 'user:default/hugo';
/** Group memberships (what the sign-in resolver would put in `ownershipEntityRefs`). */
const GROUPS: Record<string, string[]> = {
  [OWNER]: ['group:default/team-a'],
  [OTHER]: ['group:default/engineering'],
  [APPROVER]: ['group:default/security'],
  [HIDDEN]: [],
};

const UNRESTRICTED = 'static-unrestricted-token';
const CI = 'static-ci-token';
const RELEASE_BOT = 'static-release-bot-token';

/** As in app-config.production.yaml, plus an unrestricted token and one granted override. */
const externalAccess = [
  { type: 'static', options: { token: UNRESTRICTED, subject: 'tooling' } },
  {
    type: 'static',
    options: { token: CI, subject: 'ci-gate' },
    accessRestrictions: [
      { plugin: 'runtime-risk', permission: ['runtime-risk.gate.evaluate', 'runtime-risk.decision.read', 'catalog.entity.read'] },
    ],
  },
  {
    type: 'static',
    options: { token: RELEASE_BOT, subject: 'release-bot' },
    accessRestrictions: [{ plugin: 'runtime-risk', permission: ['runtime-risk.decision.override', 'catalog.entity.read'] }],
  },
];

function component(name: string, owner: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: 'default', annotations: { 'runtime-risk.io/hosts': `${name}-01` } },
    spec: { type: 'service', lifecycle: 'production', owner },
    relations: [{ type: 'ownedBy', targetRef: owner }],
  };
}
const entities = [component('payments', 'group:default/team-a'), component('ledger', 'group:default/team-b')];

/** What `backend.auth.externalAccess` makes of a static token for plugin `pluginId` (subject, restrictions). */
function staticTokenCredentials(token: string, pluginId: string): BackstageCredentials | undefined {
  const entry = externalAccess.find(e => e.options.token === token);
  if (!entry) return undefined;
  if (!entry.accessRestrictions) return mockCredentials.service(entry.options.subject);
  const forPlugin = entry.accessRestrictions.filter(r => r.plugin === pluginId);
  if (!forPlugin.length) throw Object.assign(new Error(`This token's access is restricted to plugin(s) 'runtime-risk'`), { name: 'NotAllowedError' });
  return mockCredentials.service(entry.options.subject, { permissionNames: forPlugin.flatMap(r => r.permission) });
}

/** The mock HTTP auth, plus static tokens resolved as Backstage resolves them. */
const httpAuthWithStaticTokens = createServiceFactory({
  service: coreServices.httpAuth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }): HttpAuthService {
    const inner = mockServices.httpAuth({ pluginId: plugin.getId(), defaultCredentials: mockCredentials.none() });
    return {
      credentials: (async (req: Parameters<HttpAuthService['credentials']>[0], options?: { allow?: string[] }) => {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const creds = token ? staticTokenCredentials(token, plugin.getId()) : undefined;
        if (creds) {
          if (options?.allow && !options.allow.includes('service')) {
            throw Object.assign(new Error('service credentials not allowed'), { name: 'NotAllowedError' });
          }
          return creds;
        }
        // A plugin token issued on behalf of a user carries the calling plugin as
        // actor; the mock drops it, so restore it (the catalog's apply-conditions
        // endpoint refuses users without an actor).
        const obo = token?.startsWith('mock-service-token:') ? JSON.parse(token.slice('mock-service-token:'.length)).obo : undefined;
        if (obo) return mockCredentials.user(obo, { actor: { subject: 'plugin:permission' } });
        return inner.credentials(req, options as never);
      }) as HttpAuthService['credentials'],
      issueUserCookie: (res, options) => inner.issueUserCookie(res, options),
    };
  },
});

const userInfoWithGroups = createServiceFactory({
  service: coreServices.userInfo,
  deps: {},
  factory: () => ({
    async getUserInfo(credentials: BackstageCredentials) {
      const ref = (credentials.principal as { userEntityRef: string }).userEntityRef;
      return { userEntityRef: ref, ownershipEntityRefs: [ref, ...(GROUPS[ref] ?? [])] };
    },
  }),
});

/** The catalog's permission endpoint (apply-conditions) over the mock's entities, with the catalog's own rules. */
const catalogPermissionEndpoint = createBackendPlugin({
  pluginId: 'catalog',
  register(env) {
    env.registerInit({
      deps: { permissionsRegistry: coreServices.permissionsRegistry },
      async init({ permissionsRegistry }) {
        permissionsRegistry.addResourceType({
          resourceRef: catalogEntityPermissionResourceRef,
          rules: Object.values(permissionRules),
          getResources: async refs => refs.map(ref => entities.find(e => stringifyEntityRef(e) === ref)),
        });
      },
    });
  },
});

const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

async function start(permissionsEnabled: boolean) {
  const knex = await databases.init('SQLITE_3');
  const scheduler = mockServices.scheduler.mock();
  const config = {
    permission: { enabled: permissionsEnabled },
    backend: { auth: { externalAccess } },
    runtimeRisk: {
      permissionPolicy: {
        approverGroups: ['group:default/security'],
        readerGroups: ['group:default/engineering'],
        restrictEntityReads: true,
      },
    },
  };
  const backend = await startTestBackend({
    features: [
      runtimeRiskPlugin,
      import('@backstage/plugin-permission-backend'),
      permissionPolicyModule,
      catalogPermissionEndpoint,
      catalogServiceMock.factory({ entities }),
      permissionsServiceFactory,
      httpAuthWithStaticTokens,
      userInfoWithGroups,
      mockServices.database.factory({ knex }),
      mockServices.rootConfig.factory({ data: config }),
      scheduler.factory,
    ],
  });
  const tasks = (scheduler.scheduleTask as unknown as { mock: { calls: [{ id: string; fn: (s: AbortSignal) => Promise<void> }][] } }).mock.calls;
  await tasks.map(c => c[0]).find(t => t.id === 'runtime-risk-correlate')!.fn(new AbortController().signal);
  return backend;
}

const auth = (who: string) => (who.startsWith('user:') ? mockCredentials.user.header(who) : `Bearer ${who}`);
const NAMES: Record<string, string> = {
  [OWNER]: 'owner',
  [OTHER]: 'other user',
  [APPROVER]: 'approver',
  [HIDDEN]: 'user who cannot see',
  [UNRESTRICTED]: 'unrestricted static token',
  [CI]: 'restricted CI token',
};
const WHO = [OWNER, OTHER, APPROVER, HIDDEN, UNRESTRICTED, CI];
const NOT_APPROVER = WHO.filter(w => w !== APPROVER);
/** Statuses of a request only the approver (security group) and the unrestricted token may make. */
const APPROVER_AND_UNRESTRICTED_ONLY = {
  owner: 403,
  'other user': 403,
  approver: 200,
  'user who cannot see': 403,
  'unrestricted static token': 200,
  'restricted CI token': 403,
};
/** Statuses of everyone but the approver for an approval or override of the payments decision or exception. */
const REFUSED_BUT_TO_THE_APPROVER = {
  owner: 403,
  'other user': 403,
  'user who cannot see': 404,
  'unrestricted static token': 403,
  'restricted CI token': 403,
};

describe('permission matrix (real permission backend, runtime-risk policy)', () => {
  let backend: TestBackend;
  let paymentsDecision: string;
  let ledgerDecision: string;
  let exceptionId: string;

  const call = (who: string, method: 'get' | 'post', path: string, body?: object) =>
    request(backend.server)[method](`${BASE}${path}`).set('Authorization', auth(who)).send(body ?? {});

  /** Each caller's (of `callers`, default all) status for one request, as `name: status`. */
  async function statuses(method: 'get' | 'post', path: string | (() => string), body?: object | (() => object), callers = WHO) {
    const out: Record<string, number> = {};
    for (const who of callers) {
      const res = await call(who, method, typeof path === 'function' ? path() : path, typeof body === 'function' ? body() : body);
      out[NAMES[who]] = res.status;
    }
    return out;
  }

  beforeAll(async () => {
    backend = await start(true);
    const ci = await call(CI, 'post', '/v1/gate', { entityRef: PAYMENTS, environment: 'production' });
    expect(ci.status).toBe(200);
    paymentsDecision = ci.body.decisionId;
    const other = await call(OTHER, 'post', '/v1/gate', { entityRef: LEDGER, environment: 'production' });
    expect(other.status).toBe(200);
    ledgerDecision = other.body.decisionId;
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('entity reads follow the catalog: hidden is 404 like unknown', async () => {
    const expected = {
      owner: 200,
      'other user': 200,
      approver: 200,
      'user who cannot see': 404,
      'unrestricted static token': 200,
      'restricted CI token': 200,
    };
    expect(await statuses('get', '/v1/entities/component/default/payments/risk?environment=production')).toEqual(expected);
    expect(await statuses('get', `/v1/analysis?entityRef=${PAYMENTS}&environment=production`)).toEqual(expected);
    expect(await statuses('get', `/v1/decisions/${paymentsDecision}`)).toEqual(expected);
    expect(await statuses('get', `/v1/signals?entityRef=${PAYMENTS}`)).toEqual(expected);
    expect(await statuses('post', '/v1/gate', { entityRef: PAYMENTS, environment: 'production', dryRun: true })).toEqual(expected);

    const hidden = await call(HIDDEN, 'get', '/v1/entities/component/default/payments/risk');
    const unknown = await call(HIDDEN, 'get', '/v1/entities/component/default/nothing-here/risk');
    expect(hidden.body.error).toEqual({ ...unknown.body.error, message: unknown.body.error.message.replace('nothing-here', 'payments') });
  });

  it('lists count only what the caller may see', async () => {
    const totals: Record<string, number> = {};
    for (const who of WHO) {
      const res = await call(who, 'get', '/v1/decisions?environment=production&limit=100');
      expect(res.status).toBe(200);
      totals[NAMES[who]] = res.body.totalCount;
      expect(res.body.items).toHaveLength(res.body.totalCount);
    }
    expect(totals).toEqual({
      owner: 6, // the payments decisions (the CI's and five dry runs), not ledger's
      'other user': 7, // reader group: all
      approver: 7,
      'user who cannot see': 0,
      'unrestricted static token': 7,
      'restricted CI token': 7,
    });
    const owner = await call(OWNER, 'get', '/v1/decisions?limit=100');
    expect(owner.body.items.map((d: { entityRef: string }) => d.entityRef)).not.toContain(LEDGER);
    expect((await call(HIDDEN, 'get', `/v1/decisions?entityRef=${PAYMENTS}`)).body).toEqual({ items: [], totalCount: 0 });
    expect((await call(OWNER, 'get', `/v1/decisions/${ledgerDecision}`)).status).toBe(404);
  });

  it('global reads need runtime-risk.admin.read', async () => {
    const expected = APPROVER_AND_UNRESTRICTED_ONLY;
    expect(await statuses('get', '/v1/sources')).toEqual(expected);
    expect(await statuses('get', '/v1/coverage')).toEqual(expected);
    expect(await statuses('get', '/v1/audit/verify')).toEqual(expected);
    expect(await statuses('get', '/v1/audit/head')).toEqual(expected);
    expect(await statuses('get', '/v1/signals')).toEqual(expected);
  });

  it('the policy needs runtime-risk.policy.read (approvers and admins)', async () => {
    const expected = APPROVER_AND_UNRESTRICTED_ONLY;
    expect(await statuses('get', '/v1/policy')).toEqual(expected);
    expect(await statuses('get', '/v1/policies')).toEqual(expected);
    const policy = await call(APPROVER, 'get', '/v1/policy');
    expect(policy.body).toMatchObject({ id: expect.any(String), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(Object.keys(policy.body.environments)).toContain('production');
  });

  it('only owners request exceptions, only approvers approve; no service token decides for a human', async () => {
    const expiresAt = new Date(Date.now() + 24 * 3600_000).toISOString();
    const body = { entityRef: PAYMENTS, environment: 'production', reason: 'hotfix', expiresAt };
    const requested = await statuses('post', '/v1/exceptions', body);
    expect(requested).toEqual({
      owner: 201,
      'other user': 403,
      approver: 403,
      'user who cannot see': 404,
      'unrestricted static token': 403,
      'restricted CI token': 403,
    });
    const refused = await call(UNRESTRICTED, 'post', '/v1/exceptions', body);
    expect(refused.body.error.message).toMatch(/only a person can request an exception/);
    const list = await call(OWNER, 'get', `/v1/exceptions?entityRef=${PAYMENTS}`);
    expect(list.body.totalCount).toBe(1);
    exceptionId = list.body.items[0].id;

    expect(await statuses('post', `/v1/exceptions/${exceptionId}/approve`, undefined, NOT_APPROVER)).toEqual(REFUSED_BUT_TO_THE_APPROVER);
    expect((await call(APPROVER, 'post', `/v1/exceptions/${exceptionId}/approve`)).status).toBe(200);
  });

  it('overrides need the override permission and a person, or a token granted it by name', async () => {
    const override = { decision: 'proceed', reason: 'verified by hand' };
    expect(await statuses('post', `/v1/decisions/${paymentsDecision}/override`, override, NOT_APPROVER)).toEqual(REFUSED_BUT_TO_THE_APPROVER);
    const unrestricted = await call(UNRESTRICTED, 'post', `/v1/decisions/${paymentsDecision}/override`, override);
    expect(unrestricted.body.error.message).toMatch(/only a person can override decisions.*accessRestrictions/);
    // a token whose accessRestrictions name runtime-risk.decision.override may
    const bot = await call(RELEASE_BOT, 'post', `/v1/decisions/${ledgerDecision}/override`, override);
    expect(bot.status).toBe(200);
    expect((await call(APPROVER, 'post', `/v1/decisions/${paymentsDecision}/override`, override)).status).toBe(200);
  });

  it('the restricted CI token can ask the gate and read decisions, nothing else', async () => {
    expect((await call(CI, 'post', '/v1/gate', { entityRef: LEDGER, environment: 'production' })).status).toBe(200);
    expect((await call(CI, 'get', `/v1/decisions/${ledgerDecision}`)).status).toBe(200);
    for (const [method, path] of [
      ['get', '/v1/sources'],
      ['get', '/v1/audit/verify'],
      ['get', '/v1/audit/head'],
      ['post', `/v1/decisions/${ledgerDecision}/approve`],
      ['post', `/v1/exceptions/${exceptionId}/revoke`],
    ] as const) {
      expect(`${method} ${path}: ${(await call(CI, method, path)).status}`).toBe(`${method} ${path}: 403`);
    }
  });
});

describe('permission framework off (permission.enabled not true)', () => {
  let backend: TestBackend;
  beforeAll(async () => {
    backend = await start(false);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  it('refuses approvals, overrides and exceptions naming permission.enabled; reads keep working', async () => {
    const as = (who: string) => ({ Authorization: auth(who) });
    const gate = await request(backend.server).post(`${BASE}/v1/gate`).set(as(OWNER)).send({ entityRef: PAYMENTS, environment: 'production' });
    expect(gate.status).toBe(200);
    const read = await request(backend.server).get(`${BASE}/v1/entities/component/default/payments/risk`).set(as(HIDDEN));
    expect(read.status).toBe(200);
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    for (const [path, body] of [
      ['/v1/exceptions', { entityRef: PAYMENTS, environment: 'production', reason: 'x', expiresAt }],
      [`/v1/decisions/${gate.body.decisionId}/override`, { decision: 'proceed', reason: 'x' }],
      [`/v1/decisions/${gate.body.decisionId}/approve`, {}],
    ] as const) {
      const res = await request(backend.server).post(`${BASE}${path}`).set(as(APPROVER)).send(body);
      expect(`${path}: ${res.status}`).toBe(`${path}: 403`);
      expect(res.body.error.message).toContain('permission.enabled');
    }
  });
});

describe('app-config.production.yaml', () => {
  it('enables permissions and restricts the CI token to exactly what a pipeline needs', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { parse } = await import('yaml');
    const data = parse(fs.readFileSync(path.resolve(__dirname, '../../../app-config.production.yaml'), 'utf8'));
    const config = new ConfigReader(data);
    expect(config.getBoolean('permission.enabled')).toBe(true);
    const ci = config.getConfigArray('backend.auth.externalAccess').find(e => e.getOptionalString('options.subject') === 'ci-gate');
    expect(ci?.get('accessRestrictions')).toEqual([
      { plugin: 'runtime-risk', permission: ['runtime-risk.gate.evaluate', 'runtime-risk.decision.read', 'catalog.entity.read'] },
    ]);
    expect(config.getStringArray('runtimeRisk.permissionPolicy.approverGroups').length).toBeGreaterThan(0);
  });
});
