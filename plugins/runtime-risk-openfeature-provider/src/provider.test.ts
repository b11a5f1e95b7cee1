/**
 * The OpenFeature provider against the real runtime-risk backend plugin (router,
 * engine, store, the file signal source with the demo signals and the demo catalog)
 * started with startTestBackend on a loopback port, authenticated with an
 * external-access static token through the real auth services.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDemoBackend, type DemoBackend } from '@internal/runtime-risk-test-harness';
import { ReasonSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { ErrorCode, OpenFeature, StandardResolutionReasons, type Client } from '@openfeature/server-sdk';
import { DECISION_FLAG, DEPLOY_SAFE_FLAG, RuntimeRiskProvider, SCORE_FLAG, type FetchLike, type RuntimeRiskProviderOptions } from '.';

const TOKEN = 'openfeature-real-backend-token-0815';

let domains = 0;
/** An OpenFeature client bound to a fresh provider (one domain per provider, so tests do not share one). */
async function clientFor(options: RuntimeRiskProviderOptions): Promise<{ client: Client; provider: RuntimeRiskProvider }> {
  const provider = new RuntimeRiskProvider(options);
  const domain = `runtime-risk-test-${++domains}`;
  await OpenFeature.setProviderAndWait(domain, provider);
  return { client: OpenFeature.getClient(domain), provider };
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>(resolve => server.close(() => resolve()));
  return port;
}

describe('RuntimeRiskProvider against the real backend plugin', () => {
  let demo: DemoBackend;
  let baseUrl: string;

  beforeAll(async () => {
    // the engine's default production + staging policy of DESIGN.md
    demo = await startDemoBackend({ staticToken: { token: TOKEN, subject: 'feature-flags' } });
    baseUrl = `${demo.url}/api/runtime-risk/`;
  });

  afterAll(async () => {
    await OpenFeature.close();
    await demo?.stop();
  });

  it('answers false for a blocked entity, with the decision, level, score and reasons in flag metadata', async () => {
    const { client } = await clientFor({ baseUrl, token: TOKEN });
    const details = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, true, {
      entityRef: 'component:default/payments-api',
      environment: 'production',
    });
    expect(details.errorCode).toBeUndefined();
    expect(details).toMatchObject({
      flagKey: DEPLOY_SAFE_FLAG,
      value: false,
      variant: 'block',
      reason: StandardResolutionReasons.TARGETING_MATCH,
    });
    expect(details.flagMetadata).toMatchObject({
      entityRef: 'component:default/payments-api',
      environment: 'production',
      decision: 'block',
      phase: 'Failed',
      riskLevel: 'high',
      policyId: 'default',
    });
    expect(details.flagMetadata.score).toBeGreaterThanOrEqual(70);
    expect(String(details.flagMetadata.reasonCodes).split(',')).toContain('signal_active');
    const reasons = ReasonSchema.array().parse(JSON.parse(String(details.flagMetadata.reasons)));
    const active = reasons.find(r => r.code === 'signal_active');
    expect(active?.signalIds).toContain('file:det-1001');
  });

  it('answers true for a low-risk entity and per environment', async () => {
    const { client } = await clientFor({ baseUrl, token: TOKEN });
    const ledger = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, {
      entityRef: 'component:default/ledger-service',
      environment: 'production',
    });
    expect(ledger).toMatchObject({ value: true, variant: 'proceed', reason: StandardResolutionReasons.TARGETING_MATCH });
    expect(ledger.flagMetadata).toMatchObject({ decision: 'proceed', riskLevel: 'low', phase: 'Successful' });
    // payments-api is blocked in production but its staging host is clean; targetingKey stands in for entityRef
    const staging = await client.getBooleanValue(DEPLOY_SAFE_FLAG, false, {
      targetingKey: 'component:default/payments-api',
      environment: 'staging',
    });
    expect(staging).toBe(true);
  });

  it('answers false for approval_required: only proceed is safe', async () => {
    const { client } = await clientFor({ baseUrl, token: TOKEN });
    const details = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, true, {
      entityRef: 'payments-worker',
      environment: 'production',
    });
    expect(details).toMatchObject({ value: false, variant: 'approval_required' });
    expect(details.flagMetadata).toMatchObject({ riskLevel: 'moderate', phase: 'Inconclusive' });
    expect(await client.getStringValue(DECISION_FLAG, 'unknown', { entityRef: 'payments-worker', environment: 'production' })).toBe(
      'approval_required',
    );
  });

  it('exposes the score as a number flag, and the default when it is unknown', async () => {
    const { client } = await clientFor({ baseUrl, token: TOKEN });
    const safe = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, true, { entityRef: 'payments-worker', environment: 'production' });
    const score = await client.getNumberDetails(SCORE_FLAG, -1, { entityRef: 'payments-worker', environment: 'production' });
    expect(score.errorCode).toBeUndefined();
    expect(score.value).toBe(safe.flagMetadata.score);
    expect(score.value).toBeGreaterThanOrEqual(30);
    expect(score.value).toBeLessThan(70);
    const uncorrelated = await client.getNumberDetails(SCORE_FLAG, -1, { entityRef: 'recommendations', environment: 'production' });
    expect(uncorrelated).toMatchObject({ value: -1, reason: StandardResolutionReasons.DEFAULT });
    expect(uncorrelated.flagMetadata).toMatchObject({ riskLevel: 'unknown' });
    expect(String(uncorrelated.flagMetadata.reasonCodes)).toContain('uncorrelated');
  });

  it('returns the default with ERROR / GENERAL when the gate is unreachable', async () => {
    const port = await closedPort();
    const { client } = await clientFor({ baseUrl: `http://127.0.0.1:${port}/api/runtime-risk`, token: TOKEN, timeoutMs: 2000 });
    for (const defaultValue of [true, false]) {
      const details = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, defaultValue, {
        entityRef: 'component:default/payments-api',
        environment: 'production',
      });
      expect(details).toMatchObject({ value: defaultValue, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.GENERAL });
      expect(details.errorMessage).toContain('unreachable');
      expect(details.errorMessage).not.toContain(TOKEN);
    }
  });

  it('returns the default with GENERAL for a wrong token and INVALID_CONTEXT for an unknown entity or environment', async () => {
    const wrong = await clientFor({ baseUrl, token: 'not-the-token' });
    const denied = await wrong.client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, {
      entityRef: 'component:default/ledger-service',
      environment: 'production',
    });
    expect(denied).toMatchObject({ value: false, errorCode: ErrorCode.GENERAL, flagMetadata: { httpStatus: 401 } });
    expect(denied.errorMessage).not.toContain('not-the-token');

    const { client } = await clientFor({ baseUrl, token: TOKEN });
    const ghost = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, { entityRef: 'component:default/ghost', environment: 'production' });
    expect(ghost).toMatchObject({ value: false, errorCode: ErrorCode.INVALID_CONTEXT, flagMetadata: { httpStatus: 404 } });
    expect(ghost.errorMessage).toContain('ghost');
    const moon = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, { entityRef: 'ledger-service', environment: 'moon' });
    expect(moon).toMatchObject({ value: false, errorCode: ErrorCode.INVALID_CONTEXT, flagMetadata: { httpStatus: 400 } });
    expect(moon.errorMessage).toContain('environment');
    const missing = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, { environment: 'production' });
    expect(missing).toMatchObject({ value: false, errorCode: ErrorCode.INVALID_CONTEXT });
    expect(missing.errorMessage).toContain('entityRef');
  });

  it('answers FLAG_NOT_FOUND for other flags and TYPE_MISMATCH for the wrong type', async () => {
    const { client } = await clientFor({ baseUrl, token: TOKEN });
    const context = { entityRef: 'ledger-service', environment: 'production' };
    const other = await client.getBooleanDetails('checkout.new-ui', true, context);
    expect(other).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND });
    const mismatch = await client.getNumberDetails(DEPLOY_SAFE_FLAG, 7, context);
    expect(mismatch).toMatchObject({ value: 7, errorCode: ErrorCode.TYPE_MISMATCH });
  });

  it('reuses an answer within the cache TTL and asks again after it', async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    const counting: FetchLike = async (url, init) => {
      calls.push(url);
      expect(init.headers.Authorization).toBe(`Bearer ${TOKEN}`);
      return fetch(url, init);
    };
    const { client } = await clientFor({ baseUrl, token: async () => TOKEN, fetch: counting, cacheTtlMs: 10_000, now: () => now });
    const context = { entityRef: 'component:default/ledger-service', environment: 'production' };
    const first = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, context);
    const second = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, context);
    expect(first).toMatchObject({ value: true, reason: StandardResolutionReasons.TARGETING_MATCH });
    expect(second).toMatchObject({ value: true, reason: StandardResolutionReasons.CACHED });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain('/api/runtime-risk/v1/analysis?entityRef=component%3Adefault%2Fledger-service&environment=production');
    // another environment is another answer
    await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, { ...context, environment: 'staging' });
    expect(calls).toHaveLength(2);
    now += 10_001;
    const third = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, context);
    expect(third.reason).toBe(StandardResolutionReasons.TARGETING_MATCH);
    expect(calls).toHaveLength(3);
  });

  it('asks once for concurrent evaluations of the same target', async () => {
    const calls: string[] = [];
    const counting: FetchLike = async (url, init) => {
      calls.push(url);
      return fetch(url, init);
    };
    const { client } = await clientFor({ baseUrl, token: TOKEN, fetch: counting, cacheTtlMs: 0 });
    const context = { entityRef: 'component:default/payments-api', environment: 'production' };
    const answers = await Promise.all([
      client.getBooleanValue(DEPLOY_SAFE_FLAG, true, context),
      client.getBooleanValue(DEPLOY_SAFE_FLAG, true, context),
      client.getNumberValue(SCORE_FLAG, -1, context),
    ]);
    expect(answers.slice(0, 2)).toEqual([false, false]);
    expect(answers[2]).toBeGreaterThanOrEqual(70);
    expect(calls).toHaveLength(1);
    // with the cache disabled, a later evaluation asks again
    await client.getBooleanValue(DEPLOY_SAFE_FLAG, true, context);
    expect(calls).toHaveLength(2);
  });
});

describe('RuntimeRiskProvider against a misbehaving gate', () => {
  let server: http.Server;
  let baseUrl: string;
  let respond: (res: http.ServerResponse) => void = res => res.end();

  beforeAll(async () => {
    server = http.createServer((_req, res) => respond(res));
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>(resolve => server.close(() => resolve()));
  });

  it('returns the default with GENERAL for a 5xx and PARSE_ERROR for a body that is not an analysis result', async () => {
    const { client } = await clientFor({ baseUrl, token: TOKEN, cacheTtlMs: 0 });
    const context = { entityRef: 'ledger-service', environment: 'production' };

    respond = res => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    };
    const gateway = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, context);
    expect(gateway).toMatchObject({ value: false, errorCode: ErrorCode.GENERAL, flagMetadata: { httpStatus: 502 } });
    expect(gateway.errorMessage).toContain('502');

    respond = res => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ phase: 'Successful', decision: 'maybe' }));
    };
    const odd = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, false, context);
    expect(odd).toMatchObject({ value: false, errorCode: ErrorCode.PARSE_ERROR });
    expect(odd.errorMessage).toContain('decision');

    respond = res => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"phase": ');
    };
    const truncated = await client.getBooleanDetails(DEPLOY_SAFE_FLAG, true, context);
    expect(truncated).toMatchObject({ value: true, errorCode: ErrorCode.PARSE_ERROR });
  });
});
