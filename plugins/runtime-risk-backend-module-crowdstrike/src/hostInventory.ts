import type { HostInventoryFetchOptions, HostInventoryFetchResult, SourceHttpClient } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { SourceHttpError, normalizeHosts, walkInventory } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Device ids per page of `GET /devices/queries/devices-scroll/v1` (the API's maximum). */
export const MAX_DEVICE_QUERY_LIMIT = 5000;

/** The Hosts API scroll listing: no `offset + limit` ceiling (the offset-paged devices query stops at 10,000). */
export const DEVICES_SCROLL_PATH = '/devices/queries/devices-scroll/v1';

/**
 * One page of `GET /devices/queries/devices-scroll/v1`: `filter` and `sort` as
 * given, `limit`, and `offset` = `next`, the token of the page before. Returns
 * the ids and the page's token (`meta.pagination.offset`); a body that is not
 * a JSON object, ids that are not a list of non-empty strings, a token that is
 * not a string, or ids without a token fail naming the source and the call.
 */
export async function devicesScrollPage(options: {
  http: SourceHttpClient;
  sourceId: string;
  filter?: string;
  sort: string;
  limit: number;
  next?: string;
  signal?: AbortSignal;
}): Promise<{ items: string[]; next?: string }> {
  const malformed = (why: string) => new Error(`Source ${options.sourceId}: malformed device ids page from GET ${DEVICES_SCROLL_PATH} (${why})`);
  const body = (await options.http.get(
    DEVICES_SCROLL_PATH,
    {
      ...(options.filter ? { filter: options.filter } : {}),
      sort: options.sort,
      limit: options.limit,
      ...(options.next ? { offset: options.next } : {}),
    },
    undefined,
    options.signal,
  )) as { resources?: unknown; meta?: { pagination?: { offset?: unknown } | null } | null } | null;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw malformed('not a JSON object');
  const ids = body.resources ?? [];
  if (!(Array.isArray(ids) && ids.every(i => typeof i === 'string' && i !== ''))) throw malformed('resources is not a list of ids');
  const token = body.meta?.pagination?.offset;
  if (token !== undefined && token !== null && typeof token !== 'string') throw malformed('meta.pagination.offset is not a scroll token');
  if (ids.length > 0 && !token) throw malformed(`${ids.length} device ids without a scroll token in meta.pagination.offset`);
  return { items: ids as string[], next: token || undefined };
}

/**
 * Every device id `GET /devices/queries/devices-scroll/v1` lists for `filter`,
 * in one call (no `offset + limit` ceiling, no page limit: nothing is left
 * out): pages of `limit` following each page's token, even when it is the same
 * token again, until an EMPTY page (a short page never ends it). A token
 * Falcon no longer knows (HTTP 400; it keeps one about two minutes, which long
 * rate-limit waits can outlast) starts the scroll over once; a second one
 * fails the call. A non-empty page that adds no new id (a scroll that does not
 * advance) fails the call instead of looping. Ids are returned once each.
 */
export async function scrollDeviceIds(options: {
  http: SourceHttpClient;
  sourceId: string;
  filter?: string;
  sort: string;
  limit: number;
  signal?: AbortSignal;
}): Promise<string[]> {
  let ids = new Set<string>();
  let next: string | undefined;
  let restarted = false;
  for (;;) {
    let page: { items: string[]; next?: string };
    try {
      page = await devicesScrollPage({ ...options, next });
    } catch (e) {
      if (!(next && !restarted && e instanceof SourceHttpError && e.status === 400)) throw e;
      // the scroll expired: list again from the first page (the new scroll lists every match)
      restarted = true;
      ids = new Set();
      next = undefined;
      continue;
    }
    if (page.items.length === 0) return [...ids];
    const before = ids.size;
    for (const id of page.items) ids.add(id);
    if (ids.size === before) {
      throw new Error(`Source ${options.sourceId}: GET ${DEVICES_SCROLL_PATH} does not advance (a page of ${page.items.length} device ids already listed)`);
    }
    next = page.next;
  }
}

/**
 * The Falcon host inventory (issue 15): every device id of `GET
 * /devices/queries/devices-scroll/v1` (sorted by `device_id`, `limit` at most
 * 5,000; each page after the first asks with `offset` = the opaque token of
 * the page before, `meta.pagination.offset`; the walk ends at an EMPTY page,
 * never at a short one), then the devices by id with `POST
 * /devices/entities/devices/v2` (`{ids}` in the body). At most `maxPages`
 * pages per call: the token is kept in the walk's cursor (`next`) and the next
 * call goes on from it. Falcon keeps a scroll token for about two minutes; one
 * it no longer knows (expired, or invalid) answers HTTP 400 and the walk starts
 * over (hosts listed twice are upserted). API scope: Hosts: Read. A device
 * record that does not parse is skipped alone; a page that is not a list of
 * ids, or that has ids and no token, fails the call.
 */
export async function listFalconHosts(options: HostInventoryFetchOptions & {
  sourceId: string;
  http: SourceHttpClient;
  pageSize: number;
  maxPages: number;
  now?: () => number;
  details(ids: string[]): Promise<unknown[]>;
  /** A device record as a host (throws on a record that does not parse). */
  toHost(raw: unknown): { sourceId: string; asset: Asset; lastSeenAt?: string | null };
}): Promise<HostInventoryFetchResult> {
  const { http, signal, sourceId } = options;
  const walked = await walkInventory<string>({
    cursor: options.cursor,
    maxPages: options.maxPages,
    end: 'scroll',
    now: options.now,
    // an expired or unknown scroll token: list from the start again
    staleContinuation: e => e instanceof SourceHttpError && e.status === 400,
    fetchPage: async ({ next }) => devicesScrollPage({ http, sourceId, sort: 'device_id.asc', limit: options.pageSize, next, signal }),
  });
  const records = walked.items.length ? await options.details(walked.items) : [];
  const { hosts, rejected } = normalizeHosts(
    records,
    options.toHost,
    { sourceId, logger: options.logger, idOf: r => (r as { device_id?: string } | null)?.device_id },
  );
  return { hosts, rejected, cursor: walked.cursor, hasMore: walked.hasMore };
}
