import { RuntimeRiskApiClient, RuntimeRiskApiError, RuntimeRiskInvalidResponseError, type RuntimeRiskFetch } from './RuntimeRiskApiClient';

function fakeFetch(answer: { status: number; body: string }) {
  const calls: { url: string; init: Parameters<RuntimeRiskFetch>[1] }[] = [];
  const fetch: RuntimeRiskFetch = async (url, init) => {
    calls.push({ url, init });
    return { status: answer.status, text: async () => answer.body };
  };
  return { fetch, calls };
}

describe('RuntimeRiskApiClient', () => {
  it('fills path parameters (encoded), drops empty query values, sends JSON and the token', async () => {
    const { fetch, calls } = fakeFetch({ status: 200, body: '{"items":[]}' });
    const client = new RuntimeRiskApiClient({ baseUrl: async () => 'http://x/api/runtime-risk/', fetch, token: () => 't1' });
    await client.getEntityRisk({ kind: 'component', namespace: 'default', name: 'a b' }, { environment: '' });
    await client.listExceptions({ entityRef: 'component:default/a', status: 'pending', limit: 5 });
    await client.approveException('e/1', { comment: 'ok' }, { token: 'on-behalf' });
    expect(calls.map(c => `${c.init.method} ${c.url}`)).toEqual([
      'GET http://x/api/runtime-risk/v1/entities/component/default/a%20b/risk',
      'GET http://x/api/runtime-risk/v1/exceptions?entityRef=component%3Adefault%2Fa&status=pending&limit=5',
      'POST http://x/api/runtime-risk/v1/exceptions/e%2F1/approve',
    ]);
    expect(calls[0].init.headers.Authorization).toBe('Bearer t1');
    expect(calls[0].init.body).toBeUndefined();
    expect(calls[2].init.headers).toMatchObject({ Authorization: 'Bearer on-behalf', 'Content-Type': 'application/json' });
    expect(JSON.parse(calls[2].init.body!)).toEqual({ comment: 'ok' });
  });

  it("surfaces the server's error name, message and status", async () => {
    const { fetch } = fakeFetch({
      status: 400,
      body: JSON.stringify({ error: { name: 'InputError', message: "environment: unknown environment 'prod'" } }),
    });
    const error = await new RuntimeRiskApiClient({ baseUrl: 'http://x', fetch })
      .gate({ entityRef: 'component:default/a', environment: 'prod' })
      .catch(e => e);
    expect(error).toBeInstanceOf(RuntimeRiskApiError);
    expect(error).toMatchObject({ statusCode: 400, errorName: 'InputError', serverMessage: "environment: unknown environment 'prod'" });
    expect(error.message).toBe("runtime-risk POST /v1/gate failed with 400 InputError: environment: unknown environment 'prod'");
  });

  it('keeps the text of a non-JSON error page, and says when a success is not JSON', async () => {
    const page = await new RuntimeRiskApiClient({ baseUrl: 'http://x', fetch: fakeFetch({ status: 502, body: '<html>Bad Gateway</html>' }).fetch })
      .listSources()
      .catch(e => e);
    expect(page).toMatchObject({ statusCode: 502, errorName: 'HTTP 502', text: '<html>Bad Gateway</html>' });
    const truncated = await new RuntimeRiskApiClient({ baseUrl: 'http://x', fetch: fakeFetch({ status: 200, body: '{"decision":' }).fetch })
      .getDecision('d-1')
      .catch(e => e);
    expect(truncated).toBeInstanceOf(RuntimeRiskInvalidResponseError);
    expect(truncated.message).toMatch(/GET \/v1\/decisions\/d-1 answered invalid JSON/);
  });

  it('lets the caller choose the error (the frontend throws ResponseError)', async () => {
    class Custom extends Error {}
    const client = new RuntimeRiskApiClient({
      baseUrl: 'http://x',
      fetch: fakeFetch({ status: 404, body: '{}' }).fetch,
      errorFromResponse: async (response, what) => new Custom(`${what} ${response.status}`),
    });
    await expect(client.getException('e1')).rejects.toThrow(new Custom('GET /v1/exceptions/e1 404'));
  });
});
