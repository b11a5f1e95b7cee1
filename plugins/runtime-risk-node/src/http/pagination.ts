/** Result of collecting pages: all items, and whether the listing was exhausted. */
export interface CollectedPages<T> {
  items: T[];
  /** False when `maxPages` stopped the walk while the vendor had more. */
  complete: boolean;
  /** Cursor-paged listings: the cursor to continue from when incomplete. */
  nextCursor?: string;
}

/**
 * Walks an offset/limit listing (`offset`+`limit`, `$skip`+`$top`) until a short
 * page, the reported total, or `maxPages`.
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
    const exhausted =
      res.items.length === 0 || res.items.length < options.pageSize || (res.total !== undefined && offset >= res.total);
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
