import { FakeRuntimeRiskServer } from '../testing/fakeRuntimeRiskServer';
import { makeRisk } from '../testing/fixtures';
import { isResponseError, serverMessage } from './RuntimeRiskClient';

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
});
afterEach(async () => {
  await server.stop();
});

describe('RuntimeRiskClient', () => {
  it('reads the risk of every environment and of one, with the ref split into the path', async () => {
    server.risks.set('component:team-a/payments-api', [
      makeRisk({ environment: 'production', decision: 'block' }),
      makeRisk({ environment: 'staging', decision: 'proceed' }),
    ]);
    const client = server.client();
    const all = await client.getEntityRisk('component:team-a/payments-api');
    expect(all.map(r => `${r.environment}:${r.decision}`)).toEqual(['production:block', 'staging:proceed']);
    const one = await client.getEntityRiskIn('Component:team-a/payments-api', 'staging');
    expect(one.decision).toBe('proceed');
    expect(server.requests.map(r => `${r.path}?${r.query}`)).toEqual([
      '/v1/entities/component/team-a/payments-api/risk?',
      '/v1/entities/component/team-a/payments-api/risk?environment=staging',
    ]);
  });

  it('passes list queries and drops empty parameters', async () => {
    const client = server.client();
    await client.getSignals({ entityRef: 'component:default/a', limit: 5, cursor: 'c1' });
    await client.getDecisions({ entityRef: 'component:default/a', environment: '' });
    expect(server.requests.map(r => `${r.path}?${r.query}`)).toEqual([
      '/v1/signals?entityRef=component%3Adefault%2Fa&limit=5&cursor=c1',
      '/v1/decisions?entityRef=component%3Adefault%2Fa',
    ]);
  });

  it("throws a ResponseError carrying the server's message", async () => {
    const client = server.client();
    const error = await client.getEntityRisk('component:default/nope').catch(e => e);
    expect(isResponseError(error)).toBe(true);
    expect(error.statusCode).toBe(404);
    expect(serverMessage(error)).toBe('entity component:default/nope not found (HTTP 404)');
  });

  it('posts exception requests as JSON', async () => {
    server.handlers.push(req =>
      req.method === 'POST' ? { status: 201, body: { id: 'exc-1', status: 'pending' } } : undefined,
    );
    const answer = await server.client().requestException({
      entityRef: 'component:default/a',
      environment: 'production',
      reason: 'r',
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
    expect(answer).toEqual({ id: 'exc-1', status: 'pending' });
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/exceptions',
      body: { entityRef: 'component:default/a', environment: 'production', reason: 'r', expiresAt: '2030-01-01T00:00:00.000Z' },
    });
  });
});
