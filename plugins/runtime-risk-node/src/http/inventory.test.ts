import { ConfigReader } from '@backstage/config';
import { formatInventoryCursor, normalizeHosts, parseInventoryCursor, walkInventory } from './inventory';
import { readCommonPullSourceOptions } from './config';

describe('host inventory walks', () => {
  const data = Array.from({ length: 25 }, (_, i) => i);
  const now = () => Date.parse('2026-12-03T12:00:00Z');

  it('pages by offset until an empty page, never ending at a short (capped) page', async () => {
    const offsets: number[] = [];
    const res = await walkInventory({
      cursor: null,
      maxPages: 100,
      end: 'empty-page',
      now,
      fetchPage: async ({ offset }) => {
        offsets.push(offset);
        return { items: data.slice(offset, offset + 7) };
      },
    });
    expect(res).toEqual({ items: data, cursor: null, hasMore: false });
    expect(offsets).toEqual([0, 7, 14, 21, 25]);
  });

  it('follows the continuation while present, and a page reached through one without one is the last', async () => {
    const pages: Record<string, { items: number[]; next?: string }> = {
      '': { items: [1, 2], next: 'b' },
      b: { items: [3], next: 'c' },
      c: { items: [4] },
    };
    const res = await walkInventory({ cursor: null, maxPages: 10, end: 'empty-page', now, fetchPage: async p => pages[p.next ?? ''] });
    expect(res.items).toEqual([1, 2, 3, 4]);
    expect(res.hasMore).toBe(false);
  });

  it('a walk cut by maxPages resumes from its cursor, never restarts', async () => {
    const fetchPage = async ({ offset }: { offset: number }) => ({ items: data.slice(offset, offset + 10) });
    const first = await walkInventory({ cursor: null, maxPages: 2, end: 'empty-page', now, fetchPage });
    expect(first.items).toEqual(data.slice(0, 20));
    expect(first.hasMore).toBe(true);
    expect(parseInventoryCursor(first.cursor)).toEqual({ startedAt: '2026-12-03T12:00:00.000Z', offset: 20 });
    const rest = await walkInventory({ cursor: first.cursor, maxPages: 2, end: 'empty-page', now, fetchPage });
    expect(rest).toEqual({ items: data.slice(20), cursor: null, hasMore: false });
    // a cursor-paged walk keeps the vendor's continuation
    const cut = await walkInventory({ cursor: null, maxPages: 1, end: 'continuation', now, fetchPage: async () => ({ items: [1], next: 'tok' }) });
    expect(parseInventoryCursor(cut.cursor)?.next).toBe('tok');
  });

  it('starts over when the vendor no longer accepts a stored continuation', async () => {
    const cut = formatInventoryCursor({ startedAt: '2026-12-03T11:00:00.000Z', offset: 4, next: 'expired' });
    const res = await walkInventory({
      cursor: cut,
      maxPages: 10,
      end: 'continuation',
      now,
      staleContinuation: e => (e as Error).message === 'HTTP 400',
      fetchPage: async p => {
        if (p.next === 'expired') throw new Error('HTTP 400');
        return p.next ? { items: [3] } : { items: [1, 2], next: 'b' };
      },
    });
    expect(res).toEqual({ items: [1, 2, 3], cursor: null, hasMore: false });
    // other errors still fail the call
    await expect(
      walkInventory({ cursor: cut, maxPages: 1, end: 'continuation', now, staleContinuation: () => false, fetchPage: async () => Promise.reject(new Error('HTTP 500')) }),
    ).rejects.toThrow('HTTP 500');
  });

  it('scroll: follows the token of every page, the same one again too, until an empty page; keeps it when cut; refuses a page without one', async () => {
    // one scroll context: the API answers the same token on every page
    const asked: Array<string | undefined> = [];
    const fetchPage = async (p: { next?: string }) => {
      asked.push(p.next);
      const at = p.next ? Number(p.next.split(':')[1]) : 0;
      const items = data.slice(at, at + 10);
      return { items, next: `ctx:${at + items.length}` };
    };
    const whole = await walkInventory({ cursor: null, maxPages: 100, end: 'scroll', now, fetchPage });
    expect(whole).toEqual({ items: data, cursor: null, hasMore: false });
    expect(asked).toEqual([undefined, 'ctx:10', 'ctx:20', 'ctx:25']);
    let served = 0;
    const same = await walkInventory({
      cursor: null,
      maxPages: 100,
      end: 'scroll',
      now,
      fetchPage: async p => {
        expect(p.next).toBe(served ? 'same' : undefined);
        const items = data.slice(served, served + 10);
        served += items.length;
        return { items, next: 'same' };
      },
    });
    expect(same.items).toEqual(data);
    asked.length = 0;
    const cut = await walkInventory({ cursor: null, maxPages: 2, end: 'scroll', now, fetchPage });
    expect(cut.hasMore).toBe(true);
    expect(parseInventoryCursor(cut.cursor)).toEqual({ startedAt: '2026-12-03T12:00:00.000Z', offset: 20, next: 'ctx:20' });
    const rest = await walkInventory({ cursor: cut.cursor, maxPages: 2, end: 'scroll', now, fetchPage });
    expect(rest).toEqual({ items: data.slice(20), cursor: null, hasMore: false });
    expect(asked).toEqual([undefined, 'ctx:10', 'ctx:20', 'ctx:25']);
    await expect(walkInventory({ cursor: null, maxPages: 5, end: 'scroll', now, fetchPage: async () => ({ items: [1] }) })).rejects.toThrow(
      'inventory scroll page of 1 records without a token to go on from',
    );
  });

  it('refuses an unreadable cursor', () => {
    expect(() => parseInventoryCursor('2026-01-01')).toThrow(/unreadable inventory cursor/);
    expect(() => parseInventoryCursor('{"v":2}')).toThrow(/unknown format/);
    expect(parseInventoryCursor(formatInventoryCursor({ startedAt: '2026-12-03T12:00:00.000Z', offset: 3, next: 'x' }))).toEqual({
      startedAt: '2026-12-03T12:00:00.000Z',
      offset: 3,
      next: 'x',
    });
  });

  it('normalizes host records one by one; a bad record is rejected alone', () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) } as never;
    const records = [
      { id: 'a', name: 'WEB-01.prod.example.com', ip: '10.0.0.1', seen: '2026-12-03T10:00:00Z' },
      { id: '', name: 'x' },
      { id: 'c', name: 'db-01', seen: 'yesterday' },
      { id: 'd', name: 'db-02', seen: null },
    ];
    const { hosts, rejected } = normalizeHosts(
      records,
      r => ({ sourceId: r.id, asset: { hostname: r.name, ips: r.ip ? [r.ip] : [], macs: [] }, lastSeenAt: r.seen }),
      { sourceId: 'edr', logger, idOf: r => r.id },
    );
    expect(rejected).toBe(2);
    expect(hosts).toEqual([
      { sourceId: 'a', asset: { hostname: 'web-01', fqdn: 'web-01.prod.example.com', ips: ['10.0.0.1'], macs: [] }, lastSeenAt: '2026-12-03T10:00:00.000Z' },
      { sourceId: 'd', asset: { hostname: 'db-02', ips: [], macs: [] } },
    ]);
    expect(warnings.join('\n')).toMatch(/skipped host record c: lastSeenAt/);
  });

  it('reads hostInventory config, failing with the full key', () => {
    const read = (hostInventory: boolean | Record<string, unknown>) =>
      readCommonPullSourceOptions(new ConfigReader({ hostInventory } as never), 'runtimeRisk.sources.x').hostInventory;
    expect(read(false)).toEqual({ enabled: false });
    expect(read({ frequency: { hours: 2 }, maxPages: 3 })).toEqual({ frequency: { hours: 2 }, maxPages: 3 });
    expect(() => read({ maxPages: -1 })).toThrow("Invalid config at 'runtimeRisk.sources.x.hostInventory.maxPages'");
    expect(readCommonPullSourceOptions(new ConfigReader({}), 'runtimeRisk.sources.x').hostInventory).toBeUndefined();
  });
});
