import { mockServices } from '@backstage/backend-test-utils';
import { fakeClock, sourceError, walkHostInventory } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { startFakeSentinelOne, type FakeSentinelOne } from './testUtils';
import { SentinelOneSignalSource } from './SentinelOneSignalSource';

const logger = mockServices.logger.mock();
const TOKEN = 's1-api-token';

const agents = Array.from({ length: 12 }, (_, i) => ({
  id: `agent-${i}`,
  siteId: i < 10 ? 'site-1' : 'site-2',
  computerName: `WIN-${i}`,
  domain: 'corp',
  externalIp: '198.51.100.7',
  lastActiveDate: '2026-12-03T08:00:00Z',
  networkInterfaces: [{ inet: [`10.0.3.${i}`], physical: '02:42:ac:11:00:07' }],
  cloudProviders: i === 0 ? { AWS: { awsInstanceId: 'i-0s1', awsRegion: 'eu-west-1' } } : undefined,
}));

describe('SentinelOne host inventory against a fake SentinelOne API', () => {
  let s1: FakeSentinelOne;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(() => s1?.server.close());

  async function start(extra: Partial<Parameters<typeof startFakeSentinelOne>[0]> = {}) {
    s1 = await startFakeSentinelOne({ apiToken: TOKEN, agents, ...extra });
  }
  function source(extra: Partial<ConstructorParameters<typeof SentinelOneSignalSource>[0]> = {}) {
    clock = fakeClock();
    return new SentinelOneSignalSource({ baseUrl: s1.server.url, apiToken: TOKEN, clock, random: () => 0.5, ...extra });
  }
  const listAll = (src: SentinelOneSignalSource) => walkHostInventory(src, logger);

  it('lists every agent following pagination.nextCursor on capped pages, with the ApiToken header', async () => {
    await start({ agentPageCap: 5 });
    const { hosts } = await listAll(source({ pageSize: 1000 }));
    expect(hosts.map(h => h.sourceId)).toEqual(agents.map(a => a.id));
    const calls = s1.server.calls('GET /web/api/v2.1/agents');
    expect(calls).toHaveLength(3);
    expect(calls[0].headers.authorization).toBe(`ApiToken ${TOKEN}`);
    expect(calls[0].query.get('limit')).toBe('1000');
    expect(calls[1].query.get('cursor')).toBeTruthy();
    expect(hosts[0]).toEqual({
      sourceId: 'agent-0',
      lastSeenAt: '2026-12-03T08:00:00.000Z',
      asset: expect.objectContaining({ deviceId: 'agent-0', hostname: 'win-0', ips: ['10.0.3.0', '198.51.100.7'], macs: ['02:42:ac:11:00:07'] }),
    });
  });

  it('keeps the API nextCursor in its own cursor when maxPages cuts the walk, and honours siteIds', async () => {
    await start();
    const src = source({ pageSize: 4, hostInventory: { maxPages: 1 }, siteIds: ['site-1'] });
    const { hosts, calls } = await listAll(src);
    expect(calls).toBe(3);
    expect(hosts).toHaveLength(10);
    expect(s1.server.calls('GET /web/api/v2.1/agents').every(r => r.query.get('siteIds') === 'site-1')).toBe(true);
  });

  it('waits for Retry-After on 429, retries a 5xx, names a permanent failure, fails on a malformed body', async () => {
    await start();
    const src = source();
    s1.faults.push({ status: 429, headers: { 'retry-after': '3' }, json: { errors: [{ code: 4290010, title: 'Too Many Requests' }] } });
    s1.faults.push({ status: 502, body: 'bad gateway' });
    expect((await listAll(src)).hosts).toHaveLength(12);
    expect(clock.sleeps[0]).toBe(3000);
    for (let i = 0; i < 4; i++) s1.faults.push({ status: 500, json: { errors: [{ code: 5000010, title: 'Server Error' }] } });
    const err = await sourceError(src.syncHosts!({ cursor: null, logger }));
    expect(err.message).toContain('HTTP 500: GET /web/api/v2.1/agents failed after 4 attempts');
    expect(err.message).not.toContain(TOKEN);
    s1.faults.push({ body: '{"data": [' });
    await expect(src.syncHosts!({ cursor: null, logger })).rejects.toThrow('malformed JSON');
    s1.faults.push({ json: { pagination: {} } });
    await expect(src.syncHosts!({ cursor: null, logger })).rejects.toThrow('malformed agents page');
  });

  it('skips an agent record that does not parse, keeping the others', async () => {
    await start({ agents: [agents[0], { id: 7, computerName: 'x' }, agents[1]] });
    const res = await source().syncHosts!({ cursor: null, logger });
    expect(res.rejected).toBe(1);
    expect(res.hosts.map(h => h.sourceId)).toEqual(['agent-0', 'agent-1']);
  });
});
