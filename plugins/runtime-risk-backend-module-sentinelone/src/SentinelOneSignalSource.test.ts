import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { fakeClock, registeredSources, sourceError, syncSignals } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { startFakeSentinelOne, type FakeSentinelOne } from './testUtils';
import { SentinelOneSignalSource, sentinelOneApiUrl, sentinelOneSignal } from './SentinelOneSignalSource';
import { readSentinelOneConfig } from './config';
import sentinelOneModule from './index';

const logger = mockServices.logger.mock();
const TOKEN = 's1-api-token-value';

function threat(n: number, overrides: Record<string, unknown> = {}, info: Record<string, unknown> = {}) {
  return {
    id: `13${n}`,
    threatInfo: {
      threatId: `13${n}`,
      threatName: `mimikatz-${n}.exe`,
      confidenceLevel: 'malicious',
      analystVerdict: 'undefined',
      incidentStatus: 'unresolved',
      classification: 'Malware',
      createdAt: `2026-01-01T00:00:0${n}.000000Z`,
      identifiedAt: `2026-01-01T00:00:0${n}.000000Z`,
      updatedAt: `2026-01-01T00:10:0${n}.000000Z`,
      ...info,
    },
    agentRealtimeInfo: {
      agentId: 'agent-1',
      agentComputerName: 'WEB-01',
      networkInterfaces: [{ name: 'eth0', inet: ['10.0.0.7'], inet6: ['fe80::7'], physical: '02:42:ac:11:00:07' }],
    },
    agentDetectionInfo: { agentIpV4: '10.0.0.7', externalIp: '198.51.100.7', cloudProviders: { AWS: { awsInstanceId: 'i-0777', awsRegion: 'eu-west-1' } } },
    kubernetesInfo: { cluster: 'prod-eu', namespace: 'shop', node: 'node-3', pod: 'web-abc', podLabels: ['app:web', 'tier=front'] },
    indicators: [{ category: 'Exploitation', tactics: [{ name: 'Credential Access', source: 'MITRE', techniques: [{ name: 'T1003', link: 'https://attack.mitre.org/techniques/T1003/' }] }] }],
    ...overrides,
  };
}

async function startS1(threats: Array<Record<string, unknown>>): Promise<FakeSentinelOne> {
  return startFakeSentinelOne({
    apiToken: TOKEN,
    threats,
    agents: [
      {
        id: 'agent-1',
        computerName: 'WEB-01',
        externalIp: '198.51.100.7',
        lastActiveDate: '2026-01-01T00:00:00Z',
        networkInterfaces: [{ inet: ['10.0.0.7'], physical: '02:42:ac:11:00:07' }, { inet: ['10.1.0.7'], physical: '02-42-AC-11-00-08' }],
      },
    ],
  });
}

describe('SentinelOneSignalSource against a fake SentinelOne API', () => {
  let s1: FakeSentinelOne;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(() => s1?.server.close());

  function source(extra: Partial<ConstructorParameters<typeof SentinelOneSignalSource>[0]> = {}) {
    clock = fakeClock();
    return new SentinelOneSignalSource({ baseUrl: s1.server.url, apiToken: TOKEN, clock, random: () => 0.5, ...extra });
  }

  it('normalizes threats with agent details', async () => {
    s1 = await startS1([threat(1), threat(2, { kubernetesInfo: null, indicators: undefined, agentDetectionInfo: undefined })]);
    const res = await source().fetch({ cursor: null, logger });
    expect(res.rejected).toBe(0);
    expect(res.signals[0]).toMatchObject({
      sourceId: '131',
      severity: 'high',
      confidence: 0.9,
      status: 'active',
      title: 'mimikatz-1.exe',
      tactics: ['Credential Access'],
      techniques: ['T1003'],
      firstSeenAt: '2026-01-01T00:00:01.000000Z',
      lastSeenAt: '2026-01-01T00:10:01.000000Z',
      url: `${s1.server.url}/incidents/threats/131/overview`,
      asset: {
        deviceId: 'agent-1',
        hostname: 'web-01',
        instanceId: 'i-0777',
        cloud: { provider: 'AWS' },
        ips: ['10.0.0.7', 'fe80::7', '198.51.100.7', '10.1.0.7'],
        macs: ['02:42:ac:11:00:07', '02:42:ac:11:00:08'],
        k8s: { cluster: 'prod-eu', namespace: 'shop', node: 'node-3', pod: 'web-abc', labels: { app: 'web', tier: 'front' } },
      },
    });
    expect(res.signals[1]).toMatchObject({ tactics: [], techniques: [], asset: { hostname: 'web-01' } });
    expect(res.signals[1].asset.k8s).toBeUndefined();
    expect(res.hosts).toEqual([expect.objectContaining({ sourceId: 'agent-1', lastSeenAt: '2026-01-01T00:00:00Z' })]);
    expect(s1.server.calls('GET /web/api/v2.1/agents')[0].query.get('ids')).toBe('agent-1');
    const q = s1.server.calls('GET /web/api/v2.1/threats')[0].query;
    expect([q.get('sortBy'), q.get('sortOrder'), q.has('updatedAt__gte')]).toEqual(['updatedAt', 'asc', false]);
  });

  it('follows pagination.nextCursor and syncs incrementally with updatedAt__gte', async () => {
    s1 = await startS1([1, 2, 3, 4, 5].map(n => threat(n)));
    const src = source({ pageSize: 2, agents: false });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.signals.map(s => s.sourceId)).toEqual(['131', '132', '133', '134', '135']);
    expect(s1.server.calls('GET /web/api/v2.1/threats').map(r => r.query.get('cursor'))).toEqual([null, '2', '4']);
    expect(first.cursor).toBe('2026-01-01T00:10:05.000Z');
    expect(first.hasMore).toBe(false);
    s1.threats.push(threat(6));
    const second = await src.fetch({ cursor: first.cursor, logger });
    expect(s1.server.calls('GET /web/api/v2.1/threats')[3].query.get('updatedAt__gte')).toBe('2026-01-01T00:10:05.000Z');
    expect(second.signals.map(s => s.sourceId)).toEqual(['135', '136']);
  });

  it('returns hasMore when maxPages stops the walk', async () => {
    s1 = await startS1([1, 2, 3].map(n => threat(n)));
    const res = await source({ pageSize: 1, maxPages: 2, agents: false }).fetch({ cursor: null, logger });
    expect(res.hasMore).toBe(true);
    // the walk goes on from the API's own nextCursor, kept with the window it belongs to
    expect(JSON.parse(res.cursor!)).toMatchObject({ since: null, next: '2', newest: '2026-01-01T00:10:02.000Z' });
  });

  it('honours Retry-After on 429 and retries a 500', async () => {
    s1 = await startS1([threat(1)]);
    const src = source({ agents: false });
    s1.faults.push({ status: 429, headers: { 'retry-after': '2' }, json: { errors: [{ code: 4290010, title: 'Too Many Requests' }] } });
    s1.faults.push({ status: 500, json: { errors: [{ code: 5000010, title: 'Server Error' }] } });
    expect((await src.fetch({ cursor: null, logger })).signals).toHaveLength(1);
    expect(clock.sleeps[0]).toBe(2000);
    expect(clock.sleeps).toHaveLength(2);
  });

  it('fails on a bad token without retrying and without leaking it', async () => {
    s1 = await startS1([threat(1)]);
    const err = await sourceError(source({ apiToken: 'wrong-token-123' }).fetch({ cursor: null, logger }));
    expect(err.message).toBe('Source sentinelone: HTTP 401: GET /web/api/v2.1/threats failed: 4010010: Authentication Failed');
    expect(err.message).not.toContain('wrong-token-123');
    expect(s1.server.requests).toHaveLength(1);
  });

  it('fails on a permanent 500 and on malformed JSON', async () => {
    s1 = await startS1([threat(1)]);
    for (let i = 0; i < 4; i++) s1.faults.push({ status: 502, body: 'Bad Gateway' });
    await expect(source().fetch({ cursor: null, logger })).rejects.toThrow('Source sentinelone: HTTP 502: GET /web/api/v2.1/threats failed after 4 attempts: Bad Gateway');
    s1.faults.push({ body: '{"data": [' });
    await expect(source().fetch({ cursor: null, logger })).rejects.toThrow('Source sentinelone: HTTP 200: malformed JSON');
  });

  it('skips and counts a garbage record', async () => {
    s1 = await startS1([threat(1), threat(2, {}, { updatedAt: '2026-01-01T00:10:02Z', identifiedAt: null, createdAt: null }), threat(3)]);
    const res = await source({ agents: false }).fetch({ cursor: null, logger });
    expect(res.rejected).toBe(1);
    expect(res.signals.map(s => s.sourceId)).toEqual(['131', '133']);
  });
});

describe('SentinelOne paging edges', () => {
  let s1: FakeSentinelOne;
  afterEach(() => s1?.server.close());
  const source = (extra: Partial<ConstructorParameters<typeof SentinelOneSignalSource>[0]> = {}) =>
    new SentinelOneSignalSource({ baseUrl: s1.server.url, apiToken: TOKEN, agents: false, clock: fakeClock(), random: () => 0.5, ...extra });
  const sync = (src: SentinelOneSignalSource, cursor: string | null = null) => syncSignals(src, logger, cursor);
  const same = (n: number) => Array.from({ length: n }, (_, i) => threat(1, { id: `t${i}` }, { updatedAt: '2026-01-01T00:10:00.000000Z' }));

  it('more than `limit` threats with one updatedAt, over several batches, do not stall the walk', async () => {
    s1 = await startS1(same(7));
    const res = await sync(source({ pageSize: 2, maxPages: 1 }), '2026-01-01T00:00:00Z');
    expect(res.ids).toEqual(same(7).map(t => t.id));
    expect(res.batches).toBe(4);
    const calls = s1.server.calls('GET /web/api/v2.1/threats');
    expect(calls.map(c => c.query.get('cursor'))).toEqual([null, '2', '4', '6']);
    // every page of the walk keeps its window
    expect(new Set(calls.map(c => `${c.query.get('updatedAt__gte')} ${c.query.get('updatedAt__lt')}`)).size).toBe(1);
    expect(res.cursor).toBe('2026-01-01T00:10:00.000Z');
  });

  it('an error mid-walk: the next run resumes from the committed nextCursor and finishes', async () => {
    s1 = await startS1([1, 2, 3, 4, 5, 6].map(n => threat(n)));
    const src = source({ pageSize: 2, maxPages: 1 });
    const first = await src.fetch({ cursor: null, logger });
    for (let i = 0; i < 4; i++) s1.faults.push({ status: 500, json: { errors: [{ code: 5000010, title: 'Server Error' }] } });
    await expect(src.fetch({ cursor: first.cursor, logger })).rejects.toThrow(/HTTP 500/);
    const rest = await sync(src, first.cursor);
    expect([...first.signals.map(s => s.sourceId), ...rest.ids]).toEqual(['131', '132', '133', '134', '135', '136']);
    expect(s1.server.calls('GET /web/api/v2.1/threats').slice(-2).map(c => c.query.get('cursor'))).toEqual(['2', '4']);
  });

  it('a nextCursor the API rejects goes on from the newest updatedAt read', async () => {
    s1 = await startS1([1, 2, 3, 4].map(n => threat(n)));
    const src = source({ pageSize: 2, maxPages: 1 });
    const first = await src.fetch({ cursor: null, logger });
    s1.faults.push({ status: 400, json: { errors: [{ code: 4000010, title: 'Validation Error', detail: 'cursor: invalid' }] } });
    const rest = await sync(src, first.cursor);
    expect(rest.ids).toEqual(['132', '133', '134']);
    expect(s1.server.calls('GET /web/api/v2.1/threats').slice(-2)[0].query.get('updatedAt__gte')).toBe('2026-01-01T00:10:02.000Z');
  });

  it('re-serialises the cursor and bounds each walk by its start', async () => {
    s1 = await startS1([threat(1)]);
    await source({ now: () => Date.parse('2026-03-01T12:00:00Z') }).fetch({ cursor: '2026-01-01T01:00:00.000000+01:00', logger });
    const q = s1.server.calls('GET /web/api/v2.1/threats')[0].query;
    expect([q.get('updatedAt__gte'), q.get('updatedAt__lt')]).toEqual(['2026-01-01T00:00:00.000Z', '2026-03-01T12:00:00.000Z']);
  });
});

describe('SentinelOne mapping', () => {
  const map = (info: Record<string, unknown>) => sentinelOneSignal(threat(1, {}, info), new Map());
  it('maps confidenceLevel to severity and confidence', () => {
    expect(['malicious', 'suspicious', 'n/a', null].map(confidenceLevel => {
      const s = map({ confidenceLevel });
      return [s.severity, s.confidence];
    })).toEqual([['high', 0.9], ['medium', 0.6], ['low', 0.3], ['low', 0.3]]);
  });
  it('maps incidentStatus and analystVerdict', () => {
    expect(map({ incidentStatus: 'resolved' }).status).toBe('resolved');
    expect(map({ incidentStatus: 'in_progress' }).status).toBe('active');
    expect(map({ incidentStatus: 'resolved', analystVerdict: 'false_positive' }).status).toBe('false_positive');
    expect(map({ analystVerdict: 'true_positive' }).status).toBe('active');
  });
  it('appends /web/api/v2.1 unless present', () => {
    expect(sentinelOneApiUrl('https://acme.sentinelone.net')).toBe('https://acme.sentinelone.net/web/api/v2.1');
    expect(sentinelOneApiUrl('https://acme.sentinelone.net/')).toBe('https://acme.sentinelone.net/web/api/v2.1');
    expect(sentinelOneApiUrl('https://acme.sentinelone.net/web/api/v2.1')).toBe('https://acme.sentinelone.net/web/api/v2.1');
  });
});

describe('SentinelOne config and module', () => {
  const read = (sentinelone: JsonObject) => readSentinelOneConfig(new ConfigReader({ runtimeRisk: { sources: { sentinelone } } }));
  it('fails naming the key', () => {
    expect(() => read({ baseUrl: 'https://acme.sentinelone.net' })).toThrow(/runtimeRisk\.sources\.sentinelone\.apiToken/);
    expect(() => read({ apiToken: 'x' })).toThrow(/runtimeRisk\.sources\.sentinelone\.baseUrl/);
    expect(read({ baseUrl: 'https://acme.sentinelone.net', apiToken: 'x', siteIds: ['1', '2'] })?.siteIds).toEqual(['1', '2']);
  });
  it('registers its source through the extension point, and stays idle without config', async () => {
    const sources = await registeredSources(sentinelOneModule, { runtimeRisk: { sources: { sentinelone: { baseUrl: 'https://acme.sentinelone.net', apiToken: 'x' } } } }, startTestBackend);
    expect(sources.map(s => [s.id, s.type, s.consoleUrl])).toEqual([
      ['sentinelone', 'sentinelone', 'https://acme.sentinelone.net/incidents/threats/{sourceId}/overview'],
    ]);
    expect(await registeredSources(sentinelOneModule, {}, startTestBackend)).toEqual([]);
  });
});
