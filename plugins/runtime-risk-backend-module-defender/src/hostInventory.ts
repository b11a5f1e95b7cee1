import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { HostInventoryFetchOptions, HostInventoryFetchResult, SourceHttpClient } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { SourceHttpError, normalizeHosts, walkInventory } from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** What a page of `GET /api/machines` must look like. */
function machinePage(sourceId: string, body: unknown): { value: unknown[]; next?: string } {
  const b = body as { value?: unknown; '@odata.nextLink'?: unknown } | null;
  if (!b || !Array.isArray(b.value)) throw new Error(`Source ${sourceId}: malformed machines page (no value list)`);
  const next = b['@odata.nextLink'];
  return { value: b.value, ...(typeof next === 'string' && next ? { next } : {}) };
}

/**
 * The Defender host inventory (issue 15 part 3): `GET /api/machines` with
 * `$top`/`$skip`, following `@odata.nextLink` while present (only on the
 * apiUrl's origin), else `$skip` until an empty page; a page shorter than
 * `$top` never ends the walk. A 404 means "no recent machines": an empty
 * inventory, not an error. App permission: Machine.Read.All.
 */
export async function listDefenderMachines(options: HostInventoryFetchOptions & {
  sourceId: string;
  http: SourceHttpClient;
  pageSize: number;
  maxPages: number;
  now?: () => number;
  /** The absolute URL of a nextLink (refuses one off the API's origin). */
  follow(link: string): string;
  toHost(raw: unknown): { sourceId: string; asset: Asset; lastSeenAt?: string | null };
}): Promise<HostInventoryFetchResult> {
  const { http, signal, sourceId } = options;
  let notFound = false;
  const walked = await walkInventory<unknown>({
    cursor: options.cursor,
    maxPages: options.maxPages,
    end: 'empty-page',
    now: options.now,
    // a stored nextLink the API no longer accepts: list from the start again
    staleContinuation: e => e instanceof SourceHttpError && e.status === 400,
    fetchPage: async page => {
      let body: unknown;
      try {
        body = page.next
          ? await http.get(options.follow(page.next), undefined, undefined, signal)
          : await http.get('/api/machines', { $top: options.pageSize, $skip: page.offset }, undefined, signal);
      } catch (e) {
        // "no recent machines": an empty page, which ends the walk (what was read before is kept)
        if (!(e instanceof SourceHttpError) || e.status !== 404) throw e;
        notFound = true;
        return { items: [] };
      }
      const { value, next } = machinePage(sourceId, body);
      return { items: value, next };
    },
  });
  if (notFound) options.logger.info(`Source ${sourceId}: GET /api/machines answered 404 (no recent machines)`);
  const { hosts, rejected } = normalizeHosts(walked.items, options.toHost, {
    sourceId,
    logger: options.logger,
    idOf: r => (r as { id?: string } | null)?.id,
  });
  return { hosts, rejected, cursor: walked.cursor, hasMore: walked.hasMore };
}
