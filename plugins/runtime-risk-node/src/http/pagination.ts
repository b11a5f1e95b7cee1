/** Result of collecting pages: all items, and whether the listing was exhausted. */
export interface CollectedPages<T> {
  items: T[];
  /** False when `maxPages` stopped the walk while the vendor had more. */
  complete: boolean;
  /** Cursor-paged listings: the cursor to continue from when incomplete. */
  nextCursor?: string;
}

/**
 * Walks an offset/limit listing (`offset`+`limit`, `$skip`+`$top`) until an
 * empty page, the reported total, or `maxPages`. A page shorter than asked is
 * never taken as the last one: servers may cap pages below the limit asked for.
 */
export async function collectOffsetPages<T>(options: {
  pageSize: number;
  maxPages?: number;
  fetchPage(offset: number, limit: number): Promise<{ items: T[]; total?: number }>;
}): Promise<CollectedPages<T>> {
  const maxPages = options.maxPages ?? 100;
  const items: T[] = [];
  let offset = 0;
  for (let page = 0; page < maxPages; page++) {
    const res = await options.fetchPage(offset, options.pageSize);
    items.push(...res.items);
    offset += res.items.length;
    const exhausted = res.items.length === 0 || (res.total !== undefined && offset >= res.total);
    if (exhausted) return { items, complete: true };
  }
  return { items, complete: false };
}

/** Walks a cursor-paged listing until no next cursor is returned, or `maxPages`. */
export async function collectCursorPages<T>(options: {
  maxPages?: number;
  fetchPage(cursor: string | undefined): Promise<{ items: T[]; nextCursor?: string | null }>;
}): Promise<CollectedPages<T>> {
  const maxPages = options.maxPages ?? 100;
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const res = await options.fetchPage(cursor);
    items.push(...res.items);
    if (!res.nextCursor || res.nextCursor === cursor) return { items, complete: true };
    cursor = res.nextCursor;
  }
  return { items, complete: false, nextCursor: cursor };
}

/** Splits a list into chunks of at most `size` (for `ids=` batch lookups). */
export function chunk<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * A timestamp (a cursor, a vendor value) re-serialised as ISO 8601 UTC with
 * milliseconds (`new Date(x).toISOString()`), the only form that goes into an
 * FQL or OData filter; sub-millisecond digits are dropped (an inclusive lower
 * bound then re-reads the boundary, it never skips it). Throws on anything
 * that is not a timestamp.
 */
export function isoTimestamp(value: string | number | Date): string {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`not a timestamp: '${String(value).slice(0, 64)}'`);
  return new Date(ms).toISOString();
}

/** A walk over one time window that has not finished yet (persisted in the cursor). */
export interface TimeWindowWalk {
  /** Inclusive lower bound (ISO), null from the beginning. */
  since: string | null;
  /** Exclusive upper bound, fixed when the walk started (ISO). */
  until: string;
  /** Records read so far in this walk: the `$skip`/offset to go on from. */
  offset: number;
  /** The vendor's continuation (`@odata.nextLink`, `after`, `nextCursor`) to go on from. */
  next?: string;
  /** Newest record timestamp read so far in this walk (ISO). */
  newest?: string;
}

/** Where a time-window walk stands: between walks (`walk` absent) or in the middle of one. */
export interface TimeWindowPosition {
  since: string | null;
  walk?: TimeWindowWalk;
}

const WALK_CURSOR_VERSION = 1;

/**
 * Reads a time-window cursor: null (first sync), a plain timestamp (a finished
 * walk, and every cursor written before walks were persisted), or the JSON of
 * a walk in progress (`{"v":1,"since":..,"until":..,"offset":..,"next"?:..,"newest"?:..}`).
 * Timestamps are re-serialised; an unreadable cursor throws.
 */
export function parseTimeWindowCursor(cursor: string | null): TimeWindowPosition {
  if (cursor === null || cursor.trim() === '') return { since: null };
  const text = cursor.trim();
  if (!text.startsWith('{')) {
    try {
      return { since: isoTimestamp(text) };
    } catch {
      throw new Error(`unreadable cursor '${text.slice(0, 64)}': not a timestamp nor a walk`);
    }
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`unreadable cursor '${text.slice(0, 64)}': malformed JSON`);
  }
  const opt = (v: unknown) => (v === null || v === undefined ? undefined : isoTimestamp(String(v)));
  if (raw.v !== WALK_CURSOR_VERSION || typeof raw.until !== 'string' || typeof raw.offset !== 'number' || raw.offset < 0) {
    throw new Error(`unreadable cursor '${text.slice(0, 64)}': unknown walk format`);
  }
  const walk: TimeWindowWalk = {
    since: opt(raw.since) ?? null,
    until: isoTimestamp(raw.until),
    offset: Math.floor(raw.offset),
    ...(typeof raw.next === 'string' && raw.next ? { next: raw.next } : {}),
    ...(raw.newest !== undefined && raw.newest !== null ? { newest: opt(raw.newest) } : {}),
  };
  return { since: walk.since, walk };
}

/** The cursor string of a position: a plain timestamp between walks, JSON during one. */
export function formatTimeWindowCursor(position: TimeWindowPosition): string | null {
  const w = position.walk;
  if (!w) return position.since;
  return JSON.stringify({
    v: WALK_CURSOR_VERSION,
    since: w.since,
    until: w.until,
    offset: w.offset,
    ...(w.next ? { next: w.next } : {}),
    ...(w.newest ? { newest: w.newest } : {}),
  });
}

/** One page request of {@link walkTimeWindow}. */
export interface TimeWindowPage {
  /** Inclusive lower bound (ISO), null for none. */
  since: string | null;
  /** Exclusive upper bound (ISO). */
  until: string;
  /** Records read before this page in the walk (for `$skip`/offset paging). */
  offset: number;
  /** The vendor continuation to follow, when there is one. */
  next?: string;
}

/** What {@link walkTimeWindow} read in one call. */
export interface TimeWindowBatch<T> {
  items: T[];
  /** Cursor to commit with `items`: plain timestamp when the walk finished, the walk's JSON when cut short. */
  cursor: string | null;
  /** True when the walk was cut short by `maxPages`: fetch again from `cursor`. */
  hasMore: boolean;
  /** The window this batch was read from. */
  since: string | null;
  until: string;
}

/**
 * Reads records updated in `[since, until)` page by page, where `until` is
 * fixed when a walk starts (rows changing during the walk move past it and
 * are read by the next walk, instead of shifting the pages being walked).
 *
 * - The vendor's continuation is followed while present. With `end:
 *   'continuation'` a page without one ends the walk; with `end: 'empty-page'`
 *   (offset APIs, or APIs that send a continuation only sometimes) a page
 *   without one is followed by the next offset until an empty page, except a
 *   page reached through a continuation, whose lack of one ends the walk. A
 *   short page never ends a walk.
 * - At most `maxPages` pages per call. A walk cut short returns what it read
 *   with a JSON cursor holding the window, the offset and the continuation,
 *   and `hasMore`; the next call goes on from there (it never restarts). The
 *   backend commits each batch with its cursor, so a failure loses at most
 *   the pages of the failed call.
 * - A finished walk returns as cursor the newest record timestamp it read
 *   (capped at `until`, re-serialised), or the old lower bound when it read
 *   nothing; the next walk starts there, inclusively.
 */
export async function walkTimeWindow<T>(options: {
  cursor: string | null;
  maxPages: number;
  end: 'continuation' | 'empty-page';
  /** Wall clock for the walk's upper bound; default `Date.now`. */
  now?: () => number;
  timestampOf(item: T): string | null | undefined;
  fetchPage(page: TimeWindowPage): Promise<{ items: T[]; next?: string | null }>;
  /**
   * A stored continuation the vendor no longer accepts (`test` true on the
   * error): the walk goes on without it, by `offset`, or from the newest record
   * read (`newest`, for APIs sorted by the timestamp).
   */
  staleContinuation?: { test(error: unknown): boolean; resume: 'offset' | 'newest' };
}): Promise<TimeWindowBatch<T>> {
  const position = parseTimeWindowCursor(options.cursor);
  const walk: TimeWindowWalk = position.walk
    ? { ...position.walk }
    : { since: position.since, until: isoTimestamp((options.now ?? Date.now)()), offset: 0 };
  const stored = walk.next;
  const items: T[] = [];
  const page = () => ({ since: walk.since, until: walk.until, offset: walk.offset, ...(walk.next ? { next: walk.next } : {}) });
  for (let n = 0; n < options.maxPages; n++) {
    let res: { items: T[]; next?: string | null };
    try {
      res = await options.fetchPage(page());
    } catch (e) {
      const stale = options.staleContinuation;
      if (!(stale && stored && walk.next === stored && stale.test(e))) throw e;
      walk.next = undefined;
      if (stale.resume === 'newest') {
        walk.since = walk.newest ?? walk.since;
        walk.offset = 0;
      }
      res = await options.fetchPage(page());
    }
    items.push(...res.items);
    walk.offset += res.items.length;
    for (const item of res.items) {
      const t = options.timestampOf(item);
      const ms = t ? Date.parse(t) : Number.NaN;
      if (!Number.isNaN(ms) && (!walk.newest || ms > Date.parse(walk.newest))) walk.newest = new Date(ms).toISOString();
    }
    const next = res.next || undefined;
    // a continuation, once followed, is trusted: a page reached through one that has none is the last
    const followed = walk.next !== undefined;
    const done = res.items.length === 0 || ((options.end === 'continuation' || followed) && (!next || next === walk.next));
    if (done) {
      const newest = walk.newest && Date.parse(walk.newest) < Date.parse(walk.until) ? walk.newest : walk.newest ? walk.until : undefined;
      return { items, cursor: newest ?? walk.since, hasMore: false, since: walk.since, until: walk.until };
    }
    walk.next = next && next !== walk.next ? next : undefined;
  }
  return { items, cursor: formatTimeWindowCursor({ since: walk.since, walk }), hasMore: true, since: walk.since, until: walk.until };
}
