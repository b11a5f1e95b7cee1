import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { RuntimeRiskGateClient, RuntimeRiskGateError } from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** The gate client of runtime-risk-node against a loopback server answering what each test sets. */
describe('RuntimeRiskGateClient', () => {
  let server: http.Server;
  let answer: { status: number; type: string; body: string };
  const seen: { method?: string; url?: string; authorization?: string; body: string }[] = [];
  let client: RuntimeRiskGateClient;
  const credentials = mockCredentials.user('user:default/alice');

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', c => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        res.writeHead(answer.status, { 'content-type': answer.type });
        res.end(answer.body);
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}/api`;
    client = new RuntimeRiskGateClient({
      discovery: { getBaseUrl: async id => `${base}/${id}`, getExternalBaseUrl: async id => `${base}/${id}` },
      auth: mockServices.auth({ pluginId: 'scaffolder' }),
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  const decision = {
    decisionId: 'd-1',
    entityRef: 'component:default/payments',
    environment: 'production',
    decision: 'block',
    riskLevel: 'high',
    score: 90,
    reasons: [{ code: 'signal_active', message: 'critical', signalIds: ['s1'] }],
    hosts: [],
    signals: { count: 1, freshAt: null, stale: false },
    policy: { id: 'default', hash: 'h' },
    dryRun: false,
    evaluatedAt: '2026-01-01T00:00:00.000Z',
  };

  it('posts the request with a plugin token on behalf of the caller and parses the answer', async () => {
    answer = { status: 200, type: 'application/json', body: JSON.stringify(decision) };
    const d = await client.evaluate({ entityRef: 'component:default/payments', environment: 'production' }, { credentials });
    expect(d).toMatchObject({ decisionId: 'd-1', decision: 'block' });
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('/api/runtime-risk/v1/gate');
    expect(JSON.parse(seen[0].body)).toEqual({ entityRef: 'component:default/payments', environment: 'production' });
    const token = seen[0].authorization?.replace(/^Bearer /, '') ?? '';
    // a mock plugin token for the runtime-risk plugin, on behalf of alice
    expect(token).toContain('runtime-risk');
    expect(token).toContain('user:default/alice');
  });

  it('escapes the decision id in the path', async () => {
    answer = { status: 200, type: 'application/json', body: JSON.stringify(decision) };
    await client.getDecision('a/b c', { credentials });
    expect(seen[0].url).toBe('/api/runtime-risk/v1/decisions/a%2Fb%20c');
  });

  it('turns a Backstage error body into a RuntimeRiskGateError', async () => {
    answer = {
      status: 400,
      type: 'application/json',
      body: JSON.stringify({ error: { name: 'InputError', message: "environment: unknown environment 'prod'" } }),
    };
    const error = await client
      .evaluate({ entityRef: 'component:default/payments', environment: 'prod' }, { credentials })
      .catch(e => e);
    expect(error).toBeInstanceOf(RuntimeRiskGateError);
    expect(error).toMatchObject({ statusCode: 400, errorName: 'InputError' });
    expect(error.message).toContain("environment: unknown environment 'prod'");
  });

  it('keeps the text of a non-JSON error page', async () => {
    answer = { status: 502, type: 'text/html', body: '<html>Bad Gateway</html>' };
    const error = await client.getDecision('d-1', { credentials }).catch(e => e);
    expect(error).toMatchObject({ statusCode: 502, errorName: 'HTTP 502' });
    expect(error.message).toContain('<html>Bad Gateway</html>');
  });

  it('rejects an answer that is not a GateDecision, naming the field', async () => {
    answer = { status: 200, type: 'application/json', body: JSON.stringify({ ...decision, decision: 'maybe' }) };
    await expect(client.getDecision('d-1', { credentials })).rejects.toThrow(/unexpected body: decision:/);
  });
});
