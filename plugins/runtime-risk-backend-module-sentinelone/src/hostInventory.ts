import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { HostInventoryFetchOptions, HostInventoryFetchResult, SourceHttpClient } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { SourceHttpError, normalizeHosts, walkInventory } from '@runtime-risk/backstage-plugin-runtime-risk-node';

/**
 * The SentinelOne host inventory (issue 15 part 3): every agent of `GET
 * /web/api/v2.1/agents` (in the configured `accountIds`/`siteIds`), following
 * `pagination.nextCursor` while present, `limit` at most 1,000; a walk cut by
 * `maxPages` keeps the API's `nextCursor` in its cursor (one the API refuses
 * with HTTP 400 starts the walk over). Needs a token whose
 * role may view endpoints (agents).
 */
export async function listSentinelOneAgents(options: HostInventoryFetchOptions & {
  sourceId: string;
  http: SourceHttpClient;
  scope: { accountIds?: string; siteIds?: string };
  pageSize: number;
  maxPages: number;
  now?: () => number;
  toHost(raw: unknown): { sourceId: string; asset: Asset; lastSeenAt?: string | null };
}): Promise<HostInventoryFetchResult> {
  const { http, signal, sourceId } = options;
  const walked = await walkInventory<unknown>({
    cursor: options.cursor,
    maxPages: options.maxPages,
    end: 'continuation',
    now: options.now,
    // a nextCursor the API no longer accepts: list from the start again
    staleContinuation: e => e instanceof SourceHttpError && e.status === 400,
    fetchPage: async page => {
      const body = (await http.get('/agents', { ...options.scope, limit: options.pageSize, cursor: page.next }, undefined, signal)) as {
        data?: unknown;
        pagination?: { nextCursor?: unknown } | null;
      } | null;
      if (!body || !Array.isArray(body.data)) throw new Error(`Source ${sourceId}: malformed agents page (no data list)`);
      const next = body.pagination?.nextCursor;
      return { items: body.data, next: typeof next === 'string' ? next : undefined };
    },
  });
  const { hosts, rejected } = normalizeHosts(walked.items, options.toHost, {
    sourceId,
    logger: options.logger,
    idOf: r => (r as { id?: string } | null)?.id,
  });
  return { hosts, rejected, cursor: walked.cursor, hasMore: walked.hasMore };
}
