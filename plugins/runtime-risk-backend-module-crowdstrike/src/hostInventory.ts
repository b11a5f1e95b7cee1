import type { HostInventoryFetchOptions, HostInventoryFetchResult, SourceHttpClient } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { normalizeHosts, walkInventory } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Device ids per page of `GET /devices/queries/devices/v1` (the API's maximum). */
export const MAX_DEVICE_QUERY_LIMIT = 5000;

/**
 * The Falcon host inventory (issue 15 part 3): every device id of `GET
 * /devices/queries/devices/v1` (sorted by `device_id`, paged by `offset` until
 * an empty page, never ending at a short one; at most `maxPages` pages per
 * call, the rest from the cursor), then the devices by id with `POST
 * /devices/entities/devices/v2` (`{ids}` in the body). API scope: Hosts: Read.
 * A device record that does not parse is skipped alone.
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
  const { http, signal } = options;
  const walked = await walkInventory<string>({
    cursor: options.cursor,
    maxPages: options.maxPages,
    end: 'empty-page',
    now: options.now,
    fetchPage: async ({ offset }) => {
      const body = await http.get(
        '/devices/queries/devices/v1',
        { sort: 'device_id.asc', limit: options.pageSize, offset },
        undefined,
        signal,
      );
      const ids = (body as { resources?: unknown } | null)?.resources;
      if (ids !== undefined && ids !== null && !(Array.isArray(ids) && ids.every(i => typeof i === 'string'))) {
        throw new Error(`Source ${options.sourceId}: malformed device ids page (resources is not a list of ids)`);
      }
      return { items: (ids as string[] | null | undefined) ?? [] };
    },
  });
  const records = walked.items.length ? await options.details(walked.items) : [];
  const { hosts, rejected } = normalizeHosts(
    records,
    options.toHost,
    { sourceId: options.sourceId, logger: options.logger, idOf: r => (r as { device_id?: string } | null)?.device_id },
  );
  return { hosts, rejected, cursor: walked.cursor, hasMore: walked.hasMore };
}
