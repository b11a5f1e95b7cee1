import { TestDatabases, type TestBackend } from '@backstage/backend-test-utils';
import type { HostInventoryFetchOptions, HostInventoryFetchResult, HostInventoryRecord } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { startBackend, type Harness } from '../testUtils/backend';
import { postGate, reasonCodes } from '../testUtils/gateRequests';
import { MemoryPullSource, component, signalInput } from '../testUtils/fixtures';

/*
 * Issue 15 part 3: the vendor host inventory counts for coverage (a source
 * covers a host it listed within the coverage window) and for correlation (a
 * label-selected Kubernetes workload with no detections reaches its pods, and
 * a pod's node, through the hosts a source listed).
 */

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const DAY = 24 * 3600_000;

/** A pull source with no alerts that lists the given hosts in one page. */
class ListingSource extends MemoryPullSource {
  hosts: HostInventoryRecord[] = [];
  readonly inventorySchedule = { frequency: { hours: 1 } };
  async syncHosts(_options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> {
    return { hosts: this.hosts, cursor: null };
  }
}

const recent = () => new Date(Date.now() - 3600_000).toISOString();

describe.each(databases.eachSupportedId())('vendor host inventory through the router on %p', databaseId => {
  let harness: Harness;
  let server: TestBackend['server'];

  const gate = (name: string) => postGate(server, `component:default/${name}`);
  const codes = reasonCodes;

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    const falcon = new ListingSource('falcon');
    falcon.hosts = [
      { sourceId: 'dev-inv', asset: { hostname: 'inv-01.prod.example.com', ips: ['10.9.0.1'], macs: [] }, lastSeenAt: recent() },
      { sourceId: 'dev-node', asset: { hostname: 'node-a', ips: [], macs: [] }, lastSeenAt: recent() },
      {
        sourceId: 'dev-pod',
        asset: {
          hostname: 'checkout-7d9f',
          ips: [],
          macs: [],
          k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'checkout-7d9f', node: 'node-a', labels: { app: 'checkout', tier: 'web' } },
        },
        lastSeenAt: recent(),
      },
      // listed, but the vendor has not heard from it for 30 days: not covered
      { sourceId: 'dev-old', asset: { hostname: 'old-01', ips: [], macs: [] }, lastSeenAt: new Date(Date.now() - 30 * DAY).toISOString() },
    ];
    // a detection elsewhere, so that the source has a signal history too
    falcon.pages = [{ signals: [signalInput('other', { hostname: 'elsewhere-01', severity: 'low', status: 'resolved' })] }];
    harness = await startBackend({
      knex,
      sources: [falcon],
      entities: [
        component('listed', { 'runtime-risk.io/hosts': 'inv-01' }),
        component('checkout', { 'backstage.io/kubernetes-label-selector': 'app=checkout' }),
        component('payments', { 'backstage.io/kubernetes-label-selector': 'app=payments' }),
        component('forgotten', { 'runtime-risk.io/hosts': 'old-01' }),
      ],
    });
    server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-falcon');
    await harness.runTask('runtime-risk-inventory-falcon');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('schedules the inventory sync on its own, slower schedule', () => {
    const task = (harness.scheduler.scheduleTask as unknown as { mock: { calls: [{ id: string; frequency: unknown }][] } }).mock.calls
      .map(c => c[0])
      .find(t => t.id === 'runtime-risk-inventory-falcon');
    expect(task?.frequency).toEqual({ hours: 1 });
  });

  it('a host covered only by the inventory counts for coverage: clean, not uncorrelated', async () => {
    const res = await gate('listed');
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('proceed');
    expect(res.body.riskLevel).toBe('low');
    expect(codes(res.body)).toEqual(['no_active_signals']);
    // the source that listed it is named, like a source that reported a signal on it
    expect(res.body.hosts).toEqual([{ id: 'inv-01', matchedBy: 'annotation:runtime-risk.io/hosts', value: 'inv-01', sources: ['falcon'] }]);
  });

  it('a label-selected workload with no detections is correlated and clean through the inventory, node included', async () => {
    const res = await gate('checkout');
    expect(res.body.decision).toBe('proceed');
    expect(codes(res.body)).toEqual(['no_active_signals']);
    expect(res.body.hosts).toEqual([
      { id: 'node-a', matchedBy: 'kubernetes:node', value: 'node-a', sources: ['falcon'] },
      { id: 'pod:prod-eu/shop/checkout-7d9f', matchedBy: 'kubernetes:label-selector', value: 'pod:prod-eu/shop/checkout-7d9f', sources: ['falcon'] },
    ]);
  });

  it('a selector no listed pod matches, and a host the vendor has not heard from for weeks, stay uncorrelated', async () => {
    const payments = await gate('payments');
    expect(codes(payments.body)).toEqual(['uncorrelated']);
    const forgotten = await gate('forgotten');
    expect(forgotten.body.riskLevel).toBe('unknown');
    expect(codes(forgotten.body)).toEqual(['uncorrelated']);
    expect(forgotten.body.reasons[0].message).toContain('old-01');
  });
});
