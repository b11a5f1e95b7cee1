import { chunk, collectCursorPages, collectOffsetPages, formatTimeWindowCursor, isoTimestamp, parseTimeWindowCursor, walkTimeWindow } from './pagination';
import { latestTimestamp, mergeAssets, normalizeRecords, parseLabels, resumeCursor, severityFromScore } from './records';

describe('pagination helpers', () => {
  const data = Array.from({ length: 25 }, (_, i) => i);

  it('walks offset pages until an empty page, never stopping at a short one', async () => {
    const offsets: number[] = [];
    const res = await collectOffsetPages({
      pageSize: 10,
      fetchPage: async (offset, limit) => {
        offsets.push(offset);
        return { items: data.slice(offset, offset + limit) };
      },
    });
    expect(res).toEqual({ items: data, complete: true });
    // the short page at 20 is not taken as the last one: the empty page at 25 is
    expect(offsets).toEqual([0, 10, 20, 25]);
  });

  it('goes on past pages a server capped below the limit asked for', async () => {
    const res = await collectOffsetPages({ pageSize: 10, fetchPage: async offset => ({ items: data.slice(offset, offset + 3) }) });
    expect(res).toEqual({ items: data, complete: true });
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

describe('time-window walks (paging edges)', () => {
  type Row = { id: number; at: string };
  const NOW = Date.parse('2026-01-02T00:00:00Z');
  const rows = (n: number, at = (i: number) => `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`): Row[] =>
    Array.from({ length: n }, (_, i) => ({ id: i, at: at(i) }));
  const inWindow = (all: Row[], since: string | null, until: string) =>
    all.filter(r => (!since || Date.parse(r.at) >= Date.parse(since)) && Date.parse(r.at) < Date.parse(until));
  /** An offset API: capped pages, optional next links, never saying "last page" by a short page. */
  const offsetApi = (all: Row[], o: { cap: number; links: boolean }) => async (p: { since: string | null; until: string; offset: number; next?: string }) => {
    const start = p.next ? Number(p.next) : p.offset;
    const matching = inWindow(all, p.since, p.until);
    const items = matching.slice(start, start + o.cap);
    return { items, next: o.links && start + items.length < matching.length ? String(start + items.length) : undefined };
  };
  const walk = (cursor: string | null, fetchPage: Parameters<typeof walkTimeWindow<Row>>[0]['fetchPage'], maxPages = 100, end: 'continuation' | 'empty-page' = 'empty-page') =>
    walkTimeWindow<Row>({ cursor, maxPages, end, now: () => NOW, timestampOf: r => r.at, fetchPage });

  it.each([
    ['capped pages with next links', { cap: 25, links: true }],
    ['capped pages without next links (offset until an empty page)', { cap: 25, links: false }],
    ['pages of 1', { cap: 1, links: false }],
  ])('%s lose nothing', async (_name, o) => {
    const all = rows(130);
    const res = await walk(null, offsetApi(all, o), 1000);
    expect(res.items.map(r => r.id)).toEqual(all.map(r => r.id));
    expect(res.hasMore).toBe(false);
    expect(res.cursor).toBe('2026-01-01T00:00:59.000Z');
  });

  it('a walk cut short by maxPages resumes from its offset and finishes, never restarting', async () => {
    const all = rows(130);
    const fetchPage = offsetApi(all, { cap: 25, links: false });
    const seen: number[] = [];
    let cursor: string | null = null;
    let calls = 0;
    for (;;) {
      const res = await walk(cursor, fetchPage, 2);
      calls++;
      seen.push(...res.items.map(r => r.id));
      cursor = res.cursor;
      if (!res.hasMore) break;
      expect(parseTimeWindowCursor(cursor).walk).toMatchObject({ since: null, until: new Date(NOW).toISOString(), offset: seen.length });
    }
    expect(seen).toEqual(all.map(r => r.id));
    expect(calls).toBe(4); // 6 pages of rows and the empty page, 2 pages a call
    expect(cursor).toBe('2026-01-01T00:00:59.000Z');
  });

  it('an error mid-walk loses only the failed call; the next run goes on from the last committed cursor', async () => {
    const all = rows(100);
    const ok = offsetApi(all, { cap: 10, links: true });
    const first = await walk(null, ok, 3);
    let pages = 0;
    const failing = async (p: Parameters<typeof ok>[0]) => {
      if (++pages === 2) throw new Error('HTTP 503');
      return ok(p);
    };
    await expect(walk(first.cursor, failing, 3)).rejects.toThrow('HTTP 503');
    const offsets: number[] = [];
    const rest = await walk(first.cursor, async p => (offsets.push(p.offset), ok(p)), 100);
    expect(offsets[0]).toBe(30);
    expect([...first.items, ...rest.items].map(r => r.id)).toEqual(all.map(r => r.id));
  });

  it('equal timestamps over more than one page and more than one call do not stall the walk', async () => {
    const all = rows(7, () => '2026-01-01T00:00:00Z');
    const api = offsetApi(all, { cap: 2, links: true });
    const seen: number[] = [];
    let cursor: string | null = '2026-01-01T00:00:00Z';
    for (let i = 0; i < 10; i++) {
      const res = await walk(cursor, api, 1, 'continuation');
      seen.push(...res.items.map(r => r.id));
      cursor = res.cursor;
      if (!res.hasMore) break;
    }
    expect(seen).toEqual(all.map(r => r.id));
    expect(cursor).toBe('2026-01-01T00:00:00.000Z');
  });

  it('bounds the walk: a row updated during it leaves the window and is read by the next walk', async () => {
    const all = rows(40);
    const api = offsetApi(all, { cap: 10, links: false });
    const first = await walk(null, api, 2);
    // row 30, not read yet, changes after the walk started: it moves past `until`, out of this window
    all[30] = { id: 30, at: '2026-01-02T00:00:05Z' };
    const rest = await walk(first.cursor, api, 100);
    expect(rest.until).toBe(first.until);
    expect(new Set([...first.items, ...rest.items].map(r => r.id)).size).toBe(39);
    const next = await walkTimeWindow<Row>({
      cursor: rest.cursor, maxPages: 10, end: 'empty-page', now: () => Date.parse('2026-01-03T00:00:00Z'), timestampOf: r => r.at, fetchPage: api,
    });
    expect(next.items.map(r => r.id)).toContain(30);
  });

  it('follows continuation tokens and ends where the vendor sends none', async () => {
    const pages: Record<string, { items: Row[]; next?: string }> = {
      start: { items: rows(2), next: 'b' },
      b: { items: [{ id: 9, at: '2026-01-01T00:00:09Z' }], next: 'c' },
      c: { items: [{ id: 10, at: '2026-01-01T00:00:10.1234567Z' }] },
    };
    const tokens: Array<string | undefined> = [];
    const res = await walk('2025-12-31T00:00:00Z', async p => (tokens.push(p.next), pages[p.next ?? 'start']), 10, 'continuation');
    expect(tokens).toEqual([undefined, 'b', 'c']);
    expect(res.cursor).toBe('2026-01-01T00:00:10.123Z');
  });

  it('falls back when a stored continuation has expired', async () => {
    const all = rows(6);
    const api = offsetApi(all, { cap: 2, links: true });
    const first = await walk(null, api, 1, 'continuation');
    const expired = new Error('HTTP 400: cursor expired');
    const res = await walkTimeWindow<Row>({
      cursor: first.cursor, maxPages: 10, end: 'continuation', now: () => NOW, timestampOf: r => r.at,
      fetchPage: async p => { if (p.next && p.next === parseTimeWindowCursor(first.cursor).walk?.next) throw expired; return api(p); },
      staleContinuation: { test: e => e === expired, resume: 'offset' },
    });
    expect([...first.items, ...res.items].map(r => r.id)).toEqual(all.map(r => r.id));
  });

  it('reads plain-timestamp cursors (earlier versions) and re-serialises every timestamp', () => {
    expect(parseTimeWindowCursor(null)).toEqual({ since: null });
    expect(parseTimeWindowCursor('2026-01-01T00:10:05.1234567Z')).toEqual({ since: '2026-01-01T00:10:05.123Z' });
    expect(parseTimeWindowCursor('2026-01-01T00:10:05+01:00')).toEqual({ since: '2025-12-31T23:10:05.000Z' });
    const json = formatTimeWindowCursor({ since: null, walk: { since: null, until: '2026-01-02T00:00:00.000Z', offset: 3, next: 'n', newest: '2026-01-01T00:00:00.000Z' } });
    expect(parseTimeWindowCursor(json)).toEqual({ since: null, walk: { since: null, until: '2026-01-02T00:00:00.000Z', offset: 3, next: 'n', newest: '2026-01-01T00:00:00.000Z' } });
    expect(() => parseTimeWindowCursor("2026-01-01T00:00:00Z' or 1=1")).toThrow(/unreadable cursor/);
    expect(() => parseTimeWindowCursor('{"v":9}')).toThrow(/unreadable cursor/);
    expect(isoTimestamp('2026-01-01 00:00:00Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(() => isoTimestamp('yesterday')).toThrow(/not a timestamp/);
  });
});
