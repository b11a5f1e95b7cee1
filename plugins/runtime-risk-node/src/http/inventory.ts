import type { LoggerService } from '@backstage/backend-plugin-api';
import { AssetSchema, normalizeAsset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { HostInventoryRecord } from '../source';

/*
 * Walks over a vendor's whole host inventory (Falcon devices, Defender
 * machines, SentinelOne agents), for `PullSignalSource.syncHosts`. Same paging
 * rules as the alert walks (DESIGN "Paging"): the vendor's continuation is
 * followed while present; without one, pages go on by offset until an EMPTY
 * page, never ending at a short one; at most `maxPages` per call, the rest
 * resumes from the returned cursor (never restarts).
 */

const INVENTORY_CURSOR_VERSION = 1;

/** Where an inventory walk stands (persisted as JSON in the inventory cursor). */
export interface InventoryWalk {
  /** When the walk started (ISO). */
  startedAt: string;
  /** Records read so far: the offset to go on from. */
  offset: number;
  /** The vendor continuation (`after`, `@odata.nextLink`, `nextCursor`) to go on from. */
  next?: string;
}

/** Reads an inventory cursor: null or empty (start a new walk) or the JSON of a walk in progress; throws when unreadable. */
export function parseInventoryCursor(cursor: string | null): InventoryWalk | undefined {
  if (cursor === null || cursor.trim() === '') return undefined;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(cursor);
  } catch {
    throw new Error(`unreadable inventory cursor '${cursor.slice(0, 64)}': malformed JSON`);
  }
  if (
    !raw ||
    raw.v !== INVENTORY_CURSOR_VERSION ||
    typeof raw.offset !== 'number' ||
    raw.offset < 0 ||
    typeof raw.startedAt !== 'string' ||
    Number.isNaN(Date.parse(raw.startedAt))
  ) {
    throw new Error(`unreadable inventory cursor '${cursor.slice(0, 64)}': unknown format`);
  }
  return {
    startedAt: new Date(raw.startedAt).toISOString(),
    offset: Math.floor(raw.offset),
    ...(typeof raw.next === 'string' && raw.next ? { next: raw.next } : {}),
  };
}

export function formatInventoryCursor(walk: InventoryWalk): string {
  return JSON.stringify({ v: INVENTORY_CURSOR_VERSION, startedAt: walk.startedAt, offset: walk.offset, ...(walk.next ? { next: walk.next } : {}) });
}

/** One page request of {@link walkInventory}. */
export interface InventoryPage {
  /** Records read before this page in the walk (for offset / `$skip` paging). */
  offset: number;
  /** The vendor continuation to follow, when there is one. */
  next?: string;
}

/**
 * Reads up to `maxPages` pages of a host listing. `end: 'continuation'`: a page
 * without a continuation ends the walk (cursor-paged APIs); `'empty-page'`: a
 * page without one is followed by the next offset until an empty page, except
 * a page reached through a continuation, whose lack of one ends the walk;
 * `'scroll'` (scroll APIs such as Falcon's devices-scroll): every page is
 * followed by the token it carries, even when it is the same token again (a
 * scroll context), only an empty page ends the walk, and a non-empty page
 * without a token fails the call (there is nothing to go on from; offsets mean
 * nothing to such an API). A page shorter than asked never ends a walk.
 * Returns the items, and a cursor (null when the walk finished, else the
 * walk's JSON, holding the continuation as `next`) with `hasMore`.
 */
export async function walkInventory<T>(options: {
  cursor: string | null;
  maxPages: number;
  end: 'continuation' | 'empty-page' | 'scroll';
  now?: () => number;
  fetchPage(page: InventoryPage): Promise<{ items: T[]; next?: string | null }>;
  /**
   * A stored continuation the vendor no longer accepts (`true` for the error,
   * e.g. HTTP 400 on an expired `nextCursor`): the walk starts over (the
   * store upserts, so hosts listed twice are harmless) instead of failing on
   * it at every run.
   */
  staleContinuation?: (error: unknown) => boolean;
}): Promise<{ items: T[]; cursor: string | null; hasMore: boolean }> {
  const fresh = (): InventoryWalk => ({ startedAt: new Date((options.now ?? Date.now)()).toISOString(), offset: 0 });
  let walk: InventoryWalk = parseInventoryCursor(options.cursor) ?? fresh();
  const items: T[] = [];
  for (let n = 0; n < options.maxPages; n++) {
    let res: { items: T[]; next?: string | null };
    try {
      res = await options.fetchPage({ offset: walk.offset, ...(walk.next ? { next: walk.next } : {}) });
    } catch (e) {
      if (!(n === 0 && walk.next && options.staleContinuation?.(e))) throw e;
      walk = fresh();
      res = await options.fetchPage({ offset: 0 });
    }
    items.push(...res.items);
    walk.offset += res.items.length;
    const next = res.next || undefined;
    if (options.end === 'scroll') {
      if (res.items.length === 0) return { items, cursor: null, hasMore: false };
      if (!next) throw new Error(`inventory scroll page of ${res.items.length} records without a token to go on from`);
      walk.next = next;
      continue;
    }
    const followed = walk.next !== undefined;
    const done = res.items.length === 0 || ((options.end === 'continuation' || followed) && (!next || next === walk.next));
    if (done) return { items, cursor: null, hasMore: false };
    walk.next = next && next !== walk.next ? next : undefined;
  }
  return { items, cursor: formatInventoryCursor(walk), hasMore: true };
}

/** Validates one mapped host record; throws naming the field. */
function parseHostRecord(value: { sourceId: string; asset: Asset; lastSeenAt?: string | null }): HostInventoryRecord {
  if (typeof value?.sourceId !== 'string' || !value.sourceId.trim()) throw new Error('sourceId: must be a non-empty string');
  const asset = AssetSchema.parse(value.asset);
  const seen = value.lastSeenAt;
  if (seen !== undefined && seen !== null && (typeof seen !== 'string' || Number.isNaN(Date.parse(seen)))) {
    throw new Error('lastSeenAt: must be an ISO 8601 date-time');
  }
  return { sourceId: value.sourceId.trim(), asset: normalizeAsset(asset), ...(seen ? { lastSeenAt: new Date(seen).toISOString() } : {}) };
}

/**
 * Maps vendor host records to {@link HostInventoryRecord}s one by one: a record
 * that fails to map or to validate is skipped, counted in `rejected` and
 * logged with its id only, so one bad host never loses the page.
 */
export function normalizeHosts<R>(
  records: readonly R[],
  map: (record: R) => { sourceId: string; asset: Asset; lastSeenAt?: string | null },
  options: { sourceId: string; logger?: LoggerService; idOf?: (record: R) => string | undefined },
): { hosts: HostInventoryRecord[]; rejected: number } {
  const hosts: HostInventoryRecord[] = [];
  let rejected = 0;
  for (const record of records) {
    try {
      hosts.push(parseHostRecord(map(record)));
    } catch (e) {
      rejected++;
      let id: string | undefined;
      try {
        id = options.idOf?.(record);
      } catch {
        id = undefined;
      }
      const issues = (e as { issues?: Array<{ path?: PropertyKey[]; message?: string }> }).issues;
      const why = Array.isArray(issues)
        ? issues.map(i => `asset.${(i.path ?? []).map(String).join('.')}: ${i.message}`).join('; ')
        : (e as Error).message;
      options.logger?.warn(`Source ${options.sourceId}: skipped host record ${id ?? '(no id)'}: ${why}`);
    }
  }
  return { hosts, rejected };
}
