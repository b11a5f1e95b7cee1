import { mockServices } from '@backstage/backend-test-utils';
import { fakeClock, walkHostInventory } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { startFakeDefender, type FakeDefender } from './testUtils';
import { DefenderSignalSource } from './DefenderSignalSource';

const logger = mockServices.logger.mock();

const machines = Array.from({ length: 60 }, (_, i) => ({
  id: `m${String(i).padStart(2, '0')}`,
  computerDnsName: `host-${i}.corp.example.com`,
  lastIpAddress: `10.0.2.${i}`,
  lastSeen: '2026-12-03T09:00:00Z',
  ipAddresses: [{ ipAddress: `10.0.2.${i}`, macAddress: '0242AC1100' + String(i).padStart(2, '0'), type: 'Ethernet' }],
  vmMetadata: i === 0 ? { vmId: 'vm-0', cloudProvider: 'Azure', subscriptionId: 'sub-1' } : null,
}));

describe('Defender host inventory against a fake Defender API', () => {
  let mde: FakeDefender;
  let clock: ReturnType<typeof fakeClock>;
  afterEach(() => mde?.server.close());

  async function start(extra: Partial<Parameters<typeof startFakeDefender>[0]> = {}) {
    mde = await startFakeDefender({ tenantId: 'tenant-1', clientId: 'app-id', clientSecret: 'mde-secret', machines, ...extra });
  }
  function source(extra: Partial<ConstructorParameters<typeof DefenderSignalSource>[0]> = {}) {
    clock = fakeClock();
    return new DefenderSignalSource({
      tenantId: 'tenant-1',
      clientId: 'app-id',
      clientSecret: 'mde-secret',
      apiUrl: mde.server.url,
      loginUrl: mde.server.url,
      clock,
      random: () => 0.5,
      ...extra,
    });
  }
  const listAll = (src: DefenderSignalSource) => walkHostInventory(src, logger);

  it('follows @odata.nextLink on pages capped at 25, with the <apiUrl>/.default token', async () => {
    await start({ pageCap: 25, nextLink: true });
    const { hosts } = await listAll(source({ pageSize: 100 }));
    expect(hosts.map(h => h.sourceId)).toEqual(machines.map(m => m.id));
    expect(mde.server.calls('GET /api/machines').map(r => r.query.get('$skip'))).toEqual(['0', '25', '50']);
    expect(mde.issuer.forms[0].get('scope')).toBe(`${mde.server.url}/.default`);
    expect(hosts[0]).toEqual({
      sourceId: 'm00',
      lastSeenAt: '2026-12-03T09:00:00.000Z',
      asset: expect.objectContaining({
        deviceId: 'm00',
        hostname: 'host-0',
        fqdn: 'host-0.corp.example.com',
        ips: ['10.0.2.0'],
        macs: ['02:42:ac:11:00:00'],
        instanceId: 'vm-0',
      }),
    });
  });

  it('without a nextLink, pages with $skip until an empty page, never ending at a short one', async () => {
    await start({ pageCap: 25 });
    const { hosts } = await listAll(source({ pageSize: 100 }));
    expect(hosts).toHaveLength(60);
    expect(mde.server.calls('GET /api/machines').map(r => r.query.get('$skip'))).toEqual(['0', '25', '50', '60']);
  });

  it('a walk cut by maxPages resumes from its cursor', async () => {
    await start({ pageCap: 25, nextLink: true });
    const src = source({ pageSize: 25, hostInventory: { maxPages: 1 } });
    const { hosts, calls } = await listAll(src);
    expect(calls).toBe(3);
    expect(new Set(hosts.map(h => h.sourceId)).size).toBe(60);
  });

  it('a 404 is "no recent machines": an empty inventory, not an error', async () => {
    await start({ machines: [] });
    expect(await source().syncHosts!({ cursor: null, logger })).toEqual({ hosts: [], rejected: 0, cursor: null, hasMore: false });
  });

  it('honours Retry-After on 429, retries a 5xx, fails on a malformed body, skips a bad machine alone', async () => {
    await start({ machines: [machines[0], { id: 42 }, machines[1]] });
    const src = source();
    mde.faults.push({ status: 429, headers: { 'retry-after': '4' }, json: { error: { code: 'TooManyRequests', message: 'Rate limit is exceeded' } } });
    mde.faults.push({ status: 503, json: { error: { code: 'ServiceUnavailable', message: 'try later' } } });
    const res = await src.syncHosts!({ cursor: null, logger });
    expect(clock.sleeps[0]).toBe(4000);
    expect(res.rejected).toBe(1);
    expect(res.hosts.map(h => h.sourceId)).toEqual(['m00', 'm01']);
    mde.faults.push({ body: '{"value": [' });
    await expect(src.syncHosts!({ cursor: null, logger })).rejects.toThrow('malformed JSON in response to GET /api/machines');
    mde.faults.push({ json: { nothing: true } });
    await expect(src.syncHosts!({ cursor: null, logger })).rejects.toThrow('malformed machines page');
  });

  it('refuses a nextLink off the apiUrl origin (the token is never sent elsewhere)', async () => {
    await start();
    mde.faults.push({ json: { value: [machines[0]], '@odata.nextLink': 'https://evil.example.com/api/machines?$skip=1' } });
    await expect(source().syncHosts!({ cursor: null, logger })).rejects.toThrow('not to the configured apiUrl');
  });
});
