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
    expect(res.cursor).toBe('2026-01-01T00:10:02Z');
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
    const q = falcon.server.calls('GET /alerts/queries/alerts/v2')[0].query;
    expect(q.get('sort')).toBe('updated_timestamp.asc');
    expect(q.has('filter')).toBe(false);
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
    expect(falcon.server.calls('GET /alerts/queries/alerts/v2').map(r => r.query.get('offset'))).toEqual(['0', '2', '4']);
    expect(res.hasMore).toBe(false);
  });

  it('stops at maxPages with hasMore and a cursor that loses nothing', async () => {
    falcon = await startFalcon([1, 2, 3].map(n => alert(n)).concat([alert(4, { updated_timestamp: '2026-01-01T00:10:03Z' })]));
    const src = source({ pageSize: 1, maxPages: 3, inventory: false });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.hasMore).toBe(true);
    expect(first.signals).toHaveLength(3);
    // alert 4 shares alert 3's timestamp: the cursor stays before it
    expect(first.cursor).toBe('2026-01-01T00:10:02Z');
    const second = await src.fetch({ cursor: first.cursor, logger });
    expect(second.signals.map(s => s.sourceId).sort()).toEqual(['cid:ind:dev3:alert3', 'cid:ind:dev4:alert4']);
    expect(second.hasMore).toBe(false);
  });

  it('syncs incrementally from the cursor and reuses the cached token', async () => {
    falcon = await startFalcon([alert(1), alert(2)]);
    const src = source({ inventory: false });
    const first = await src.fetch({ cursor: null, logger });
    falcon.alerts.push(alert(3));
    const second = await src.fetch({ cursor: first.cursor, logger });
    const queries = falcon.server.calls('GET /alerts/queries/alerts/v2');
    expect(queries[1].query.get('filter')).toBe("updated_timestamp:>'2026-01-01T00:10:02Z'");
    expect(second.signals.map(s => s.sourceId)).toEqual(['cid:ind:dev3:alert3']);
    expect(second.cursor).toBe('2026-01-01T00:10:03Z');
    expect(falcon.issuer.issued).toBe(1);
  });

  it('a failed batch returns nothing; retrying from the kept cursor loses and duplicates nothing', async () => {
    falcon = await startFalcon([alert(1)]);
    const src = source({ inventory: false });
    const first = await src.fetch({ cursor: null, logger });
    falcon.alerts.push(alert(2), alert(3));
    // the ids query works, then the entities call fails for good
    falcon.faults.push({ json: { resources: ['cid:ind:dev2:alert2', 'cid:ind:dev3:alert3'], meta: { pagination: { total: 2 } } } });
    for (let i = 0; i < 4; i++) falcon.faults.push({ status: 503, json: { errors: [{ code: 503, message: 'unavailable' }] } });
    await expect(src.fetch({ cursor: first.cursor, logger })).rejects.toThrow('Source crowdstrike: HTTP 503: POST /alerts/entities/alerts/v2');
    // the backend kept `first.cursor`; the retry gets exactly the two new alerts
    const retry = await src.fetch({ cursor: first.cursor, logger });
    expect(retry.signals.map(s => s.sourceId)).toEqual(['cid:ind:dev2:alert2', 'cid:ind:dev3:alert3']);
    expect(retry.cursor).toBe('2026-01-01T00:10:03Z');
  });

  it('adds the configured FQL filter', async () => {
    falcon = await startFalcon([]);
    await source({ filter: "product:'epp'", inventory: false }).fetch({ cursor: '2026-01-01T00:00:00Z', logger });
    expect(falcon.server.calls('GET /alerts/queries/alerts/v2')[0].query.get('filter')).toBe("updated_timestamp:>'2026-01-01T00:00:00Z'+product:'epp'");
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
    expect(err.message).toBe('Source crowdstrike: HTTP 500: GET /alerts/queries/alerts/v2 failed after 4 attempts: 500: internal error');
    expect(err.message).not.toContain('falcon-secret');
  });

  it('fails on a malformed JSON body', async () => {
    falcon = await startFalcon([alert(1)]);
    falcon.faults.push({ body: '{"resources": ["a",' });
    await expect(source({ inventory: false }).fetch({ cursor: null, logger })).rejects.toThrow(
      'Source crowdstrike: HTTP 200: malformed JSON in response to GET /alerts/queries/alerts/v2',
    );
  });

  it('skips and counts a garbage record, keeping the others', async () => {
    falcon = await startFalcon([alert(1), alert(2, { severity: 'very', updated_timestamp: '2026-01-01T00:10:05Z' }), alert(3)]);
    const res = await source({ inventory: false }).fetch({ cursor: null, logger });
    expect(res.rejected).toBe(1);
    expect(res.signals.map(s => s.sourceId)).toEqual(['cid:ind:dev1:alert1', 'cid:ind:dev3:alert3']);
    // the bad record does not block the cursor: it is not fetched again
    expect(res.cursor).toBe('2026-01-01T00:10:05Z');
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
