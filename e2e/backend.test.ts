/**
 * Starts the real packages/backend with the demo configuration (SQLite in
 * memory, demo catalog, file signal source) and checks that the README's curl
 * examples give the documented answers.
 */
import { DEMO_TOKEN, startDemoBackend, waitFor, type RunningBackend } from './backendProcess';

let backend: RunningBackend;

const gate = async (body: unknown, token: string | null = DEMO_TOKEN) => {
  const res = await fetch(`${backend.baseUrl}/api/runtime-risk/v1/gate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
};

beforeAll(async () => {
  backend = await startDemoBackend();
  // wait until the file source has synced and the catalog knows the demo entities
  await waitFor(
    async () => {
      const r = await gate({ entityRef: 'component:default/payments-api', environment: 'production' });
      return r.status === 200 && r.body.riskLevel === 'high' ? r : undefined;
    },
    150_000,
    'payments-api to be scored from the demo signals',
  ).catch(e => {
    throw new Error(`${e.message}\n--- backend log ---\n${backend.logs().slice(-6000)}`);
  });
  // label selectors are resolved when the index is rebuilt after the first ingestion
  await waitFor(
    async () => {
      const r = await gate({ entityRef: 'component:default/cart-service', environment: 'production' });
      return r.status === 200 && r.body.hosts.length > 0 ? r : undefined;
    },
    90_000,
    'cart-service to be correlated through its label selector',
  );
});

afterAll(async () => {
  await backend?.stop();
});

describe('demo backend', () => {
  it('blocks payments-api in production with the critical detection as reason', async () => {
    const r = await gate({ entityRef: 'component:default/payments-api', environment: 'production' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'block', riskLevel: 'high', dryRun: false, policy: { id: 'default' } });
    expect(r.body.score).toBeGreaterThanOrEqual(70);
    const active = r.body.reasons.find((x: any) => x.code === 'signal_active');
    expect(active.signalIds).toContain('file:det-1001');
    expect(r.body.hosts.map((h: any) => h.id)).toEqual(expect.arrayContaining(['pay-prod-01']));
  });

  it('answers the documented levels for the other demo services', async () => {
    const expectations: Array<[string, string, string, string]> = [
      ['payments-worker', 'production', 'approval_required', 'moderate'],
      ['payments-worker', 'staging', 'proceed', 'low'],
      ['ledger-service', 'production', 'proceed', 'low'],
      ['storefront-web', 'production', 'proceed', 'low'],
      ['recommendations', 'production', 'approval_required', 'unknown'],
      ['recommendations', 'staging', 'proceed', 'unknown'],
    ];
    for (const [name, environment, decision, riskLevel] of expectations) {
      const r = await gate({ entityRef: `component:default/${name}`, environment });
      expect({ name, environment, status: r.status, decision: r.body?.decision, riskLevel: r.body?.riskLevel }).toEqual({
        name,
        environment,
        status: 200,
        decision,
        riskLevel,
      });
    }
  });

  it('fans a node detection out to the workloads on that node only', async () => {
    const cart = await gate({ entityRef: 'component:default/cart-service', environment: 'production' });
    expect(cart.status).toBe(200);
    expect(cart.body).toMatchObject({ decision: 'block', riskLevel: 'high' });
    expect(cart.body.reasons.find((x: any) => x.code === 'signal_active').signalIds).toContain('file:det-1005');
    expect(cart.body.hosts.map((h: any) => h.matchedBy).join(' ')).toMatch(/kubernetes:node/);
    const catalog = await gate({ entityRef: 'component:default/catalog-service', environment: 'production' });
    expect(catalog.body).toMatchObject({ decision: 'proceed', riskLevel: 'low' });
    expect(catalog.body.hosts.map((h: any) => h.matchedBy).join(' ')).toMatch(/kubernetes:label-selector/);
  });

  it('correlates a quiet Kubernetes workload through the vendor host inventory (the file source host records)', async () => {
    // the inventory sync and the index rebuild after it run on their own schedules: wait for them
    const r = await waitFor(
      async () => {
        const res = await gate({ entityRef: 'component:default/search-service', environment: 'production' });
        return res.status === 200 && res.body.hosts.length > 0 ? res : undefined;
      },
      90_000,
      'search-service to be correlated through the host inventory',
    );
    expect(r.body).toMatchObject({ decision: 'proceed', riskLevel: 'low' });
    expect(r.body.reasons.map((x: any) => x.code)).toEqual(['no_active_signals']);
    expect(r.body.hosts.map((h: any) => `${h.id} ${h.matchedBy}`).sort()).toEqual([
      'node-c kubernetes:node',
      'pod:prod-eu/shop/search-6f7d9-q8w1n kubernetes:label-selector',
    ]);
  });

  it('reaches a VM through the host Resource the service depends on', async () => {
    const r = await gate({ entityRef: 'component:default/billing-batch', environment: 'production' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ decision: 'proceed', riskLevel: 'low' });
    expect(r.body.hosts.map((h: any) => h.matchedBy).join(' ')).toMatch(/relation:dependsOn:resource:default\/billing-vm-01/);
    expect(r.body.reasons.find((x: any) => x.code === 'signal_active').signalIds).toContain('file:det-1006');
  });

  it('lists the uncorrelated demo entity in the coverage report', async () => {
    const res = await fetch(`${backend.baseUrl}/api/runtime-risk/v1/coverage?environment=production`, {
      headers: { authorization: `Bearer ${DEMO_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('component:default/recommendations');
  });

  it('marks checkout-api stale because its source data is two days old', async () => {
    const r = await gate({ entityRef: 'component:default/checkout-api', environment: 'production' });
    expect(r.status).toBe(200);
    expect(r.body.decision).toBe('approval_required');
    expect(r.body.signals.stale).toBe(true);
    expect(r.body.reasons.map((x: any) => x.code)).toContain('signals_stale');
  });

  it('dry-run answers proceed with the real outcome in wouldHaveBeen', async () => {
    const r = await gate({ entityRef: 'component:default/payments-api', environment: 'production', dryRun: true });
    expect(r.body).toMatchObject({ decision: 'proceed', wouldHaveBeen: 'block', dryRun: true });
    const stored = await fetch(`${backend.baseUrl}/api/runtime-risk/v1/decisions/${r.body.decisionId}`, {
      headers: { authorization: `Bearer ${DEMO_TOKEN}` },
    });
    expect(stored.status).toBe(200);
    expect((await stored.json()).decisionId).toBe(r.body.decisionId);
  });

  it('rejects bad input, unknown entities and missing credentials', async () => {
    const badEnv = await gate({ entityRef: 'component:default/payments-api', environment: 'prod' });
    expect(badEnv.status).toBe(400);
    expect(JSON.stringify(badEnv.body)).toMatch(/environment/);
    const unknown = await gate({ entityRef: 'component:default/does-not-exist', environment: 'production' });
    expect(unknown.status).toBe(404);
    const noAuth = await gate({ entityRef: 'component:default/payments-api', environment: 'production' }, null);
    expect(noAuth.status).toBe(401);
  });

  it('reports source health for the file sources', async () => {
    const res = await fetch(`${backend.baseUrl}/api/runtime-risk/v1/sources`, {
      headers: { authorization: `Bearer ${DEMO_TOKEN}` },
    });
    const body = await res.json();
    expect(body.items.map((s: any) => s.id).sort()).toEqual(['file', 'lab-export']);
    expect(body.items.find((s: any) => s.id === 'file').status).toBe('ok');
  });
});
