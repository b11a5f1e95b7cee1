import { mockServices } from '@backstage/backend-test-utils';
import { fakeClock, fakeSha256 } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { sentinelOneThreat, startFakeSentinelOne, type FakeSentinelOne } from './testUtils';
import { SentinelOneSignalSource } from './SentinelOneSignalSource';

/** Issue 15 part 5: SentinelOne threatInfo file and process fields become the signal's indicators. */
const logger = mockServices.logger.mock();
const SHA = 'ef'.repeat(32);

describe('SentinelOne indicators', () => {
  let s1: FakeSentinelOne | undefined;
  afterEach(async () => {
    await s1?.server.close();
    s1 = undefined;
  });

  it('maps threatInfo sha256, filePath, originatorProcess and maliciousProcessArguments', async () => {
    s1 = await startFakeSentinelOne({
      apiToken: 'tok',
      threats: [
        sentinelOneThreat({
          hostname: 'web-01',
          id: '101',
          at: '2026-01-01T00:00:00Z',
          indicators: { sha256: SHA, filePath: '\\Device\\HarddiskVolume2\\Temp\\dropper.exe', processName: 'cmd.exe', commandLine: '/c dropper.exe --install' },
        }),
        sentinelOneThreat({ hostname: 'web-01', id: '102', at: '2026-01-01T00:01:00Z' }),
        // a threat without a hash (sha1 only), as older agents report
        { ...sentinelOneThreat({ hostname: 'web-01', id: '103', at: '2026-01-01T00:02:00Z' }), threatInfo: {
          ...(sentinelOneThreat({ hostname: 'web-01', id: '103', at: '2026-01-01T00:02:00Z' }).threatInfo as object),
          sha256: null, sha1: '654477f623a09fda1b04fcba854734fb20a30e11', filePath: null, originatorProcess: null, maliciousProcessArguments: null,
        } },
      ],
    });
    const source = new SentinelOneSignalSource({ baseUrl: s1.server.url, apiToken: 'tok', agents: false, clock: fakeClock(), random: () => 0.5 });
    const res = await source.fetch({ cursor: null, logger });
    expect(res.rejected).toBe(0);
    const byId = new Map(res.signals.map(s => [s.sourceId, s]));
    expect(byId.get('101')?.indicators).toEqual({
      sha256: SHA,
      filePath: '\\Device\\HarddiskVolume2\\Temp\\dropper.exe',
      processName: 'cmd.exe',
      commandLine: '/c dropper.exe --install',
    });
    expect(byId.get('102')?.indicators).toMatchObject({ sha256: fakeSha256('sentinelone:102'), processName: 'explorer.exe' });
    expect(byId.get('103')?.indicators).toBeUndefined();
  });
});
