import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices } from '@backstage/backend-test-utils';
import { FileSignalSource, parseSignalFile } from './FileSignalSource';

const logger = mockServices.logger.mock();
const NOW = new Date('2026-12-03T12:00:00.000Z');

function tmpFile(name: string, content: string) {
  const p = join(mkdtempSync(join(tmpdir(), 'rr-file-hosts-')), name);
  writeFileSync(p, content);
  return p;
}

const signal = {
  sourceId: 'a',
  severity: 'high',
  title: 'x',
  asset: { hostname: 'web-01' },
  firstSeenAt: '2026-12-03T10:00:00Z',
  lastSeenAt: '2026-12-03T11:00:00Z',
};
const pod = {
  sourceId: 'pod-search',
  asset: { hostname: 'search-1', k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'search-1', node: 'node-b', labels: { app: 'search' } } },
  lastSeenAt: 'now-5m',
};

describe('file source host records (vendor host inventory)', () => {
  it('reads hosts from a JSON file and from host lines of NDJSON, apart from the signals', () => {
    const json = parseSignalFile(JSON.stringify({ signals: [signal], hosts: [pod] }, null, 2));
    expect(json.records).toHaveLength(1);
    expect(json.hosts).toEqual([pod]);
    const ndjson = parseSignalFile([JSON.stringify(signal), JSON.stringify({ host: pod }), JSON.stringify({ hosts: [pod, pod] })].join('\n'));
    expect(ndjson.records).toEqual([signal]);
    expect(ndjson.hosts).toHaveLength(3);
  });

  it('lists them through syncHosts (relative lastSeenAt resolved, bad records rejected alone); fetch leaves them out', async () => {
    const path = tmpFile('s.ndjson', [JSON.stringify(signal), JSON.stringify({ host: pod }), JSON.stringify({ host: { asset: {} } })].join('\n'));
    const source = new FileSignalSource({ id: 'file', path, now: () => NOW, logger });
    const listed = await source.syncHosts({ cursor: null, logger });
    expect(listed).toEqual({
      hosts: [{ sourceId: 'pod-search', asset: pod.asset, lastSeenAt: '2026-12-03T11:55:00.000Z' }],
      cursor: null,
      rejected: 1,
    });
    const fetched = await source.fetch({ cursor: null, logger });
    expect(fetched.signals).toHaveLength(1);
    expect(source.inventorySchedule.frequency).toEqual({ minutes: 15 });
  });
});
