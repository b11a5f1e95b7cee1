import { mockServices } from '@backstage/backend-test-utils';
import { fakeClock, fakeSha256 } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { falconAlert, startFakeFalcon, type FakeFalcon } from './testUtils';
import { CrowdStrikeSignalSource, crowdStrikeSignal } from './CrowdStrikeSignalSource';

/** Issue 15 part 5: Falcon alerts' file and process fields become the signal's indicators. */
const logger = mockServices.logger.mock();
const SHA = 'AB'.repeat(32);

describe('CrowdStrike indicators', () => {
  let falcon: FakeFalcon | undefined;
  afterEach(async () => {
    await falcon?.server.close();
    falcon = undefined;
  });

  it('maps sha256, filepath, filename and cmdline of the alerts the fake serves', async () => {
    falcon = await startFakeFalcon({
      clientId: 'cid',
      clientSecret: 'falcon-secret',
      alerts: [
        falconAlert({
          hostname: 'web-01',
          id: 'a1',
          at: '2026-01-01T00:00:00Z',
          indicators: { sha256: SHA, filePath: '\\Device\\HarddiskVolume3\\Temp\\dropper.exe', processName: 'dropper.exe', commandLine: 'dropper.exe --install' },
        }),
        falconAlert({ hostname: 'web-01', id: 'a2', at: '2026-01-01T00:01:00Z' }),
      ],
    });
    const source = new CrowdStrikeSignalSource({
      baseUrl: falcon.server.url,
      clientId: 'cid',
      clientSecret: 'falcon-secret',
      inventory: false,
      clock: fakeClock(),
      random: () => 0.5,
    });
    const res = await source.fetch({ cursor: null, logger });
    expect(res.rejected).toBe(0);
    const byId = new Map(res.signals.map(s => [s.sourceId, s]));
    expect(byId.get('fake:ind:dev-web-01:a1')?.indicators).toEqual({
      sha256: SHA.toLowerCase(),
      filePath: '\\Device\\HarddiskVolume3\\Temp\\dropper.exe',
      processName: 'dropper.exe',
      commandLine: 'dropper.exe --install',
    });
    // the fake's defaults: the alert's own hash and command line
    expect(byId.get('fake:ind:dev-web-01:a2')?.indicators).toMatchObject({
      sha256: fakeSha256('falcon:a2'),
      processName: 'powershell.exe',
      commandLine: expect.stringContaining('powershell.exe -nop'),
    });
  });

  it('drops a malformed hash and leaves out indicators the alert does not have, never rejecting it', () => {
    const base = falconAlert({ hostname: 'web-01', id: 'a3', at: '2026-01-01T00:00:00Z' });
    const signal = crowdStrikeSignal({ ...base, sha256: 'not-a-hash', filepath: '', filename: null, cmdline: undefined }, new Map());
    expect(signal.indicators).toBeUndefined();
    const partial = crowdStrikeSignal({ ...base, sha256: null, filepath: null, filename: 'x.exe', cmdline: null }, new Map());
    expect(partial.indicators).toEqual({ processName: 'x.exe' });
  });
});
