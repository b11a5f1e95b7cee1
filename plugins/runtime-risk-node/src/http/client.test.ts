import { SourceHttpClient, buildUrl, staticHeaderAuth } from './client';
import { extractVendorMessage } from './errors';
import { ClientCredentialsTokenProvider } from './oauth';
import { epochSecondsHeader, parseEpochSecondsValue, parseRetryAfterValue } from './retryAfter';
import { FakeServer, fakeClock, fakeTokenIssuer, sourceError, startFakeServer } from '../testUtils';

describe('SourceHttpClient', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function client(extra: Partial<ConstructorParameters<typeof SourceHttpClient>[0]> = {}) {
    const clock = fakeClock();
    const c = new SourceHttpClient({ sourceId: 'acme', baseUrl: `${server!.url}/api/v1`, clock, random: () => 0.5, ...extra });
    return { c, clock };
  }

  it('keeps the base path, encodes the query and parses JSON', async () => {
    server = await startFakeServer({ 'GET /api/v1/items': () => ({ json: { items: [1, 2] } }) });
    const { c } = client();
    const body = await c.get('/items', { filter: "a:>'b c'", ids: ['x', 'y'], skip: undefined });
    expect(body).toEqual({ items: [1, 2] });
    const req = server.calls('GET /api/v1/items')[0];
    expect(req.query.get('filter')).toBe("a:>'b c'");
    expect(req.query.getAll('ids')).toEqual(['x', 'y']);
    expect(req.query.has('skip')).toBe(false);
  });

  it('retries 5xx with jittered exponential backoff, then succeeds', async () => {
    let n = 0;
    server = await startFakeServer({ 'GET /api/v1/x': () => (++n < 3 ? { status: 502, body: 'bad gateway' } : { json: { ok: true } }) });
    const { c, clock } = client({ backoff: { initialMs: 100, maxMs: 1000 } });
    await expect(c.get('/x')).resolves.toEqual({ ok: true });
    expect(n).toBe(3);
    // random 0.5 -> 75 % of 100 * 2^attempt
    expect(clock.sleeps).toEqual([75, 150]);
  });

  it('surfaces a permanent 5xx naming the source, status and vendor message', async () => {
    server = await startFakeServer({ 'GET /api/v1/x': () => ({ status: 503, json: { errors: [{ code: 503, message: 'maintenance' }] } }) });
    const { c } = client({ maxRetries: 2 });
    const err = await sourceError(c.get('/x'));
    expect(err.message).toMatch(/^Source acme: HTTP 503: GET \/api\/v1\/x failed after 3 attempts: 503: maintenance$/);
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry other 4xx', async () => {
    server = await startFakeServer({ 'GET /api/v1/x': () => ({ status: 400, json: { error: { code: 'BadRequest', message: 'bad $filter' } } }) });
    const { c } = client();
    await expect(c.get('/x')).rejects.toThrow('Source acme: HTTP 400: GET /api/v1/x failed: BadRequest: bad $filter');
    expect(server.requests).toHaveLength(1);
  });

  it('honours Retry-After seconds on 429, capped by maxRetryWaitMs', async () => {
    let n = 0;
    server = await startFakeServer({
      'GET /api/v1/x': () => (++n === 1 ? { status: 429, headers: { 'retry-after': '7' } } : n === 2 ? { status: 429, headers: { 'retry-after': '3600' } } : { json: [] }),
    });
    const { c, clock } = client({ maxRetryWaitMs: 20_000 });
    await expect(c.get('/x')).resolves.toEqual([]);
    expect(clock.sleeps).toEqual([7000, 20_000]);
  });

  it('honours a vendor epoch-seconds header on 429', async () => {
    let n = 0;
    const clock = fakeClock();
    const resetAt = Math.floor(clock.now() / 1000) + 12;
    server = await startFakeServer({
      'GET /api/v1/x': () => (++n === 1 ? { status: 429, headers: { 'x-ratelimit-retryafter': String(resetAt) } } : { json: 1 }),
    });
    const { c } = client({ clock, retryAfter: epochSecondsHeader('x-ratelimit-retryafter') });
    await expect(c.get('/x')).resolves.toBe(1);
    expect(clock.sleeps).toEqual([12_000]);
  });

  it('retries network errors and then names the source', async () => {
    const clock = fakeClock();
    const c = new SourceHttpClient({ sourceId: 'acme', baseUrl: 'http://127.0.0.1:1', clock, maxRetries: 2 });
    const err = await sourceError(c.get('/x'));
    expect(err.message).toMatch(/^Source acme: network error on GET \/x/);
    expect(err.status).toBeUndefined();
    expect(clock.sleeps).toHaveLength(2);
  });

  it('times out a slow request', async () => {
    server = await startFakeServer({ 'GET /api/v1/slow': () => new Promise(r => setTimeout(() => r({ json: 1 }), 2000)) });
    const { c } = client({ timeoutMs: 50, maxRetries: 0 });
    await expect(c.get('/slow')).rejects.toThrow('Source acme: request GET /api/v1/slow timed out');
  });

  it('rejects a malformed JSON body', async () => {
    server = await startFakeServer({ 'GET /api/v1/x': () => ({ body: '{"items": [1, 2' }) });
    const { c } = client();
    await expect(c.get('/x')).rejects.toThrow('Source acme: HTTP 200: malformed JSON in response to GET /api/v1/x');
  });

  it('reports an unexpected shape from the parse function', async () => {
    server = await startFakeServer({ 'GET /api/v1/x': () => ({ json: { nope: 1 } }) });
    const { c } = client();
    const parse = (b: unknown) => {
      if (!Array.isArray((b as { items?: unknown }).items)) throw new Error('items missing');
      return b;
    };
    await expect(c.get('/x', undefined, parse)).rejects.toThrow('unexpected response shape from GET /api/v1/x: items missing');
  });

  it('does not retry 401 with static credentials', async () => {
    server = await startFakeServer({ 'GET /api/v1/x': () => ({ status: 401, json: { errors: [{ code: 4010010, title: 'Authentication Failed' }] } }) });
    const { c } = client({ auth: staticHeaderAuth({ authorization: 'ApiToken s3cr3t-token' }) });
    await expect(c.get('/x')).rejects.toThrow('HTTP 401');
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0].headers.authorization).toBe('ApiToken s3cr3t-token');
  });
});

describe('ClientCredentialsTokenProvider', () => {
  let server: FakeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function setup(expiresIn = 1800) {
    const issuer = fakeTokenIssuer({ clientId: 'cid', clientSecret: 'very-secret-value', expiresIn });
    let revokeNext = false;
    server = await startFakeServer({
      'POST /oauth2/token': issuer.route,
      'GET /data': req => {
        if (revokeNext) {
          revokeNext = false;
          issuer.revoked = true;
        }
        return issuer.authorized(req) ? { json: { token: req.headers.authorization } } : { status: 401, json: { error: { code: 'Unauthorized', message: 'expired' } } };
      },
    });
    const clock = fakeClock();
    const tokens = new ClientCredentialsTokenProvider({
      sourceId: 'acme',
      tokenUrl: `${server.url}/oauth2/token`,
      clientId: 'cid',
      clientSecret: 'very-secret-value',
      scope: 'https://api.example/.default',
      clock,
    });
    const c = new SourceHttpClient({ sourceId: 'acme', baseUrl: server.url, auth: tokens, clock });
    return { issuer, clock, c, revoke: () => (revokeNext = true) };
  }

  it('caches the token, sends the client-credentials form and refreshes before expiry', async () => {
    const { issuer, clock, c } = await setup(600);
    await c.get('/data');
    await c.get('/data');
    expect(issuer.issued).toBe(1);
    const form = issuer.forms[0];
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(form.get('scope')).toBe('https://api.example/.default');
    clock.advance(530_000); // 70 s before expiry: still cached
    await expect(c.get('/data')).resolves.toEqual({ token: 'Bearer tok-1' });
    clock.advance(15_000); // 55 s before expiry: refreshed
    await expect(c.get('/data')).resolves.toEqual({ token: 'Bearer tok-2' });
    expect(issuer.issued).toBe(2);
  });

  it('refreshes once on 401 and retries the request', async () => {
    const { issuer, c, revoke } = await setup();
    await c.get('/data');
    revoke();
    await expect(c.get('/data')).resolves.toEqual({ token: 'Bearer tok-2' });
    expect(issuer.issued).toBe(2);
  });

  it('shares one token request between concurrent callers', async () => {
    const { issuer, c } = await setup();
    await Promise.all([c.get('/data'), c.get('/data'), c.get('/data')]);
    expect(issuer.issued).toBe(1);
  });

  it('fails with the OAuth error and never the secret', async () => {
    server = await startFakeServer({
      'POST /oauth2/token': () => ({ status: 401, json: { error: 'invalid_client', error_description: 'bad secret very-secret-value' } }),
    });
    const tokens = new ClientCredentialsTokenProvider({
      sourceId: 'acme',
      tokenUrl: `${server.url}/oauth2/token`,
      clientId: 'cid',
      clientSecret: 'very-secret-value',
      clock: fakeClock(),
    });
    const c = new SourceHttpClient({ sourceId: 'acme', baseUrl: server.url, auth: tokens, clock: fakeClock() });
    const err = await sourceError(c.get('/data'));
    expect(err.message).toContain('Source acme: HTTP 401: POST /oauth2/token failed: invalid_client: bad secret ***');
    expect(err.message).not.toContain('very-secret-value');
    expect(server.calls('GET /data')).toHaveLength(0);
  });
});

describe('retry headers and helpers', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfterValue('30', now)).toBe(30_000);
    expect(parseRetryAfterValue('Thu, 01 Jan 2026 00:00:45 GMT', now)).toBe(45_000);
    expect(parseRetryAfterValue('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterValue('soon', now)).toBeUndefined();
    expect(parseRetryAfterValue(null, now)).toBeUndefined();
  });
  it('parses epoch seconds', () => {
    expect(parseEpochSecondsValue(String(now / 1000 + 5), now)).toBe(5000);
    expect(parseEpochSecondsValue('x', now)).toBeUndefined();
  });
  it('extracts vendor messages from the usual error shapes', () => {
    expect(extractVendorMessage({ error: { code: 'TooManyRequests', message: 'slow down' } })).toBe('TooManyRequests: slow down');
    expect(extractVendorMessage({ errors: [{ code: 4000030, title: 'Validation Error', detail: 'bad cursor' }] })).toBe('4000030: bad cursor');
    expect(extractVendorMessage({ error: 'invalid_client' })).toBe('invalid_client');
    expect(extractVendorMessage({ message: 'oops' })).toBe('oops');
    expect(extractVendorMessage(42)).toBeUndefined();
  });
  it('builds URLs against a base with a path and accepts absolute URLs', () => {
    expect(buildUrl('https://x.example/web/api/v2.1/', '/threats').toString()).toBe('https://x.example/web/api/v2.1/threats');
    expect(buildUrl('https://x.example/a', 'https://login.example/t/oauth2/v2.0/token').toString()).toBe('https://login.example/t/oauth2/v2.0/token');
  });
});
