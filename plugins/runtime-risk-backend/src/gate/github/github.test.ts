import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import request from 'supertest';
import type { Knex } from 'knex';
import { DEFAULT_POLICY_CONFIG } from '../../engine';
import { MemoryPullSource, component, signalInput } from '../../testUtils/fixtures';
import { countDecisions, startBackend, type Harness } from '../../testUtils/backend';
import { LEAD, SECURITY, securityTeamPolicy } from '../../testUtils/permissions';
import { FakeGithub, githubSignature } from '../../testUtils/fakeGithub';
import { DatabaseGithubStore } from '../../store/DatabaseGithubStore';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const SECRET = 'webhook-secret-for-tests';
const EVENTS = '/api/runtime-risk/v1/integrations/github/events';
const PORTAL = 'http://portal.test';

const slug = (repo: string) => ({ 'github.com/project-slug': repo });

async function until<X>(what: string, get: () => X | undefined | false, ms = 5000): Promise<X> {
  const end = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

describe.each(databases.eachSupportedId())('GitHub deployment protection rule on %p', databaseId => {
  const github = new FakeGithub();
  let knex: Knex;
  let harness: Harness;
  let server: Harness['backend']['server'];
  let delivery = 0;
  let run = 100;

  beforeAll(async () => {
    await github.start();
    knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [
      {
        signals: [
          signalInput('low-1', { hostname: 'clean-01', severity: 'low' }),
          // one fresh medium detection -> moderate -> approval_required in production
          signalInput('med-1', { hostname: 'web-01', severity: 'medium' }),
          signalInput('crit-1', { hostname: 'app-01', severity: 'critical' }),
          signalInput('low-2', { hostname: 'api-01', severity: 'low' }),
          signalInput('crit-2', { hostname: 'worker-01', severity: 'critical' }),
        ],
      },
    ];
    harness = await startBackend(backendOptions(edr));
    server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  /** The backend of these tests (another replica: the same options on the same database). */
  const backendOptions = (edr: MemoryPullSource): Parameters<typeof startBackend>[0] => ({
      knex,
      sources: [edr],
      entities: [
        component('clean', { 'runtime-risk.io/hosts': 'clean-01', ...slug('acme/clean') }),
        component('payments', { 'runtime-risk.io/hosts': 'web-01', ...slug('Acme/Payments') }),
        component('checkout', { 'runtime-risk.io/hosts': 'app-01', ...slug('acme/checkout') }),
        // two entities of one repository: both gated, the strictest answer wins
        component('mono-api', { 'runtime-risk.io/hosts': 'api-01', ...slug('acme/mono') }),
        component('mono-worker', { 'runtime-risk.io/hosts': 'worker-01', ...slug('acme/mono') }),
        // the GitHub user who deploys: an approver, never of their own deployment
        {
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'User',
          metadata: { name: 'security-lead', namespace: 'default', annotations: { 'github.com/user-login': 'octocat' } },
          spec: {},
        },
      ],
      config: {
        app: { baseUrl: `${PORTAL}/` },
        permission: { enabled: true },
        runtimeRisk: {
          ingestion: { frequency: { seconds: 30 } },
          policy: {
            ...DEFAULT_POLICY_CONFIG,
            environments: {
              ...DEFAULT_POLICY_CONFIG.environments,
              canary: { ...DEFAULT_POLICY_CONFIG.environments.production, approvalTtl: { seconds: 1 } },
            },
          },
          integrations: {
            github: {
              appId: Number(github.appId),
              privateKey: github.privateKeyPem,
              webhookSecret: SECRET,
              apiBaseUrl: github.baseUrl,
              environments: { production: 'production', 'prod-eu': 'production', canary: 'canary' },
              callbacks: { backoff: { milliseconds: 1 } },
            },
          },
        },
      },
      features: [mockServices.permissions.mock({ authorize: securityTeamPolicy() }).factory],
  });

  afterAll(async () => {
    await harness?.backend.stop();
    await github.stop();
  });

  const event = (repo: string, runId: string, environment = 'production', overrides: Record<string, unknown> = {}) => ({
    action: 'requested',
    environment,
    event: 'push',
    deployment_callback_url: github.callbackUrl(repo, runId),
    deployment: { id: 1, sha: 'abc123' },
    repository: { full_name: repo },
    installation: { id: 77 },
    sender: { login: 'octocat' },
    ...overrides,
  });

  const send = (payload: unknown, options: { id?: string; eventName?: string; signature?: string } = {}) => {
    const body = JSON.stringify(payload);
    const id = options.id ?? `delivery-${databaseId}-${++delivery}`;
    return {
      id,
      response: request(server)
        .post(EVENTS)
        .set('Content-Type', 'application/json')
        .set('X-GitHub-Event', options.eventName ?? 'deployment_protection_rule')
        .set('X-GitHub-Delivery', id)
        .set('X-Hub-Signature-256', options.signature ?? githubSignature(body, SECRET))
        .send(body),
    };
  };

  it('approves a deployment the gate lets proceed, as the App installation (JWT checked), with the decision link', async () => {
    const runId = String(++run);
    const res = await send(event('acme/clean', runId)).response;
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'approved', decisionIds: [expect.any(String)] });
    const [callback] = await until('the approval', () => github.accepted(runId).length > 0 && github.accepted(runId));
    expect(callback.body).toMatchObject({ environment_name: 'production', state: 'approved' });
    expect(callback.body.comment).toContain(`${PORTAL}/runtime-risk/decisions/${res.body.decisionIds[0]}`);
    expect(callback.body.comment).toContain('component:default/clean: proceed');
    expect(github.jwtFailures).toEqual([]);
    expect(github.tokenRequests).toBeGreaterThanOrEqual(1);

    const decision = await request(server)
      .get(`/api/runtime-risk/v1/decisions/${res.body.decisionIds[0]}`)
      .set('Authorization', mockCredentials.user.header(SECURITY));
    expect(decision.body).toMatchObject({ entityRef: 'component:default/clean', environment: 'production', decision: 'proceed' });
  });

  it('rejects a blocked deployment at once, the reasons in the comment', async () => {
    const runId = String(++run);
    const tokensBefore = github.tokenRequests;
    const res = await send(event('acme/checkout', runId, 'prod-eu')).response;
    expect(res.body).toMatchObject({ status: 'rejected' });
    const [callback] = await until('the rejection', () => github.accepted(runId).length > 0 && github.accepted(runId));
    expect(callback.body).toMatchObject({ environment_name: 'prod-eu', state: 'rejected' });
    expect(callback.body.comment).toContain('component:default/checkout: block');
    expect(callback.body.comment).toContain('policy environment production');
    expect(callback.body.comment).toContain(`${PORTAL}/runtime-risk/decisions/${res.body.decisionIds[0]}`);
    expect(callback.body.comment!.length).toBeLessThanOrEqual(1024);
    // the installation token is reused
    expect(github.tokenRequests).toBe(tokensBefore);
  });

  it('buys a new installation token when GitHub refuses the cached one (revoked, App reinstalled)', async () => {
    const runId = String(++run);
    const tokensBefore = github.tokenRequests;
    github.tokens.clear();
    expect((await send(event('acme/clean', runId)).response).body.status).toBe('approved');
    await until('the approval', () => github.accepted(runId).length > 0);
    expect(github.callbacks.filter(c => c.runId === runId).map(c => c.status)).toEqual([401, 204]);
    expect(github.tokenRequests).toBe(tokensBefore + 1);
  });

  it('gates every entity of a shared repository: the strictest answer wins', async () => {
    const runId = String(++run);
    const res = await send(event('acme/mono', runId)).response;
    expect(res.body.status).toBe('rejected');
    expect(res.body.decisionIds).toHaveLength(2);
    const [callback] = await until('the rejection', () => github.accepted(runId).length > 0 && github.accepted(runId));
    expect(callback.body.state).toBe('rejected');
    expect(callback.body.comment).toContain('component:default/mono-api: proceed');
    expect(callback.body.comment).toContain('component:default/mono-worker: block');
  });

  it('holds an approval_required deployment: status report with the link, then approved by a second user in the portal', async () => {
    const runId = String(++run);
    const res = await send(event('acme/payments', runId)).response;
    expect(res.body).toMatchObject({ status: 'pending', decisionIds: [expect.any(String)] });
    const id = res.body.decisionIds[0];
    const [report] = await until('the status report', () => github.accepted(runId).length > 0 && github.accepted(runId));
    expect(report.body.state).toBeUndefined();
    expect(report.body).toMatchObject({ environment_name: 'production' });
    expect(report.body.comment).toContain(`${PORTAL}/runtime-risk/decisions/${id}`);
    expect(report.body.comment).toContain('approval required');

    // nothing more while pending, whatever the task does
    await harness.runTask('runtime-risk-github-callbacks');
    expect(github.accepted(runId)).toHaveLength(1);

    const decision = await request(server)
      .get(`/api/runtime-risk/v1/decisions/${id}`)
      .set('Authorization', mockCredentials.user.header(SECURITY));
    expect(decision.body).toMatchObject({
      status: 'pending',
      entityRef: 'component:default/payments',
      // sender.login resolved to the User annotated github.com/user-login, asserted by the App
      requester: { provider: 'github', login: 'octocat', entityRef: LEAD, resolved: true, assertedBy: `github-app:${github.appId}` },
    });

    // the person who deployed cannot approve it, even as an approver
    const self = await request(server)
      .post(`/api/runtime-risk/v1/decisions/${id}/approve`)
      .set('Authorization', mockCredentials.user.header(LEAD))
      .send({ comment: 'mine' });
    expect(self.status).toBe(403);
    expect(self.body.error.message).toContain("github login 'octocat'");
    expect(github.accepted(runId)).toHaveLength(1);

    const approved = await request(server)
      .post(`/api/runtime-risk/v1/decisions/${id}/approve`)
      .set('Authorization', mockCredentials.user.header(SECURITY))
      .send({ comment: 'hotfix window' });
    expect(approved.status).toBe(200);
    const calls = await until('the approval', () => github.accepted(runId).length === 2 && github.accepted(runId));
    expect(calls[1].body).toMatchObject({ environment_name: 'production', state: 'approved' });
    expect(calls[1].body.comment).toContain(`approved by ${SECURITY}: hotfix window`);
    expect(calls[1].body.comment).toContain(`${PORTAL}/runtime-risk/decisions/${id}`);
  });

  it('rejects a held deployment whose approval expires', async () => {
    const runId = String(++run);
    const res = await send(event('acme/payments', runId, 'canary')).response;
    expect(res.body.status).toBe('pending');
    await until('the status report', () => github.accepted(runId).length === 1);
    await new Promise(r => setTimeout(r, 1100));
    await harness.runTask('runtime-risk-github-callbacks');
    const calls = await until('the rejection', () => github.accepted(runId).length === 2 && github.accepted(runId));
    expect(calls[1].body).toMatchObject({ environment_name: 'canary', state: 'rejected' });
    expect(calls[1].body.comment).toContain('expired');
  });

  it('refuses a bad or missing signature (401) without deciding anything', async () => {
    const before = await countDecisions(knex);
    const callbacks = github.callbacks.length;
    const bad = await send(event('acme/checkout', String(++run)), { signature: githubSignature('other body', SECRET) }).response;
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toContain('X-Hub-Signature-256');
    const wrongKey = await send(event('acme/checkout', String(++run)), { signature: githubSignature('x', 'not-the-secret') }).response;
    expect(wrongKey.status).toBe(401);
    const missing = await request(server)
      .post(EVENTS)
      .set('Content-Type', 'application/json')
      .set('X-GitHub-Event', 'deployment_protection_rule')
      .set('X-GitHub-Delivery', 'no-signature')
      .send(JSON.stringify(event('acme/checkout', String(++run))));
    expect(missing.status).toBe(401);
    expect(await countDecisions(knex)).toBe(before);
    expect(github.callbacks.length).toBe(callbacks);
  });

  it('answers a replayed delivery without a second decision or callback', async () => {
    const runId = String(++run);
    const payload = event('acme/clean', runId);
    const first = send(payload);
    const res = await first.response;
    expect(res.body.status).toBe('approved');
    await until('the approval', () => github.accepted(runId).length === 1);
    const decisions = await countDecisions(knex);
    const replay = await send(payload, { id: first.id }).response;
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({ status: 'duplicate', decisionIds: res.body.decisionIds });
    await harness.runTask('runtime-risk-github-callbacks');
    expect(await countDecisions(knex)).toBe(decisions);
    expect(github.callbacks.filter(c => c.runId === runId)).toHaveLength(1);
  });

  it('approves an unknown repository with a comment saying it is not gated', async () => {
    const runId = String(++run);
    const before = await countDecisions(knex);
    const res = await send(event('acme/unknown', runId)).response;
    expect(res.body).toEqual({ status: 'approved', decisionIds: [] });
    const [callback] = await until('the approval', () => github.accepted(runId).length > 0 && github.accepted(runId));
    expect(callback.body.state).toBe('approved');
    expect(callback.body.comment).toContain('acme/unknown is not gated');
    expect(await countDecisions(knex)).toBe(before);
  });

  it('approves an unmapped environment as not gated', async () => {
    const runId = String(++run);
    const res = await send(event('acme/checkout', runId, 'preview')).response;
    expect(res.body).toEqual({ status: 'approved', decisionIds: [] });
    const [callback] = await until('the approval', () => github.accepted(runId).length > 0 && github.accepted(runId));
    expect(callback.body.comment).toContain("environment 'preview' is not gated");
  });

  it('refuses a callback URL outside the configured API base URL', async () => {
    const before = await countDecisions(knex);
    const runId = String(++run);
    for (const url of [
      `https://evil.example.com/repos/acme/checkout/actions/runs/${runId}/deployment_protection_rule`,
      `${github.baseUrl.replace('127.0.0.1', 'localhost')}/repos/acme/checkout/actions/runs/${runId}/deployment_protection_rule`,
    ]) {
      const res = await send(event('acme/checkout', runId, 'production', { deployment_callback_url: url })).response;
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('deployment_callback_url');
    }
    expect(await countDecisions(knex)).toBe(before);
  });

  it('retries a callback GitHub answers with 5xx, with backoff, until it is taken', async () => {
    const runId = String(++run);
    github.failNext = 2;
    const res = await send(event('acme/checkout', runId)).response;
    expect(res.body.status).toBe('rejected');
    await until('the first attempt', () => github.callbacks.some(c => c.runId === runId));
    for (let i = 0; i < 10 && github.accepted(runId).length === 0; i++) {
      await new Promise(r => setTimeout(r, 20));
      await harness.runTask('runtime-risk-github-callbacks');
    }
    expect(github.callbacks.filter(c => c.runId === runId).map(c => c.status)).toEqual([502, 502, 204]);
    expect(github.accepted(runId)[0].body.state).toBe('rejected');
  });

  it('another replica (or a restarted backend) sends what is stored: a retry, and the answer to a held deployment', async () => {
    const replica = await startBackend(backendOptions(new MemoryPullSource('edr')));
    try {
      // a callback GitHub refused once on this backend is sent by the other's task
      const retried = String(++run);
      github.failNext = 1;
      expect((await send(event('acme/checkout', retried)).response).body.status).toBe('rejected');
      await until('the failed attempt', () => github.callbacks.some(c => c.runId === retried));
      await new Promise(r => setTimeout(r, 20));
      await replica.runTask('runtime-risk-github-callbacks');
      expect(github.callbacks.filter(c => c.runId === retried).map(c => c.status)).toEqual([502, 204]);

      // held here, approved through the other replica: that one answers GitHub
      const held = String(++run);
      const res = await send(event('acme/payments', held)).response;
      expect(res.body.status).toBe('pending');
      await until('the status report', () => github.accepted(held).length === 1);
      const approved = await request(replica.backend.server)
        .post(`/api/runtime-risk/v1/decisions/${res.body.decisionIds[0]}/approve`)
        .set('Authorization', mockCredentials.user.header(SECURITY))
        .send({});
      expect(approved.status).toBe(200);
      const calls = await until('the approval', () => github.accepted(held).length === 2 && github.accepted(held));
      expect(calls[1].body.state).toBe('approved');
      // and nobody sends it twice
      await Promise.all([harness.runTask('runtime-risk-github-callbacks'), replica.runTask('runtime-risk-github-callbacks')]);
      expect(github.callbacks.filter(c => c.runId === held)).toHaveLength(2);
    } finally {
      await replica.backend.stop();
    }
  });

  it('acknowledges and ignores other events; refuses bodies over the limit (413) and bad JSON (400)', async () => {
    const ping = await send({ zen: 'Keep it logically awesome.', hook_id: 1 }, { eventName: 'ping' }).response;
    expect(ping.status).toBe(202);
    expect(ping.body).toEqual({ status: 'ignored', decisionIds: [] });
    const other = await send(event('acme/checkout', String(++run), 'production', { action: 'something_else' })).response;
    expect(other.body.status).toBe('ignored');

    const big = 'x'.repeat(1024 * 1024 + 1);
    const tooLarge = await request(server)
      .post(EVENTS)
      .set('Content-Type', 'application/json')
      .set('X-GitHub-Event', 'deployment_protection_rule')
      .set('X-GitHub-Delivery', 'big')
      .set('X-Hub-Signature-256', githubSignature(big, SECRET))
      .send(big);
    expect(tooLarge.status).toBe(413);

    const notJson = await send('not json' as unknown as object).response;
    // a JSON string is valid JSON but not an event
    expect(notJson.status).toBe(400);
    const missingField = await send({ ...event('acme/checkout', String(++run)), installation: undefined }).response;
    expect(missingField.status).toBe(400);
    expect(missingField.body.error.message).toContain('installation');
  });

  it('lets one replica claim a queued callback at a time', async () => {
    const store = new DatabaseGithubStore(knex);
    const at = new Date().toISOString();
    expect(await store.claimDelivery(`claim-${databaseId}`, 'deployment_protection_rule', at)).toBe(true);
    expect(await store.claimDelivery(`claim-${databaseId}`, 'deployment_protection_rule', at)).toBe(false);
    // left processing by a replica that died: taken over once it is stale, by one caller
    const old = new Date(Date.now() - 3600_000).toISOString();
    expect(await store.claimDelivery(`stale-${databaseId}`, 'deployment_protection_rule', old)).toBe(true);
    expect(await store.claimDelivery(`stale-${databaseId}`, 'deployment_protection_rule', at, old)).toBe(false);
    const takeovers = await Promise.all([1, 2].map(() => store.claimDelivery(`stale-${databaseId}`, 'deployment_protection_rule', at, new Date(Date.now() - 60_000).toISOString())));
    expect(takeovers.filter(Boolean)).toHaveLength(1);
    const id = `cb-claim-${databaseId}`;
    await store.completeDelivery(`claim-${databaseId}`, [], [
      {
        id,
        deliveryId: `claim-${databaseId}`,
        kind: 'final',
        decisionIds: [],
        repository: 'acme/x',
        environmentName: 'production',
        callbackUrl: github.callbackUrl('acme/x', '1'),
        installationId: '77',
        state: 'approved',
        comment: null,
        status: 'queued',
        attempts: 0,
        nextAttemptAt: '2000-01-01T00:00:00.000Z',
        lastError: null,
        createdAt: at,
        sentAt: null,
      },
    ]);
    const until_ = new Date(Date.now() + 60_000).toISOString();
    const claims = await Promise.all([store.claim(id, 'replica-a', at, until_), store.claim(id, 'replica-b', at, until_)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    await store.finishAttempt(id, claims[0] ? 'replica-a' : 'replica-b', { status: 'skipped', error: 'test' });
    expect((await store.getCallback(id))?.status).toBe('skipped');
  });
});
