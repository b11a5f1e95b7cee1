import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { fakeClock, sourceError } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import type { HostInventoryRecord } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { startFakeFalcon, type FakeFalcon } from './testUtils';
import { CrowdStrikeSignalSource } from './CrowdStrikeSignalSource';
import { readCrowdStrikeConfig } from './config';

const logger = mockServices.logger.mock();

const devices = Array.from({ length: 7 }, (_, i) => ({
  device_id: `dev${i}`,
  hostname: `node-${i}`,
  local_ip: `10.0.1.${i}`,
  last_seen: '2026-12-03T10:00:00Z',
}));
const podDevice = {
  device_id: 'pod1',
  hostname: 'checkout-7d9f',
  pod_name: 'checkout-7d9f',
  pod_namespace: 'shop',
  k8s_cluster_id: 'prod-eu',
  pod_labels: ['app:checkout', 'tier=web'],
  last_seen: '2026-12-03T11:00:00Z',
};

describe('CrowdStrike host inventory against a fake Falcon API', () => {
  let falcon: FakeFalcon;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(() => falcon?.server.close());

  async function start(extra: Partial<Parameters<typeof startFakeFalcon>[0]> = {}) {
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', devices: [...devices, podDevice], ...extra });
  }
  function source(extra: Partial<ConstructorParameters<typeof CrowdStrikeSignalSource>[0]> = {}) {
    clock = fakeClock();
    return new CrowdStrikeSignalSource({
      baseUrl: falcon.server.url,
      clientId: 'cid',
      clientSecret: 'falcon-secret',
      clock,
      random: () => 0.5,
      now: () => Date.parse('2026-12-03T12:00:00Z'),
      ...extra,
    });
  }
  async function listAll(src: CrowdStrikeSignalSource) {
    const hosts: HostInventoryRecord[] = [];
    let cursor: string | null = null;
    let calls = 0;
    for (;;) {
      const res = await src.syncHosts!({ cursor, logger });
      calls++;
      hosts.push(...res.hosts);
      cursor = res.cursor;
      if (!res.hasMore) return { hosts, calls, cursor };
    }
  }

  it('lists every device across pages capped below the limit, ids in the entities body, with OAuth', async () => {
    await start({ devicePageCap: 2 });
    const src = source({ pageSize: 3 });
    expect(src.inventorySchedule).toEqual({ frequency: { hours: 1 }, timeout: { minutes: 15 } });
    const { hosts, calls, cursor } = await listAll(src);
    expect(calls).toBe(1);
    expect(cursor).toBeNull();
    expect(hosts.map(h => h.sourceId).sort()).toEqual(['dev0', 'dev1', 'dev2', 'dev3', 'dev4', 'dev5', 'dev6', 'pod1']);
    // short pages (2 of 3) never end the walk: it stops at the empty page
    const offsets = falcon.server.calls('GET /devices/queries/devices/v1').map(r => Number(r.query.get('offset')));
    expect(offsets).toEqual([0, 2, 4, 6, 8]);
    expect(falcon.server.calls('GET /devices/queries/devices/v1')[0].query.get('sort')).toBe('device_id.asc');
    const bodies = falcon.server.calls('POST /devices/entities/devices/v2').map(r => JSON.parse(r.body).ids);
    expect(bodies.flat().sort()).toEqual(hosts.map(h => h.sourceId).sort());
    expect(falcon.issuer.issued).toBe(1);
    expect(falcon.server.calls('GET /devices/queries/devices/v1')[0].headers.authorization).toMatch(/^Bearer tok-/);
    const pod = hosts.find(h => h.sourceId === 'pod1')!;
    expect(pod).toEqual({
      sourceId: 'pod1',
      lastSeenAt: '2026-12-03T11:00:00.000Z',
      asset: {
        deviceId: 'pod1',
        hostname: 'checkout-7d9f',
        ips: [],
        macs: [],
        k8s: { pod: 'checkout-7d9f', namespace: 'shop', cluster: 'prod-eu', labels: { app: 'checkout', tier: 'web' } },
      },
    });
  });

  it('a walk cut by maxPages resumes from its cursor; a failure loses only its own call', async () => {
    await start();
    const src = source({ pageSize: 2, hostInventory: { maxPages: 2 } });
    const first = await src.syncHosts!({ cursor: null, logger });
    expect(first.hasMore).toBe(true);
    expect(first.hosts).toHaveLength(4);
    // 5xx four times: the call fails, the cursor given back by the previous call still works
    for (let i = 0; i < 4; i++) falcon.faults.push({ status: 503, json: { errors: [{ code: 503, message: 'unavailable' }] } });
    const err = await sourceError(src.syncHosts!({ cursor: first.cursor, logger }));
    expect(err.message).toContain('HTTP 503: GET /devices/queries/devices/v1');
    const second = await src.syncHosts!({ cursor: first.cursor, logger });
    expect(second.hosts.map(h => h.sourceId)).toEqual(['dev4', 'dev5', 'dev6', 'pod1']);
    expect(second.hasMore).toBe(true);
    const last = await src.syncHosts!({ cursor: second.cursor, logger });
    expect(last).toMatchObject({ hosts: [], cursor: null, hasMore: false });
  });

  it('waits for X-Ratelimit-RetryAfter on 429, retries a 500, fails on a malformed body', async () => {
    await start();
    const src = source();
    falcon.faults.push({ status: 429, headers: { 'x-ratelimit-retryafter': String(Math.floor(clock.now() / 1000) + 7) }, json: { errors: [{ code: 429, message: 'API rate limit exceeded.' }] } });
    falcon.faults.push({ status: 500, json: { errors: [{ code: 500, message: 'internal error' }] } });
    expect((await listAll(src)).hosts).toHaveLength(8);
    expect(clock.sleeps[0]).toBe(7000);
    expect(clock.sleeps).toHaveLength(2);
    falcon.faults.push({ body: '{"resources": ["dev0",' });
    await expect(src.syncHosts!({ cursor: null, logger })).rejects.toThrow('malformed JSON in response to GET /devices/queries/devices/v1');
  });

  it('skips a device record that does not parse, keeping the others', async () => {
    await start({ devices: [devices[0], { device_id: 'bad', hostname: 42 }, devices[1]] });
    const res = await source().syncHosts!({ cursor: null, logger });
    expect(res.rejected).toBe(1);
    expect(res.hosts.map(h => h.sourceId)).toEqual(['dev0', 'dev1']);
  });

  it('is off with inventory: false or hostInventory.enabled: false, and takes its schedule from config', async () => {
    await start();
    expect(source({ inventory: false }).syncHosts).toBeUndefined();
    const config = (hostInventory: unknown) =>
      readCrowdStrikeConfig(
        new ConfigReader({ runtimeRisk: { sources: { crowdstrike: { baseUrl: falcon.server.url, clientId: 'c', clientSecret: 's', hostInventory } } } } as never),
      )!;
    expect(new CrowdStrikeSignalSource(config({ enabled: false })).syncHosts).toBeUndefined();
    expect(new CrowdStrikeSignalSource(config({ frequency: { hours: 6 } })).inventorySchedule).toEqual({
      frequency: { hours: 6 },
      timeout: { minutes: 15 },
    });
  });
});
