import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { fakeClock, tokenCountsOverLifecycle, registeredSources, sourceError } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { startFakeFalcon, type FakeFalcon } from './testUtils';
import { CrowdStrikeSignalSource, crowdStrikeSignal } from './CrowdStrikeSignalSource';
import { readCrowdStrikeConfig } from './config';
import crowdStrikeModule from './index';

const logger = mockServices.logger.mock();

function alert(n: number, overrides: Record<string, unknown> = {}) {
  return {
    composite_id: `cid:ind:dev${n}:alert${n}`,
    severity: 70,
    confidence: 80,
    status: 'new',
    display_name: `Alert ${n}`,
    description: 'Suspicious process',
    mitre_attack: [{ tactic: 'Execution', tactic_id: 'TA0002', technique: 'PowerShell', technique_id: 'T1059.001' }],
    created_timestamp: `2026-01-01T00:00:0${n}Z`,
    updated_timestamp: `2026-01-01T00:10:0${n}Z`,
    falcon_host_link: `https://falcon.crowdstrike.com/activity-v2/detections/${n}`,
    device: {
      device_id: `dev${n}`,
      hostname: `WEB-0${n}`,
      machine_domain: 'prod.example.com',
      local_ip: '10.0.0.1',
      external_ip: '203.0.113.9',
      mac_address: '02-42-AC-11-00-02',
    },
    ...overrides,
  };
}

async function startFalcon(alerts: Array<Record<string, unknown>>): Promise<FakeFalcon> {
  return startFakeFalcon({
    clientId: 'cid',
    clientSecret: 'falcon-secret',
    alerts,
    devices: [
      { device_id: 'dev1', hostname: 'WEB-01', instance_id: 'i-0abc', pod_name: 'web-7f9', pod_namespace: 'shop', k8s_cluster_id: 'c-1',
        pod_labels: ['app:web', 'team=payments'], service_provider: 'AWS_EC2_V2', service_provider_account_id: '123', last_seen: '2026-01-01T00:00:00Z' },
      { device_id: 'dev9', hostname: 'db-09', mac_address: '0242ac110009', modified_timestamp: '2026-01-01T00:00:00Z' },
    ],
  });
}

describe('CrowdStrikeSignalSource against a fake Falcon API', () => {
  let falcon: FakeFalcon;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(() => falcon?.server.close());

  function source(extra: Partial<ConstructorParameters<typeof CrowdStrikeSignalSource>[0]> = {}) {
    clock = fakeClock();
    return new CrowdStrikeSignalSource({
      baseUrl: falcon.server.url,
      clientId: 'cid',
      clientSecret: 'falcon-secret',
      clock,
      random: () => 0.5,
      ...extra,
    });
  }

  it('normalizes alerts, enriches them from the Hosts API and returns inventory', async () => {
    falcon = await startFalcon([alert(1), alert(2, { mitre_attack: undefined, tactic: 'Persistence', technique_id: 'T1053', device: undefined })]);
    const res = await source().fetch({ cursor: null, logger });
    expect(res.rejected).toBe(0);
    expect(res.cursor).toBe('2026-01-01T00:10:02.000Z');
    expect(res.hasMore).toBe(false);
    const [first, second] = res.signals;
    expect(first).toMatchObject({
      sourceId: 'cid:ind:dev1:alert1',
      severity: 'high',
      confidence: 0.8,
      status: 'active',
      title: 'Alert 1',
      tactics: ['Execution'],
      techniques: ['T1059.001'],
      firstSeenAt: '2026-01-01T00:00:01Z',
      lastSeenAt: '2026-01-01T00:10:01Z',
      url: 'https://falcon.crowdstrike.com/activity-v2/detections/1',
      asset: {
        deviceId: 'dev1',
        hostname: 'web-01',
        fqdn: 'web-01.prod.example.com',
        instanceId: 'i-0abc',
        ips: ['10.0.0.1', '203.0.113.9'],
        macs: ['02:42:ac:11:00:02'],
        cloud: { provider: 'AWS_EC2_V2', accountId: '123' },
        k8s: { pod: 'web-7f9', namespace: 'shop', cluster: 'c-1', labels: { app: 'web', team: 'payments' } },
      },
    });
    // no mitre_attack, no device: still parses
    expect(second).toMatchObject({ tactics: ['Persistence'], techniques: ['T1053'], asset: { ips: [], macs: [] } });
    expect(res.hosts?.map(h => h.sourceId).sort()).toEqual(['dev1', 'dev9']);
    expect(res.hosts?.find(h => h.sourceId === 'dev9')?.asset.macs).toEqual(['02:42:ac:11:00:09']);
    // the token request is the documented form
    const form = falcon.issuer.forms[0];
    expect(form.get('client_id')).toBe('cid');
    expect(form.has('grant_type')).toBe(false);
    const q = JSON.parse(falcon.server.calls('POST /alerts/combined/alerts/v1')[0].body);
    expect(q.sort).toBe('updated_timestamp.asc');
    // a first sync has no lower bound, only the walk's upper bound
    expect(q.filter).toMatch(/^updated_timestamp:<'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'$/);
  });

  it('keeps the alerts when the Hosts API does not know their devices', async () => {
    falcon = await startFalcon([alert(5)]);
    const res = await source({ inventory: false }).fetch({ cursor: null, logger });
    expect(res.signals[0].asset).toMatchObject({ deviceId: 'dev5', hostname: 'web-05' });
    expect(res.hosts).toEqual([]);
    expect(falcon.server.calls('POST /devices/entities/devices/v2')).toHaveLength(1);
  });

  it('pages through several query pages', async () => {
    falcon = await startFalcon([1, 2, 3, 4, 5].map(n => alert(n)));
    const res = await source({ pageSize: 2, inventory: false }).fetch({ cursor: null, logger });
    expect(res.signals.map(s => s.sourceId)).toHaveLength(5);
    const pages = falcon.server.calls('POST /alerts/combined/alerts/v1').map(r => JSON.parse(r.body));
    expect(pages.map(p => [p.limit, typeof p.after])).toEqual([[2, 'undefined'], [2, 'string'], [2, 'string']]);
    expect(res.hasMore).toBe(false);
  });

  it('stops at maxPages with hasMore and a cursor that loses nothing', async () => {
    falcon = await startFalcon([1, 2, 3].map(n => alert(n)).concat([alert(4, { updated_timestamp: '2026-01-01T00:10:03Z' })]));
    const src = source({ pageSize: 1, maxPages: 3, inventory: false });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.hasMore).toBe(true);
    expect(first.signals).toHaveLength(3);
    // alert 4 shares alert 3's timestamp: the walk goes on from Falcon's `after` token, kept in the cursor
    expect(JSON.parse(first.cursor!)).toMatchObject({ since: null, offset: 3, newest: '2026-01-01T00:10:03.000Z', next: expect.any(String) });
    const second = await src.fetch({ cursor: first.cursor, logger });
    expect(second.signals.map(s => s.sourceId).sort()).toEqual(['cid:ind:dev4:alert4']);
    expect(second.hasMore).toBe(false);
  });

  it('syncs incrementally from the cursor and reuses the cached token', async () => {
    falcon = await startFalcon([alert(1), alert(2)]);
    const src = source({ inventory: false });
    const first = await src.fetch({ cursor: null, logger });
    falcon.alerts.push(alert(3));
    const second = await src.fetch({ cursor: first.cursor, logger });
    const queries = falcon.server.calls('POST /alerts/combined/alerts/v1');
    expect(JSON.parse(queries[1].body).filter).toMatch(/^updated_timestamp:>='2026-01-01T00:10:02\.000Z'\+updated_timestamp:<'/);
    // `>=` returns the boundary alert again (sub-millisecond digits are never skipped); the store upserts it
    expect(second.signals.map(s => s.sourceId)).toEqual(['cid:ind:dev2:alert2', 'cid:ind:dev3:alert3']);
    expect(second.cursor).toBe('2026-01-01T00:10:03.000Z');
    expect(falcon.issuer.issued).toBe(1);
  });

  it('a failed batch returns nothing; retrying from the kept cursor loses and duplicates nothing', async () => {
    falcon = await startFalcon([alert(1)]);
    const src = source({ inventory: false });
    const first = await src.fetch({ cursor: null, logger });
    falcon.alerts.push(alert(2), alert(3));
    // the first page works, then the second fails for good
    const paged = source({ inventory: false, pageSize: 2 });
    falcon.faults.push({ json: { resources: [alert(1), alert(2)], meta: { pagination: { after: 'page-2' } } } });
    for (let i = 0; i < 4; i++) falcon.faults.push({ status: 503, json: { errors: [{ code: 503, message: 'unavailable' }] } });
    await expect(paged.fetch({ cursor: first.cursor, logger })).rejects.toThrow('Source crowdstrike: HTTP 503: POST /alerts/combined/alerts/v1');
    // the backend kept `first.cursor`; the retry gets the two new alerts (and the boundary one again, upserted)
    const retry = await paged.fetch({ cursor: first.cursor, logger });
    expect(retry.signals.map(s => s.sourceId)).toEqual(['cid:ind:dev1:alert1', 'cid:ind:dev2:alert2', 'cid:ind:dev3:alert3']);
    expect(retry.cursor).toBe('2026-01-01T00:10:03.000Z');
  });

  it('adds the configured FQL filter', async () => {
    falcon = await startFalcon([]);
    await source({ filter: "product:'epp'", inventory: false }).fetch({ cursor: '2026-01-01T00:00:00Z', logger });
    expect(JSON.parse(falcon.server.calls('POST /alerts/combined/alerts/v1')[0].body).filter).toMatch(
      /^updated_timestamp:>='2026-01-01T00:00:00\.000Z'\+updated_timestamp:<'[^']+'\+product:'epp'$/,
    );
  });

  it('refreshes the token on 401 and after expiry', async () => {
    falcon = await startFalcon([alert(1)]);
    const src = source({ inventory: false });
    expect(await tokenCountsOverLifecycle(() => src.fetch({ cursor: null, logger }), falcon.issuer, clock, 1800_000)).toEqual([1, 2, 3]);
  });

  it('waits for X-Ratelimit-RetryAfter on 429, then succeeds', async () => {
    falcon = await startFalcon([alert(1)]);
    const src = source({ inventory: false });
    const resetAt = Math.floor(clock.now() / 1000) + 9;
    falcon.faults.push({ status: 429, headers: { 'x-ratelimit-retryafter': String(resetAt) }, json: { errors: [{ code: 429, message: 'API rate limit exceeded.' }] } });
    const res = await src.fetch({ cursor: null, logger });
    expect(res.signals).toHaveLength(1);
    expect(clock.sleeps).toEqual([9000]);
  });

  it('retries a 500 and recovers', async () => {
    falcon = await startFalcon([alert(1)]);
    const src = source({ inventory: false });
    falcon.faults.push({ status: 500, json: { errors: [{ code: 500, message: 'internal error' }] } });
    expect((await src.fetch({ cursor: null, logger })).signals).toHaveLength(1);
    expect(clock.sleeps).toHaveLength(1);
  });

  it('surfaces a permanent 500 naming the source and status, returning nothing', async () => {
    falcon = await startFalcon([alert(1)]);
    const src = source({ inventory: false });
    for (let i = 0; i < 4; i++) falcon.faults.push({ status: 500, json: { errors: [{ code: 500, message: 'internal error' }] } });
    const err = await sourceError(src.fetch({ cursor: null, logger }));
    expect(err.message).toBe('Source crowdstrike: HTTP 500: POST /alerts/combined/alerts/v1 failed after 4 attempts: 500: internal error');
    expect(err.message).not.toContain('falcon-secret');
  });

  it('fails on a malformed JSON body', async () => {
    falcon = await startFalcon([alert(1)]);
    falcon.faults.push({ body: '{"resources": ["a",' });
    await expect(source({ inventory: false }).fetch({ cursor: null, logger })).rejects.toThrow(
      'Source crowdstrike: HTTP 200: malformed JSON in response to POST /alerts/combined/alerts/v1',
    );
  });

  it('skips and counts a garbage record, keeping the others', async () => {
    falcon = await startFalcon([alert(1), alert(2, { severity: 'very', updated_timestamp: '2026-01-01T00:10:05Z' }), alert(3)]);
    const res = await source({ inventory: false }).fetch({ cursor: null, logger });
    expect(res.rejected).toBe(1);
    expect(res.signals.map(s => s.sourceId)).toEqual(['cid:ind:dev1:alert1', 'cid:ind:dev3:alert3']);
    // the bad record does not block the cursor: it is not fetched again
    expect(res.cursor).toBe('2026-01-01T00:10:05.000Z');
  });
});

describe('CrowdStrike paging edges', () => {
  let falcon: FakeFalcon;
  afterEach(() => falcon?.server.close());
  const at = (i: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000).toISOString();
  const many = (n: number, ts: (i: number) => string = at) =>
    Array.from({ length: n }, (_, i) => alert(1, { composite_id: `cid:ind:x:a${String(i).padStart(5, '0')}`, updated_timestamp: ts(i), device: undefined }));
  const source = (extra: Partial<ConstructorParameters<typeof CrowdStrikeSignalSource>[0]> = {}) =>
    new CrowdStrikeSignalSource({
      baseUrl: falcon.server.url, clientId: 'cid', clientSecret: 'falcon-secret', inventory: false, clock: fakeClock(), random: () => 0.5, ...extra,
    });
  async function sync(src: CrowdStrikeSignalSource, cursor: string | null = null) {
    const ids: string[] = [];
    let batches = 0;
    for (;;) {
      const res = await src.fetch({ cursor, logger });
      batches++;
      ids.push(...res.signals.map(s => s.sourceId));
      cursor = res.cursor;
      if (!res.hasMore) return { ids, cursor, batches };
    }
  }

  it('reads beyond 10,000 alerts with the after token (the fake refuses offset + limit above 10,000, like Falcon)', async () => {
    const alerts = many(10_050);
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts });
    const res = await sync(source({ pageSize: 1000, maxPages: 10 }));
    expect(res.ids).toHaveLength(10_050);
    expect(new Set(res.ids).size).toBe(10_050);
    expect(res.batches).toBe(2);
    expect(res.cursor).toBe(at(10_049));
    // the ids query stops at 10,000, as Falcon's does
    const token = await (await fetch(`${falcon.server.url}/oauth2/token`, { method: 'POST', body: new URLSearchParams({ client_id: 'cid', client_secret: 'falcon-secret' }) })).json();
    const beyond = await fetch(`${falcon.server.url}/alerts/queries/alerts/v2?offset=9500&limit=1000`, { headers: { authorization: `Bearer ${token.access_token}` } });
    expect(beyond.status).toBe(400);
  });

  it('equal timestamps over several pages and batches: the walk goes on from the after token, never stalls', async () => {
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: many(7, () => '2026-01-01T00:10:00.123456789Z') });
    const res = await sync(source({ pageSize: 2, maxPages: 1 }), '2026-01-01T00:00:00Z');
    expect(res.ids).toEqual(many(7).map(a => a.composite_id));
    expect(res.batches).toBe(4);
    const bodies = falcon.server.calls('POST /alerts/combined/alerts/v1').map(r => JSON.parse(r.body));
    expect(new Set(bodies.map(b => b.filter)).size).toBe(1);
    expect(res.cursor).toBe('2026-01-01T00:10:00.123Z');
  });

  it('an error mid-walk: the next run resumes from the committed after token and finishes', async () => {
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: many(6) });
    const src = source({ pageSize: 2, maxPages: 1 });
    const first = await src.fetch({ cursor: null, logger });
    for (let i = 0; i < 4; i++) falcon.faults.push({ status: 500, json: { errors: [{ code: 500, message: 'internal error' }] } });
    await expect(src.fetch({ cursor: first.cursor, logger })).rejects.toThrow(/HTTP 500/);
    const rest = await sync(src, first.cursor);
    expect([...first.signals.map(s => s.sourceId), ...rest.ids]).toEqual(many(6).map(a => a.composite_id));
    expect(rest.batches).toBe(2);
  });

  it('an after token Falcon no longer accepts goes on from the newest updated_timestamp read', async () => {
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: many(4) });
    const src = source({ pageSize: 2, maxPages: 1 });
    const first = await src.fetch({ cursor: null, logger });
    falcon.faults.push({ status: 400, json: { errors: [{ code: 400, message: 'invalid after token' }] } });
    const rest = await sync(src, first.cursor);
    expect(rest.ids).toEqual(many(4).slice(1).map(a => a.composite_id));
    expect(JSON.parse(falcon.server.calls('POST /alerts/combined/alerts/v1').slice(-2)[0].body).filter).toMatch(new RegExp(`^updated_timestamp:>='${at(1).replace(/\./g, '\\.')}'`));
  });

  it('re-serialises the cursor before it goes into FQL and refuses one that is not a timestamp', async () => {
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: [] });
    await source({ now: () => Date.parse('2026-03-01T00:00:00Z') }).fetch({ cursor: '2026-01-01T01:00:00.987654+01:00', logger });
    expect(JSON.parse(falcon.server.calls('POST /alerts/combined/alerts/v1')[0].body).filter).toBe(
      "updated_timestamp:>='2026-01-01T00:00:00.987Z'+updated_timestamp:<'2026-03-01T00:00:00.000Z'",
    );
    await expect(source().fetch({ cursor: "2026-01-01T00:00:00Z'+status:'closed", logger })).rejects.toThrow(/unreadable cursor/);
  });
});

describe('CrowdStrike modified devices on the alert path (devices-scroll query)', () => {
  let falcon: FakeFalcon;
  afterEach(() => falcon?.server.close());
  const SCROLL = 'GET /devices/queries/devices-scroll/v1';
  const since = '2026-01-01T00:00:00.000Z';
  const at = (i: number) => new Date(Date.parse(since) + i * 1000).toISOString();
  const source = (extra: Partial<ConstructorParameters<typeof CrowdStrikeSignalSource>[0]> = {}) =>
    new CrowdStrikeSignalSource({ baseUrl: falcon.server.url, clientId: 'cid', clientSecret: 'falcon-secret', clock: fakeClock(), random: () => 0.5, ...extra });
  const device = (i: number, modified: string) => ({ device_id: `d${String(i).padStart(5, '0')}`, hostname: `h${i}`, modified_timestamp: modified });

  it('looks up every one of more than 10,000 modified devices: none skipped, no offset ceiling, no page limit', async () => {
    // 12,500 devices modified after the cursor (small records), 3 modified before it
    const modified = Array.from({ length: 12_500 }, (_, i) => device(i, at(i + 1)));
    const old = [0, 1, 2].map(i => device(20_000 + i, '2025-12-31T23:00:00Z'));
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: [alert(1)], devices: [...old, ...modified] });
    // default pageSize (500) and a small maxPages: the old offset query stopped at 2 x 500 ids
    const res = await source({ maxPages: 2 }).fetch({ cursor: since, logger });
    expect(res.signals).toHaveLength(1);
    expect(res.hasMore).toBe(false);
    const hostIds = res.hosts!.map(h => h.sourceId);
    expect(hostIds).toHaveLength(12_500);
    expect(new Set(hostIds)).toEqual(new Set(modified.map(d => d.device_id)));
    const scrolls = falcon.server.calls(SCROLL);
    // 25 pages of 500, then the empty page that ends the scroll; every page after the first follows the token
    expect(scrolls).toHaveLength(26);
    expect(scrolls.every(r => r.query.get('filter') === `modified_timestamp:>'${since}'` && r.query.get('sort') === 'modified_timestamp.asc')).toBe(true);
    expect(scrolls.map(r => r.query.get('limit'))).toEqual(Array(26).fill('500'));
    expect(scrolls[0].query.get('offset')).toBeNull();
    expect(scrolls.slice(1).every(r => r.query.get('offset'))).toBe(true);
    expect(falcon.server.calls('GET /devices/queries/devices/v1')).toHaveLength(0);
    // looked up by id, 5,000 a request (the alert's own device dev1 with them)
    const bodies = falcon.server.calls('POST /devices/entities/devices/v2').map(r => JSON.parse(r.body).ids as string[]);
    expect(bodies.map(b => b.length)).toEqual([5000, 5000, 2501]);
    expect(bodies.flat().sort()).toEqual(['dev1', ...modified.map(d => d.device_id)].sort());
  });

  it('lists the modified devices once per walk, with the batch that starts it; a first sync lists every device', async () => {
    const devices = [device(1, at(5)), device(2, at(6)), { device_id: 'never-modified', hostname: 'x' }];
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: [1, 2, 3].map(n => alert(n, { device: undefined })), devices });
    const src = source({ pageSize: 1, maxPages: 2 });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.hasMore).toBe(true);
    // no lower bound yet: no filter, the whole inventory
    expect(first.hosts!.map(h => h.sourceId).sort()).toEqual(['d00001', 'd00002', 'never-modified']);
    expect(falcon.server.calls(SCROLL).every(r => r.query.get('filter') === null)).toBe(true);
    const scrollsAfterFirst = falcon.server.calls(SCROLL).length;
    const second = await src.fetch({ cursor: first.cursor, logger });
    expect(second.hasMore).toBe(false);
    expect(second.hosts).toEqual([]);
    expect(falcon.server.calls(SCROLL)).toHaveLength(scrollsAfterFirst);
    // the next walk lists again from its lower bound (the newest alert read): only devices modified after it
    falcon.devices.push(device(3, '2026-01-01T00:10:04Z'), device(4, '2026-01-01T00:10:02Z'));
    const third = await src.fetch({ cursor: second.cursor, logger });
    expect(falcon.server.calls(SCROLL).slice(scrollsAfterFirst)[0].query.get('filter')).toBe("modified_timestamp:>'2026-01-01T00:10:03.000Z'");
    expect(third.hosts!.map(h => h.sourceId)).toEqual(['d00003']);
  });

  it('a scroll token Falcon no longer knows starts the listing over once; a second time fails the batch', async () => {
    const devices = [1, 2, 3].map(i => device(i, at(i)));
    // the fake's clock jumps past the token's expiry on its 2nd scroll request only
    let n = 0;
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', devices, now: () => (++n === 2 ? 1e15 : 0) });
    const res = await source({ pageSize: 1 }).fetch({ cursor: since, logger });
    expect(res.hosts!.map(h => h.sourceId).sort()).toEqual(['d00001', 'd00002', 'd00003']);
    const offsets = falcon.server.calls(SCROLL).map(r => r.query.get('offset'));
    expect(offsets[0]).toBeNull();
    expect(offsets[2]).toBeNull();
    expect(offsets).toHaveLength(6);
    falcon.server.close();

    // every other request is past the expiry: the restarted scroll expires too
    n = 0;
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', devices, now: () => (++n % 2 === 0 ? 1e15 : 0) });
    await expect(source({ pageSize: 1 }).fetch({ cursor: since, logger })).rejects.toThrow(/HTTP 400: GET \/devices\/queries\/devices-scroll\/v1/);
    expect(falcon.server.calls(SCROLL)).toHaveLength(4);
  });

  it('fails a batch whose scroll does not advance, or whose page has ids without a token, instead of looping or stopping', async () => {
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', devices: [device(1, at(1))] });
    const noAlerts = { json: { meta: { pagination: {} }, resources: [], errors: [] } };
    const page = { json: { meta: { pagination: { offset: 'tok' } }, resources: ['d00001'], errors: [] } };
    falcon.faults.push(noAlerts, page, page);
    await expect(source().fetch({ cursor: since, logger })).rejects.toThrow(
      'Source crowdstrike: GET /devices/queries/devices-scroll/v1 does not advance (a page of 1 device ids already listed)',
    );
    falcon.faults.push(noAlerts, { json: { meta: { pagination: {} }, resources: ['d00001'], errors: [] } });
    await expect(source().fetch({ cursor: since, logger })).rejects.toThrow('1 device ids without a scroll token in meta.pagination.offset');
  });
});

describe('CrowdStrike mapping', () => {
  const map = (o: Record<string, unknown>) => crowdStrikeSignal(alert(1, o), new Map());
  it('maps severity 1-100', () => {
    expect([100, 90, 89, 70, 69, 50, 49, 20, 19, 1].map(severity => map({ severity }).severity)).toEqual([
      'critical', 'critical', 'high', 'high', 'medium', 'medium', 'low', 'low', 'informational', 'informational',
    ]);
  });
  it('maps status and confidence', () => {
    expect(['new', 'in_progress', 'reopened', 'closed'].map(status => map({ status }).status)).toEqual(['active', 'active', 'active', 'resolved']);
    expect(map({ confidence: 35 }).confidence).toBe(0.35);
    expect(map({ confidence: undefined }).confidence).toBe(1);
  });
  it('accepts pod labels as key:value, key=value and objects', () => {
    const withLabels = (pod_labels: unknown) => map({ device: { device_id: 'd', pod_labels } }).asset.k8s?.labels;
    expect(withLabels(['app:web', 'tier=api'])).toEqual({ app: 'web', tier: 'api' });
    expect(withLabels({ app: 'web' })).toEqual({ app: 'web' });
  });
});

describe('CrowdStrike config and module', () => {
  const block = { clientId: 'cid', clientSecret: 'sec' };
  const read = (crowdstrike: JsonObject) => {
    const options = readCrowdStrikeConfig(new ConfigReader({ runtimeRisk: { sources: { crowdstrike } } }));
    if (!options) throw new Error('expected options');
    return options;
  };

  it('maps regions to base URLs and prefers baseUrl', () => {
    expect(read({ ...block }).baseUrl).toBe('https://api.crowdstrike.com');
    expect(read({ ...block, region: 'eu-1' }).baseUrl).toBe('https://api.eu-1.crowdstrike.com');
    expect(read({ ...block, region: 'us-gov-1' }).baseUrl).toBe('https://api.laggar.gcw.crowdstrike.com');
    expect(read({ ...block, baseUrl: 'http://127.0.0.1:9/' }).baseUrl).toBe('http://127.0.0.1:9');
  });

  it('fails naming the key', () => {
    expect(() => read({ clientSecret: 'x' })).toThrow(/runtimeRisk\.sources\.crowdstrike\.clientId/);
    expect(() => read({ ...block, region: 'mars-1' })).toThrow("Invalid config at 'runtimeRisk.sources.crowdstrike.region'");
    expect(() => read({ ...block, baseUrl: 'ftp://x' })).toThrow("'runtimeRisk.sources.crowdstrike.baseUrl'");
    expect(readCrowdStrikeConfig(new ConfigReader({}))).toBeUndefined();
  });

  it('registers its source through the extension point, and stays idle without config', async () => {
    const sources = await registeredSources(crowdStrikeModule, { runtimeRisk: { sources: { crowdstrike: { region: 'us-2', ...block } } } }, startTestBackend);
    expect(sources.map(s => [s.id, s.type])).toEqual([['crowdstrike', 'crowdstrike']]);
    expect(await registeredSources(crowdStrikeModule, {}, startTestBackend)).toEqual([]);
  });

  it('fails start-up on an invalid block', async () => {
    await expect(registeredSources(crowdStrikeModule, { runtimeRisk: { sources: { crowdstrike: { clientId: 'x' } } } }, startTestBackend)).rejects.toThrow(
      /runtimeRisk\.sources\.crowdstrike\.clientSecret/,
    );
  });
});
