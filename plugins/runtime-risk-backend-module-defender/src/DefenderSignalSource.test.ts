import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { fakeClock, tokenCountsOverLifecycle, registeredSources, sourceError, syncSignals } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { startFakeDefender, type FakeDefender } from './testUtils';
import { DefenderSignalSource, defenderSignal } from './DefenderSignalSource';
import { readDefenderConfig } from './config';
import defenderModule from './index';

const logger = mockServices.logger.mock();

function alert(n: number, overrides: Record<string, unknown> = {}) {
  return {
    id: `da63747290038283886${n}_1364969609`,
    incidentId: 1126093,
    title: `Suspicious PowerShell ${n}`,
    description: 'A suspicious PowerShell command line was observed',
    severity: 'High',
    status: 'New',
    classification: null,
    determination: null,
    category: 'Execution',
    detectionSource: 'WindowsDefenderAtp',
    machineId: 'm1',
    computerDnsName: 'WEB-01.prod.example.com',
    mitreTechniques: ['T1059.001'],
    alertCreationTime: `2026-01-01T00:00:0${n}.1234567Z`,
    firstEventTime: `2026-01-01T00:00:0${n}Z`,
    lastUpdateTime: `2026-01-01T00:10:0${n}.1234567Z`,
    ...overrides,
  };
}

async function startDefender(alerts: Array<Record<string, unknown>>): Promise<FakeDefender> {
  return startFakeDefender({
    tenantId: 'tenant-1',
    clientId: 'app-id',
    clientSecret: 'mde-secret',
    alerts,
    machines: [
      {
        id: 'm1',
        computerDnsName: 'web-01.prod.example.com',
        lastIpAddress: '10.0.0.5',
        lastExternalIpAddress: '203.0.113.5',
        lastSeen: '2026-01-01T00:00:00Z',
        ipAddresses: [
          { ipAddress: '10.0.0.5', macAddress: '0242AC110002', type: 'Ethernet', operationalStatus: 'Up' },
          { ipAddress: 'fe80::1', macAddress: '0242AC110002', type: 'Ethernet', operationalStatus: 'Up' },
        ],
        vmMetadata: { vmId: 'vm-1', cloudProvider: 'Azure', subscriptionId: 'sub-1', resourceId: '/x' },
      },
    ],
  });
}

describe('DefenderSignalSource against a fake Defender API', () => {
  let mde: FakeDefender;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(() => mde?.server.close());

  function source(extra: Partial<ConstructorParameters<typeof DefenderSignalSource>[0]> = {}) {
    clock = fakeClock();
    return new DefenderSignalSource({
      tenantId: 'tenant-1',
      clientId: 'app-id',
      clientSecret: 'mde-secret',
      apiUrl: `${mde.server.url}`,
      loginUrl: mde.server.url,
      clock,
      random: () => 0.5,
      ...extra,
    });
  }

  it('gets a token for <apiUrl>/.default and normalizes alerts with machine details', async () => {
    mde = await startDefender([alert(1), alert(2, { machineId: 'gone', computerDnsName: 'db-02', mitreTechniques: undefined })]);
    const res = await source().fetch({ cursor: null, logger });
    const form = mde.issuer.forms[0];
    expect(form.get('scope')).toBe(`${mde.server.url}/.default`);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(res.rejected).toBe(0);
    expect(res.signals[0]).toMatchObject({
      sourceId: 'da637472900382838861_1364969609',
      severity: 'high',
      confidence: 1,
      status: 'active',
      title: 'Suspicious PowerShell 1',
      techniques: ['T1059.001'],
      firstSeenAt: '2026-01-01T00:00:01Z',
      lastSeenAt: '2026-01-01T00:10:01.1234567Z',
      asset: {
        deviceId: 'm1',
        hostname: 'web-01',
        fqdn: 'web-01.prod.example.com',
        instanceId: 'vm-1',
        ips: ['10.0.0.5', '203.0.113.5', 'fe80::1'],
        macs: ['02:42:ac:11:00:02'],
        cloud: { provider: 'Azure', accountId: 'sub-1' },
      },
    });
    // machine 404: the alert keeps its own host fields; missing mitreTechniques parses
    expect(res.signals[1]).toMatchObject({ techniques: [], asset: { deviceId: 'gone', hostname: 'db-02', ips: [], macs: [] } });
    expect(res.hosts).toEqual([expect.objectContaining({ sourceId: 'm1', lastSeenAt: '2026-01-01T00:00:00Z' })]);
    // re-serialised (ms precision): the next walk's `ge` re-reads the boundary rather than skip it
    expect(res.cursor).toBe('2026-01-01T00:10:02.123Z');
  });

  it('pages with $top/$skip and syncs incrementally with $filter', async () => {
    mde = await startDefender([1, 2, 3, 4, 5].map(n => alert(n)));
    const src = source({ pageSize: 2, machines: false });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.signals).toHaveLength(5);
    const pages = mde.server.calls('GET /api/alerts');
    // the short page at 4 is not the last one: the empty page at 5 is
    expect(pages.map(r => [r.query.get('$skip'), r.query.get('$top')])).toEqual([['0', '2'], ['2', '2'], ['4', '2'], ['5', '2']]);
    // a first sync has no lower bound, only the walk's upper bound
    expect(pages[0].query.get('$filter')).toMatch(/^lastUpdateTime lt \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    mde.alerts.push(alert(6));
    const second = await src.fetch({ cursor: first.cursor, logger });
    const q = mde.server.calls('GET /api/alerts')[4].query;
    expect(q.get('$filter')).toMatch(/^lastUpdateTime ge 2026-01-01T00:10:05\.123Z and lastUpdateTime lt /);
    // `ge` returns the boundary alert again; the store upserts it
    expect(second.signals.map(s => s.sourceId)).toEqual([alert(5).id, alert(6).id]);
    expect(second.cursor).toBe('2026-01-01T00:10:06.123Z');
    expect(mde.issuer.issued).toBe(1);
  });

  it('when maxPages cuts the walk short, returns its progress and resumes it next time', async () => {
    mde = await startDefender([1, 2, 3].map(n => alert(n)));
    const src = source({ pageSize: 1, maxPages: 2, machines: false });
    const res = await src.fetch({ cursor: '2026-01-01T00:00:00Z', logger });
    expect(res.signals).toHaveLength(2);
    expect(res.hasMore).toBe(true);
    expect(JSON.parse(res.cursor!)).toMatchObject({ since: '2026-01-01T00:00:00.000Z', offset: 2 });
    const rest = await src.fetch({ cursor: res.cursor, logger });
    expect(rest.signals.map(s => s.sourceId)).toEqual([alert(3).id]);
    expect(rest.hasMore).toBe(false);
    expect(rest.cursor).toBe('2026-01-01T00:10:03.123Z');
  });

  it('refreshes the token on 401 and when it expires', async () => {
    mde = await startDefender([alert(1)]);
    const src = source({ machines: false });
    expect(await tokenCountsOverLifecycle(() => src.fetch({ cursor: null, logger }), mde.issuer, clock, 3600_000)).toEqual([1, 2, 3]);
  });

  it('honours Retry-After on 429 and recovers from a 503', async () => {
    mde = await startDefender([alert(1)]);
    const src = source({ machines: false });
    mde.faults.push({ status: 429, headers: { 'retry-after': '4' }, json: { error: { code: 'TooManyRequests', message: 'Rate limit is exceeded' } } });
    mde.faults.push({ status: 503, json: { error: { code: 'ServiceUnavailable', message: 'try later' } } });
    expect((await src.fetch({ cursor: null, logger })).signals).toHaveLength(1);
    expect(clock.sleeps[0]).toBe(4000);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('surfaces the {error:{code,message}} of a failure with the source and status', async () => {
    mde = await startDefender([alert(1)]);
    mde.faults.push({ status: 403, json: { error: { code: 'Forbidden', message: 'Missing application roles: Alert.Read.All' } } });
    const err = await sourceError(source().fetch({ cursor: null, logger }));
    expect(err.message).toBe('Source defender: HTTP 403: GET /api/alerts failed: Forbidden: Missing application roles: Alert.Read.All');
    expect(err.status).toBe(403);
  });

  it('fails on a permanent 500 and on malformed JSON', async () => {
    mde = await startDefender([alert(1)]);
    for (let i = 0; i < 4; i++) mde.faults.push({ status: 500, json: { error: { code: 'InternalError', message: 'boom' } } });
    await expect(source().fetch({ cursor: null, logger })).rejects.toThrow('Source defender: HTTP 500: GET /api/alerts failed after 4 attempts: InternalError: boom');
    mde.faults.push({ body: '<html>gateway</html>' });
    await expect(source().fetch({ cursor: null, logger })).rejects.toThrow('Source defender: HTTP 200: malformed JSON in response to GET /api/alerts');
  });

  it('skips and counts a garbage record', async () => {
    mde = await startDefender([alert(1), alert(2, { severity: 'Apocalyptic' }), alert(3, { lastUpdateTime: undefined })]);
    const res = await source({ machines: false }).fetch({ cursor: null, logger });
    expect(res.rejected).toBe(2);
    expect(res.signals.map(s => s.sourceId)).toEqual([alert(1).id]);
    expect(res.cursor).toBe('2026-01-01T00:10:02.123Z');
  });
});

describe('Defender paging edges', () => {
  let mde: FakeDefender;
  afterEach(() => mde?.server.close());
  const many = (n: number) =>
    Array.from({ length: n }, (_, i) => alert(1, { id: `a${i}`, lastUpdateTime: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000).toISOString() }));
  const fake = (alerts: Array<Record<string, unknown>>, extra: { pageCap?: number; nextLink?: boolean } = {}) =>
    startFakeDefender({ tenantId: 'tenant-1', clientId: 'app-id', clientSecret: 'mde-secret', alerts, ...extra });
  const source = (extra: Partial<ConstructorParameters<typeof DefenderSignalSource>[0]> = {}) =>
    new DefenderSignalSource({
      tenantId: 'tenant-1', clientId: 'app-id', clientSecret: 'mde-secret', apiUrl: mde.server.url, loginUrl: mde.server.url,
      machines: false, clock: fakeClock(), random: () => 0.5, ...extra,
    });
  /** Fetches like the ingestion runner: again while hasMore, from the returned cursor. */
  const sync = (src: DefenderSignalSource, cursor: string | null = null) => syncSignals(src, logger, cursor);

  it('a server capping pages at 25 with @odata.nextLink loses no alert', async () => {
    mde = await fake(many(130), { pageCap: 25, nextLink: true });
    const res = await sync(source({ pageSize: 100 }));
    expect(res.ids).toEqual(many(130).map(a => a.id));
    const calls = mde.server.calls('GET /api/alerts');
    // the first page by $filter/$top, then the links (which carry the same bounded filter)
    expect(calls.map(c => c.query.get('$skip'))).toEqual(['0', '25', '50', '75', '100', '125']);
    expect(calls.every(c => /^lastUpdateTime lt /.test(c.query.get('$filter') ?? ''))).toBe(true);
    expect(res.cursor).toBe('2026-01-01T00:02:09.000Z');
  });

  it('a server capping pages without @odata.nextLink is read by $skip until an empty page', async () => {
    mde = await fake(many(130), { pageCap: 25 });
    const res = await sync(source({ pageSize: 100 }));
    expect(res.ids).toEqual(many(130).map(a => a.id));
    expect(mde.server.calls('GET /api/alerts').map(c => c.query.get('$skip'))).toEqual(['0', '25', '50', '75', '100', '125', '130']);
  });

  it('a first sync of a large tenant finishes across several batches, each resuming where the last stopped', async () => {
    mde = await fake(many(130), { pageCap: 25, nextLink: true });
    const res = await sync(source({ pageSize: 25, maxPages: 2 }));
    expect(res.ids).toEqual(many(130).map(a => a.id));
    expect(res.batches).toBe(3);
    // never restarted: every page was asked for once
    expect(mde.server.calls('GET /api/alerts').map(c => c.query.get('$skip'))).toEqual(['0', '25', '50', '75', '100', '125']);
  });

  it('an error mid-walk: the next run resumes from the last committed cursor and finishes', async () => {
    mde = await fake(many(100), { pageCap: 10 });
    const src = source({ pageSize: 10, maxPages: 3, clock: fakeClock() });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.hasMore).toBe(true);
    for (let i = 0; i < 4; i++) mde.faults.push({ status: 500, json: { error: { code: 'InternalError', message: 'boom' } } });
    await expect(src.fetch({ cursor: first.cursor, logger })).rejects.toThrow(/HTTP 500/);
    const rest = await sync(src, first.cursor);
    expect([...first.signals.map(s => s.sourceId), ...rest.ids]).toEqual(many(100).map(a => a.id));
    expect(mde.server.calls('GET /api/alerts').slice(-1)[0].query.get('$skip')).toBe('100');
  });

  it('bounds each walk: an alert updated during it is read by the next walk', async () => {
    const alerts = many(30);
    mde = await fake(alerts, { pageCap: 10 });
    const src = source({ pageSize: 10, maxPages: 1, now: () => Date.parse('2026-06-01T00:00:00Z') });
    const first = await src.fetch({ cursor: null, logger });
    alerts[25] = { ...alerts[25], lastUpdateTime: '2026-06-01T00:00:01Z', status: 'Resolved' };
    const rest = await sync(src, first.cursor);
    expect(rest.ids).not.toContain('a25');
    const later = await sync(source({ now: () => Date.parse('2026-06-02T00:00:00Z') }), rest.cursor);
    expect(later.ids).toContain('a25');
  });

  it('re-serialises cursor timestamps from odd vendor spellings before they go into $filter', async () => {
    mde = await fake([alert(1, { lastUpdateTime: '2026-01-01T01:10:01.1234567+01:00' })]);
    const res = await source().fetch({ cursor: '2025-12-31 23:00:00Z', logger });
    expect(mde.server.calls('GET /api/alerts')[0].query.get('$filter')).toMatch(/^lastUpdateTime ge 2025-12-31T23:00:00\.000Z and lastUpdateTime lt /);
    expect(res.cursor).toBe('2026-01-01T00:10:01.123Z');
    await expect(source().fetch({ cursor: "2026-01-01T00:00:00Z or id ne ''", logger })).rejects.toThrow(/unreadable cursor/);
  });

  it('does not follow an @odata.nextLink to another origin', async () => {
    mde = await fake([alert(1)]);
    mde.faults.push({ json: { value: [alert(1)], '@odata.nextLink': 'https://attacker.example/api/alerts?$skip=1' } });
    await expect(source().fetch({ cursor: null, logger })).rejects.toThrow(/nextLink points to https:\/\/attacker\.example/);
  });
});

describe('Defender mapping', () => {
  const map = (o: Record<string, unknown>) => defenderSignal(alert(1, o), new Map());
  it('maps severity', () => {
    expect(['Informational', 'Low', 'Medium', 'High', 'UnSpecified'].map(severity => map({ severity }).severity)).toEqual([
      'informational', 'low', 'medium', 'high', 'informational',
    ]);
    expect(() => map({ severity: 'Severe' })).toThrow(/severity/);
  });
  it('maps status and classification', () => {
    expect(['New', 'InProgress', 'Resolved'].map(status => map({ status }).status)).toEqual(['active', 'active', 'resolved']);
    expect(map({ status: 'Resolved', classification: 'FalsePositive' }).status).toBe('false_positive');
    expect(map({ status: 'New', classification: 'TruePositive' }).status).toBe('active');
  });
});

describe('Defender config and module', () => {
  const block = { tenantId: 't', clientId: 'c', clientSecret: 's' };
  const read = (defender: JsonObject) => readDefenderConfig(new ConfigReader({ runtimeRisk: { sources: { defender } } }));

  it('defaults the API and login URLs', () => {
    expect(read(block)).toMatchObject({ apiUrl: 'https://api.securitycenter.microsoft.com', loginUrl: 'https://login.microsoftonline.com' });
    expect(read({ ...block, apiUrl: 'https://api-gcc.securitycenter.microsoft.us/' })?.apiUrl).toBe('https://api-gcc.securitycenter.microsoft.us');
  });

  it('fails naming the key', () => {
    expect(() => read({ clientId: 'c', clientSecret: 's' })).toThrow(/runtimeRisk\.sources\.defender\.tenantId/);
    expect(() => read({ ...block, loginUrl: 'not a url' })).toThrow("'runtimeRisk.sources.defender.loginUrl'");
  });

  it('registers its source through the extension point, and stays idle without config', async () => {
    const sources = await registeredSources(defenderModule, { runtimeRisk: { sources: { defender: block } } }, startTestBackend);
    expect(sources.map(s => [s.id, s.type])).toEqual([['defender', 'defender']]);
    expect(await registeredSources(defenderModule, { runtimeRisk: { sources: {} } }, startTestBackend)).toEqual([]);
  });
});
