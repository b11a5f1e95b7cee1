import { mockServices } from '@backstage/backend-test-utils';
import { fakeClock, fakeSha256 } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { defenderAlert, startFakeDefender, type FakeDefender } from './testUtils';
import { DefenderSignalSource, defenderIndicators } from './DefenderSignalSource';

/** Issue 15 part 5: Defender alert evidence (`$expand=evidence`) becomes the signal's indicators. */
const logger = mockServices.logger.mock();
const SHA = 'cd'.repeat(32);

describe('Defender indicators', () => {
  let mde: FakeDefender | undefined;
  afterEach(async () => {
    await mde?.server.close();
    mde = undefined;
  });

  it('asks for $expand=evidence and maps the File and Process entities, over capped pages', async () => {
    mde = await startFakeDefender({
      tenantId: 't',
      clientId: 'app',
      clientSecret: 'secret',
      pageCap: 1,
      nextLink: true,
      alerts: [
        defenderAlert({
          hostname: 'web-01.prod.example.com',
          id: 'da1',
          at: '2026-01-01T00:00:00Z',
          indicators: { sha256: SHA, filePath: 'C:\\Temp\\dropper.exe', processName: 'dropper.exe', commandLine: 'dropper.exe --install' },
        }),
        defenderAlert({ hostname: 'web-01.prod.example.com', id: 'da2', at: '2026-01-01T00:01:00Z' }),
      ],
    });
    const source = new DefenderSignalSource({
      tenantId: 't',
      clientId: 'app',
      clientSecret: 'secret',
      apiUrl: mde.server.url,
      loginUrl: mde.server.url,
      machines: false,
      clock: fakeClock(),
      random: () => 0.5,
    });
    const res = await source.fetch({ cursor: null, logger });
    expect(res.rejected).toBe(0);
    const byId = new Map(res.signals.map(s => [s.sourceId, s]));
    expect(byId.get('da1')?.indicators).toEqual({
      sha256: SHA,
      filePath: 'C:\\Temp\\dropper.exe',
      processName: 'dropper.exe',
      commandLine: 'dropper.exe --install',
    });
    expect(byId.get('da2')?.indicators).toMatchObject({ sha256: fakeSha256('defender:da2'), processName: 'powershell.exe' });
    // the evidence came from the API because it was asked for (the fake leaves it out otherwise)
    expect(mde.server.requests.filter(r => r.path === '/api/alerts').every(r => r.query.get('$expand') === 'evidence')).toBe(true);
  });

  it.each([
    ['no evidence', undefined, undefined],
    ['a user only', [{ entityType: 'User' }], undefined],
    [
      'a process with its own file',
      [{ entityType: 'Process', sha256: SHA, fileName: 'x.exe', filePath: 'C:\\bin', processCommandLine: 'x.exe -a' }],
      { sha256: SHA, filePath: 'C:\\bin\\x.exe', processName: 'x.exe', commandLine: 'x.exe -a' },
    ],
    ['a malformed hash', [{ entityType: 'File', sha256: 'zz', fileName: 'y.dll', filePath: '/opt' }], { filePath: '/opt/y.dll' }],
  ])('%s', (_name, evidence, expected) => {
    expect(defenderIndicators(evidence)).toEqual(expected);
  });
});
