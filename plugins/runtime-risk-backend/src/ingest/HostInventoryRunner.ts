import type { LoggerService } from '@backstage/backend-plugin-api';
import { AssetSchema, normalizeAsset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { PullSignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { HostInventoryStore, InventoryHost } from '../store/types';
import { safeErrorMessage } from './validate';

/** Most inventory calls in one run; a longer walk goes on at the next tick from its committed cursor. */
export const MAX_INVENTORY_CALLS_PER_RUN = 50;

/** Default retention of hosts no finished walk listed any more: 90 days. */
export const DEFAULT_HOST_RETENTION_MS = 90 * 24 * 3600 * 1000;

/** Default schedule of a source's inventory sync (`PullSignalSource.inventorySchedule`). */
export const DEFAULT_INVENTORY_SCHEDULE = { frequency: { hours: 1 }, timeout: { minutes: 15 } } as const;

type ListedHost = Omit<InventoryHost, 'source' | 'listedAt'>;

/**
 * Validates the host records a source listed, one by one: a record without a
 * vendor host id, with a malformed asset or `lastSeenAt` is rejected alone
 * (logged with its index and the field at fault) and never stored.
 */
export function validateHosts(options: {
  sourceId: string;
  inputs: unknown[];
  logger: LoggerService;
  /** Index of `inputs[0]` in the logged messages (records validated a part at a time); default 0. */
  firstIndex?: number;
}): { hosts: ListedHost[]; rejected: number } {
  const hosts: ListedHost[] = [];
  let rejected = 0;
  const firstIndex = options.firstIndex ?? 0;
  options.inputs.forEach((input, at) => {
    const index = firstIndex + at;
    const rec = (input ?? {}) as Record<string, unknown>;
    let field: string | undefined;
    const asset = AssetSchema.safeParse(rec.asset);
    if (typeof input !== 'object' || input === null) field = '(record)';
    else if (typeof rec.sourceId !== 'string' || !rec.sourceId.trim() || rec.sourceId.length > 255) field = 'sourceId';
    else if (!asset.success) field = `asset.${asset.error.issues[0]?.path.map(String).join('.') ?? ''}`;
    else if (rec.lastSeenAt !== undefined && rec.lastSeenAt !== null && (typeof rec.lastSeenAt !== 'string' || Number.isNaN(Date.parse(rec.lastSeenAt)))) {
      field = 'lastSeenAt';
    }
    if (field !== undefined || !asset.success) {
      rejected += 1;
      options.logger.warn(`runtime-risk source '${options.sourceId}' listed an invalid host at index ${index}; rejected field: ${field}`);
      return;
    }
    hosts.push({
      sourceId: (rec.sourceId as string).trim(),
      asset: normalizeAsset(asset.data),
      lastSeenAt: typeof rec.lastSeenAt === 'string' ? new Date(rec.lastSeenAt).toISOString() : null,
    });
  });
  return { hosts, rejected };
}

export interface HostInventoryRunResult {
  pages: number;
  stored: number;
  rejected: number;
  /** A walk over the whole inventory finished in this run. */
  complete: boolean;
  error?: string;
}

/**
 * Runs one inventory sync of a pull source that lists its hosts
 * (`PullSignalSource.syncHosts`): from the source's own inventory cursor, each
 * page is committed with the cursor it leads to (one transaction), so a failed
 * run loses only its own page and the next resumes from the last committed one.
 * A failure is recorded in the inventory state (it does not mark the signal
 * source degraded) and keeps every stored host. A finished walk deletes the
 * source's hosts no walk has listed for longer than the retention (90 days).
 */
export class HostInventoryRunner {
  constructor(
    private readonly options: {
      store: Pick<HostInventoryStore, 'commitHostPage' | 'recordHostInventoryFailure' | 'getHostInventoryState'>;
      logger: LoggerService;
      clock?: () => Date;
      /**
       * How long a host no walk lists any more is kept (churned pods, retired machines); default
       * {@link DEFAULT_HOST_RETENTION_MS}. Longer than any coverage window in use.
       */
      retentionMs?: number;
    },
  ) {}

  private now(): string {
    return (this.options.clock?.() ?? new Date()).toISOString();
  }

  async run(source: PullSignalSource, abortSignal?: AbortSignal): Promise<HostInventoryRunResult> {
    const result: HostInventoryRunResult = { pages: 0, stored: 0, rejected: 0, complete: false };
    if (!source.syncHosts) return result;
    const { store, logger } = this.options;
    const sourceLogger = logger.child({ source: source.id, task: 'inventory' });
    try {
      let cursor = (await store.getHostInventoryState(source.id))?.cursor ?? null;
      for (let call = 0; call < MAX_INVENTORY_CALLS_PER_RUN; call++) {
        if (abortSignal?.aborted) throw new Error('inventory sync aborted (timeout or shutdown)');
        const page = await source.syncHosts({ cursor, logger: sourceLogger, signal: abortSignal });
        const at = this.now();
        const { hosts, rejected } = validateHosts({ sourceId: source.id, inputs: Array.isArray(page?.hosts) ? page.hosts : [], logger });
        const pageRejected = rejected + (typeof page.rejected === 'number' && page.rejected > 0 ? page.rejected : 0);
        const complete = page.hasMore !== true;
        const pruneListedBefore = new Date(Date.parse(at) - (this.options.retentionMs ?? DEFAULT_HOST_RETENTION_MS)).toISOString();
        await store.commitHostPage({
          sourceId: source.id,
          sourceType: source.type,
          hosts,
          cursor: page.cursor ?? null,
          complete,
          rejected: pageRejected,
          at,
          ...(complete ? { pruneListedBefore } : {}),
        });
        result.pages += 1;
        result.stored += hosts.length;
        result.rejected += pageRejected;
        cursor = page.cursor ?? null;
        if (complete) {
          result.complete = true;
          break;
        }
      }
      if (!result.complete) logger.info(`runtime-risk source '${source.id}' inventory walk goes on next run`);
      return result;
    } catch (error) {
      const message = safeErrorMessage(error);
      result.error = message;
      logger.warn(`runtime-risk source '${source.id}' inventory sync failed: ${message}`);
      await store.recordHostInventoryFailure({ sourceId: source.id, sourceType: source.type, error: message, at: this.now() });
      return result;
    }
  }
}

/**
 * The hosts the alert batches of one ingestion run described
 * (`SignalSourceFetchResult.hosts`), validated page by page as they arrive (while
 * earlier pages commit) and stored once, after the run's signals, in the vendor
 * host inventory without touching the inventory cursor. The same host twice:
 * the last one wins (what `commitHostPage` does with one page). Best effort: a
 * failure is logged, the signals are already committed. Without
 * `commitHostPage` on the store nothing is validated or stored.
 */
export class AlertBatchHosts {
  private readonly byId = new Map<string, ListedHost>();
  private inputs = 0;
  private validated = 0;

  constructor(
    private readonly options: {
      store: Partial<Pick<HostInventoryStore, 'commitHostPage'>>;
      source: PullSignalSource;
      logger: LoggerService;
    },
  ) {}

  /** Validates the host records of one page (messages name their index among every record added). */
  add(inputs: unknown[]): void {
    if (!this.options.store.commitHostPage || inputs.length === 0) return;
    const { hosts } = validateHosts({ sourceId: this.options.source.id, inputs, logger: this.options.logger, firstIndex: this.inputs });
    this.inputs += inputs.length;
    this.validated += hosts.length;
    for (const h of hosts) {
      this.byId.delete(h.sourceId);
      this.byId.set(h.sourceId, h);
    }
  }

  /** Stores the valid hosts added so far; answers how many valid records there were (0 when nothing was stored). */
  async store(at: string): Promise<number> {
    const { store, source, logger } = this.options;
    if (!store.commitHostPage || this.byId.size === 0) return 0;
    try {
      await store.commitHostPage({ sourceId: source.id, sourceType: source.type, hosts: [...this.byId.values()], at });
    } catch (e) {
      logger.warn(`runtime-risk source '${source.id}': hosts of the alert batch not stored: ${safeErrorMessage(e)}`);
      return 0;
    }
    return this.validated;
  }
}

/**
 * Stores the hosts an alert batch described (`SignalSourceFetchResult.hosts`)
 * in the vendor host inventory, without touching the inventory cursor. Best
 * effort: a failure is logged, the signals are already committed.
 */
export async function storeAlertBatchHosts(options: {
  store: Partial<Pick<HostInventoryStore, 'commitHostPage'>>;
  source: PullSignalSource;
  inputs: unknown[];
  at: string;
  logger: LoggerService;
}): Promise<number> {
  const hosts = new AlertBatchHosts(options);
  hosts.add(options.inputs);
  return hosts.store(options.at);
}
