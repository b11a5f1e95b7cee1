import { chunk, collectCursorPages, collectOffsetPages } from './pagination';
import { latestTimestamp, mergeAssets, normalizeRecords, parseLabels, resumeCursor, severityFromScore } from './records';

describe('pagination helpers', () => {
  const data = Array.from({ length: 25 }, (_, i) => i);

  it('walks offset pages until a short page', async () => {
    const offsets: number[] = [];
    const res = await collectOffsetPages({
      pageSize: 10,
      fetchPage: async (offset, limit) => {
        offsets.push(offset);
        return { items: data.slice(offset, offset + limit) };
      },
    });
    expect(res).toEqual({ items: data, complete: true });
    expect(offsets).toEqual([0, 10, 20]);
  });

  it('stops at the total and reports incomplete at maxPages', async () => {
    const fetchPage = async (offset: number, limit: number) => ({ items: data.slice(offset, offset + limit), total: 20 });
    expect(await collectOffsetPages({ pageSize: 10, fetchPage })).toEqual({ items: data.slice(0, 20), complete: true });
    const partial = await collectOffsetPages({ pageSize: 5, maxPages: 2, fetchPage });
    expect(partial).toEqual({ items: data.slice(0, 10), complete: false });
  });

  it('walks cursor pages and returns the cursor to continue from', async () => {
    const pages: Record<string, { items: number[]; nextCursor?: string }> = {
      start: { items: [1, 2], nextCursor: 'b' },
      b: { items: [3], nextCursor: 'c' },
      c: { items: [4] },
    };
    const seen: Array<string | undefined> = [];
    const fetchPage = async (cursor: string | undefined) => {
      seen.push(cursor);
      return pages[cursor ?? 'start'];
    };
    expect(await collectCursorPages({ fetchPage })).toEqual({ items: [1, 2, 3, 4], complete: true });
    expect(seen).toEqual([undefined, 'b', 'c']);
    expect(await collectCursorPages({ fetchPage, maxPages: 2 })).toEqual({ items: [1, 2, 3], complete: false, nextCursor: 'c' });
  });

  it('chunks lists', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('record helpers', () => {
  it('maps records, skips and counts the bad ones', () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) } as unknown as Parameters<typeof normalizeRecords>[2]['logger'];
    const records = [{ id: 'a', sev: 'high' }, { id: 'b', sev: 'bogus' }, { id: 'c', sev: 'low' }];
    const res = normalizeRecords(
      records,
      r => ({
        sourceId: r.id,
        severity: r.sev as 'high',
        title: `t ${r.id}`,
        asset: { hostname: 'Web-01.Prod.Example.com', macs: ['02-42-AC-11-00-02'], ips: [] },
        firstSeenAt: '2026-01-01T00:00:00Z',
        lastSeenAt: '2026-01-01T00:00:00Z',
      }),
      { sourceId: 'acme', logger, idOf: r => r.id },
    );
    expect(res.rejected).toBe(1);
    expect(res.signals.map(s => s.sourceId)).toEqual(['a', 'c']);
    expect(res.signals[0].asset).toMatchObject({ hostname: 'web-01', fqdn: 'web-01.prod.example.com', macs: ['02:42:ac:11:00:02'] });
    expect(warnings).toEqual([expect.stringMatching(/^Source acme: skipped record b: severity: /)]);
  });

  it('keeps the latest timestamp in vendor spelling', () => {
    expect(latestTimestamp(null, ['2026-01-02T00:00:00Z', undefined, '2026-01-01T00:00:00Z'])).toBe('2026-01-02T00:00:00Z');
    expect(latestTimestamp('2026-02-01T00:00:00.000Z', ['2026-01-02T00:00:00Z'])).toBe('2026-02-01T00:00:00.000Z');
  });

  it('maps 1-100 scores to severities', () => {
    expect([95, 90, 89, 70, 69, 50, 49, 20, 19, 1].map(severityFromScore)).toEqual([
      'critical', 'critical', 'high', 'high', 'medium', 'medium', 'low', 'low', 'informational', 'informational',
    ]);
  });

  it('parses pod labels in every vendor form', () => {
    expect(parseLabels(['app:web', 'app.kubernetes.io/name:web:v2', 'tier=frontend'])).toEqual({
      app: 'web',
      'app.kubernetes.io/name': 'web:v2',
      tier: 'frontend',
    });
    expect(parseLabels({ app: 'web' })).toEqual({ app: 'web' });
    expect(parseLabels([{ key: 'app', value: 'web' }])).toEqual({ app: 'web' });
    expect(parseLabels('app=web,team=core')).toEqual({ app: 'web', team: 'core' });
    expect(parseLabels(undefined)).toBeUndefined();
    expect(parseLabels(['nolabel'])).toBeUndefined();
  });

  it('merges inventory into an alert asset, alert values first', () => {
    expect(
      mergeAssets(
        { hostname: 'a', ips: ['10.0.0.1'], macs: [], k8s: { pod: 'p1', namespace: undefined } },
        { hostname: 'b', instanceId: 'i-1', ips: ['10.0.0.2'], macs: ['aa:bb:cc:dd:ee:ff'], k8s: { namespace: 'ns', pod: 'p0' } },
      ),
    ).toEqual({ hostname: 'a', instanceId: 'i-1', ips: ['10.0.0.1', '10.0.0.2'], macs: ['aa:bb:cc:dd:ee:ff'], k8s: { pod: 'p1', namespace: 'ns' } });
  });
});

describe('resumeCursor', () => {
  it('advances to the newest timestamp when the batch is complete', () => {
    expect(resumeCursor(null, ['2026-01-01T00:00:01Z', '2026-01-01T00:00:03Z'], true)).toBe('2026-01-01T00:00:03Z');
  });
  it('stays before the newest timestamp when the batch was cut short', () => {
    expect(resumeCursor(null, ['2026-01-01T00:00:01Z', '2026-01-01T00:00:03Z', '2026-01-01T00:00:03Z'], false)).toBe('2026-01-01T00:00:01Z');
    expect(resumeCursor('2026-01-01T00:00:00Z', ['2026-01-01T00:00:05Z'], false)).toBe('2026-01-01T00:00:05Z');
  });
});
