import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import { FileSignalSource } from './FileSignalSource';

/** Issue 15 part 5: a signal file's records may carry indicators; they pass through to the backend's validation. */
describe('FileSignalSource indicators', () => {
  it('passes indicators through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rr-file-'));
    const path = join(dir, 'signals.ndjson');
    const indicators = { sha256: '1a'.repeat(32), filePath: 'C:\\Temp\\x.exe', processName: 'x.exe', commandLine: 'x.exe /run' };
    writeFileSync(
      path,
      `${JSON.stringify({ sourceId: 'a', severity: 'high', title: 't', asset: { hostname: 'web-01' }, firstSeenAt: 'now-1h', lastSeenAt: 'now', indicators })}\n`,
    );
    const src = new FileSignalSource({ id: 'file', path, now: () => new Date('2026-11-23T12:00:00Z') });
    const r = await src.fetch({ cursor: null, logger: mockServices.logger.mock() });
    expect(r.signals).toEqual([expect.objectContaining({ sourceId: 'a', indicators })]);
  });
});
