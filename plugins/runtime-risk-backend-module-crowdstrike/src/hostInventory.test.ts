import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { fakeClock, sourceError } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { parseInventoryCursor, type HostInventoryRecord } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { startFakeFalcon, type FakeFalcon } from './testUtils';
import { CrowdStrikeSignalSource } from './CrowdStrikeSignalSource';
import { readCrowdStrikeConfig } from './config';

const logger = mockServices.logger.mock();
const SCROLL = 'GET /devices/queries/devices-scroll/v1';

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
    // short pages (2 of 3) never end the walk: it stops at the empty page; every page after the
    // first asks with the scroll token (here one token for the whole scroll, as a scroll context)
    const scrolls = falcon.server.calls(SCROLL);
    expect(scrolls.map(r => r.query.get('limit'))).toEqual(['3', '3', '3', '3', '3']);
    const token = scrolls[1].query.get('offset');
    expect(token).toBeTruthy();
    expect(scrolls.map(r => r.query.get('offset'))).toEqual([null, token, token, token, token]);
    expect(scrolls[0].query.get('sort')).toBe('device_id.asc');
    expect(falcon.server.calls('GET /devices/queries/devices/v1')).toHaveLength(0);
    const bodies = falcon.server.calls('POST /devices/entities/devices/v2').map(r => JSON.parse(r.body).ids);
    expect(bodies.flat().sort()).toEqual(hosts.map(h => h.sourceId).sort());
    expect(falcon.issuer.issued).toBe(1);
    expect(scrolls[0].headers.authorization).toMatch(/^Bearer tok-/);
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

  it('lists more than 10,000 devices (the offset-paged query stops there) through the scroll query', async () => {
    const many = Array.from({ length: 12_500 }, (_, i) => ({ device_id: `d${String(i).padStart(5, '0')}`, hostname: `h-${i}` }));
    await start({ devices: many });
    const src = source({ hostInventory: { pageSize: 5000 } });
    const { hosts, calls, cursor } = await listAll(src);
    expect(calls).toBe(1);
    expect(cursor).toBeNull();
    expect(hosts).toHaveLength(12_500);
    expect(new Set(hosts.map(h => h.sourceId)).size).toBe(12_500);
    expect(hosts.find(h => h.sourceId === 'd12499')?.asset.hostname).toBe('h-12499');
    // pages of 5,000, 5,000, 2,500, then the empty page that ends the walk
    const scrolls = falcon.server.calls(SCROLL);
    expect(scrolls.map(r => r.query.get('limit'))).toEqual(['5000', '5000', '5000', '5000']);
    expect(scrolls.slice(1).every(r => r.query.get('offset') === scrolls[1].query.get('offset'))).toBe(true);
    expect(falcon.server.calls('POST /devices/entities/devices/v2').map(r => JSON.parse(r.body).ids.length)).toEqual([5000, 5000, 2500]);
    expect(falcon.server.calls('GET /devices/queries/devices/v1')).toHaveLength(0);
    // the offset-paged query would have refused the third page
    const res = await fetch(`${falcon.server.url}/devices/queries/devices/v1?sort=device_id.asc&limit=5000&offset=10000`, {
      headers: { authorization: `Bearer tok-${falcon.issuer.issued}` },
    });
    expect(res.status).toBe(400);
  });

  it('a walk cut by maxPages resumes from the stored scroll token; a failure loses only its own call', async () => {
    await start();
    const src = source({ pageSize: 2, hostInventory: { maxPages: 2 } });
    const first = await src.syncHosts!({ cursor: null, logger });
    expect(first.hasMore).toBe(true);
    expect(first.hosts.map(h => h.sourceId)).toEqual(['dev0', 'dev1', 'dev2', 'dev3']);
    const token = falcon.server.calls(SCROLL)[1].query.get('offset');
    expect(parseInventoryCursor(first.cursor)).toMatchObject({ offset: 4, next: token });
    // 5xx four times: the call fails, the cursor given back by the previous call still works
    for (let i = 0; i < 4; i++) falcon.faults.push({ status: 503, json: { errors: [{ code: 503, message: 'unavailable' }] } });
    const err = await sourceError(src.syncHosts!({ cursor: first.cursor, logger }));
    expect(err.message).toContain('HTTP 503: GET /devices/queries/devices-scroll/v1');
    const before = falcon.server.calls(SCROLL).length;
    const second = await src.syncHosts!({ cursor: first.cursor, logger });
    expect(second.hosts.map(h => h.sourceId)).toEqual(['dev4', 'dev5', 'dev6', 'pod1']);
    expect(second.hasMore).toBe(true);
    const last = await src.syncHosts!({ cursor: second.cursor, logger });
    expect(last).toMatchObject({ hosts: [], cursor: null, hasMore: false });
    // resumed with the token every time, never a new scroll
    expect(falcon.server.calls(SCROLL).slice(before).map(r => r.query.get('offset'))).toEqual([token, token, token]);
  });

  it('a new token on every page is followed too; a stored token Falcon no longer knows (expired) starts the walk over', async () => {
    let now = Date.parse('2026-12-03T12:00:00Z');
    await start({ scrollTokens: 'new', now: () => now });
    const src = source({ pageSize: 3, hostInventory: { maxPages: 1 } });
    const first = await src.syncHosts!({ cursor: null, logger });
    const second = await src.syncHosts!({ cursor: first.cursor, logger });
    expect([...first.hosts, ...second.hosts].map(h => h.sourceId)).toEqual(['dev0', 'dev1', 'dev2', 'dev3', 'dev4', 'dev5']);
    const [t1, t2] = [first, second].map(r => parseInventoryCursor(r.cursor)!.next);
    expect(t1 && t2 && t1 !== t2).toBe(true);
    // the token of the page before was forgotten: 400, as Falcon answers it
    const stale = await fetch(`${falcon.server.url}/devices/queries/devices-scroll/v1?limit=3&offset=${encodeURIComponent(t1!)}`, {
      headers: { authorization: `Bearer tok-${falcon.issuer.issued}` },
    });
    expect(stale.status).toBe(400);
    // more than two minutes later the stored token has expired: the call starts a new scroll
    now += 121_000;
    const before = falcon.server.calls(SCROLL).length;
    const restarted = await src.syncHosts!({ cursor: second.cursor, logger });
    expect(falcon.server.calls(SCROLL).slice(before).map(r => r.query.get('offset'))).toEqual([t2, null]);
    expect(restarted.hosts.map(h => h.sourceId)).toEqual(['dev0', 'dev1', 'dev2']);
    expect(parseInventoryCursor(restarted.cursor)).toMatchObject({ offset: 3, startedAt: '2026-12-03T12:00:00.000Z' });
    // and goes on to the end from the new scroll's tokens
    let cursor = restarted.cursor;
    const rest: string[] = [];
    while (cursor) {
      const res = await src.syncHosts!({ cursor, logger });
      rest.push(...res.hosts.map(h => h.sourceId));
      cursor = res.cursor;
    }
    expect(rest).toEqual(['dev3', 'dev4', 'dev5', 'dev6', 'pod1']);
    // a 400 on a fresh walk (no token to blame) fails the call
    falcon.faults.push({ status: 400, json: { errors: [{ code: 400, message: 'invalid filter' }] } });
    expect((await sourceError(src.syncHosts!({ cursor: null, logger }))).message).toContain('HTTP 400');
  });

  it('fails with a clear error on a malformed ids page', async () => {
    await start();
    const src = source();
    const fails = async (json: unknown) => {
      falcon.faults.push({ json });
      const error = await src.syncHosts!({ cursor: null, logger }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      return (error as Error).message;
    };
    expect(await fails({ meta: { pagination: { offset: 'tok' } }, resources: [1, 2] })).toBe(
      'Source crowdstrike: malformed device ids page from GET /devices/queries/devices-scroll/v1 (resources is not a list of ids)',
    );
    expect(await fails({ meta: { pagination: { offset: 42 } }, resources: ['dev0'] })).toContain('(meta.pagination.offset is not a scroll token)');
    expect(await fails({ meta: { pagination: { total: 8 } }, resources: ['dev0'] })).toContain('(1 device ids without a scroll token in meta.pagination.offset)');
    expect(await fails([])).toContain('(not a JSON object)');
    // an empty page without a token is the end of an empty inventory
    falcon.faults.push({ json: { meta: { pagination: { total: 0 } }, resources: [] } });
    expect(await src.syncHosts!({ cursor: null, logger })).toMatchObject({ hosts: [], cursor: null, hasMore: false });
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
    await expect(src.syncHosts!({ cursor: null, logger })).rejects.toThrow('malformed JSON in response to GET /devices/queries/devices-scroll/v1');
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
