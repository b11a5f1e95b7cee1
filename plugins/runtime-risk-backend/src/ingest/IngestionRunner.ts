import type { LoggerService } from '@backstage/backend-plugin-api';
import type { PullSignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { HostInventoryStore, SignalStore, SourceStore } from '../store/types';
import { AlertBatchHosts } from './HostInventoryRunner';
import { safeErrorMessage, validateSignals } from './validate';

/** Most pages fetched in one run; the rest waits for the next tick. */
export const MAX_PAGES_PER_RUN = 50;

export interface IngestionRunResult {
  pages: number;
  stored: number;
  rejected: number;
  error?: string;
}

/** Runs one sync of a pull source: fetch from the saved cursor, validate, commit page by page. */
export class IngestionRunner {
  constructor(
    private readonly options: {
      /** With `commitHostPage`, the hosts an alert batch describes go to the vendor host inventory too. */
      store: SignalStore & SourceStore & Partial<Pick<HostInventoryStore, 'commitHostPage'>>;
      logger: LoggerService;
      clock?: () => Date;
    },
  ) {}

  private now(): string {
    return (this.options.clock?.() ?? new Date()).toISOString();
  }

  /**
   * Fetches the next page while the previous ones commit. Each page is committed
   * with its own cursor in one transaction, and a page is committed only after
   * the one before it (its transaction waits for that commit, see
   * `CommitBatchOptions.after`, and rolls back if it fails), so a crash or an
   * error at any point leaves the stored signals and the cursor of the last
   * committed page, and the next run resumes from there. At most two commits
   * are in flight; the signals both pages have are written by the second only
   * after the first has committed.
   */
  async run(source: PullSignalSource, abortSignal?: AbortSignal): Promise<IngestionRunResult> {
    const { store } = this.options;
    const logger = this.options.logger;
    const sourceLogger = logger.child({ source: source.id });
    const result: IngestionRunResult = { pages: 0, stored: 0, rejected: 0 };
    // commits in flight, oldest first (their errors surface where they are awaited)
    const inFlight: { done: Promise<void>; ids: Set<string> }[] = [];
    // the failed commit of the earliest page (later pages roll back with its error or fail on their own)
    let firstFailure: { page: number; error: unknown } | undefined;
    const settle = async (keep: number) => {
      while (inFlight.length > keep) await inFlight.shift()!.done;
    };
    try {
      const state = await store.getSourceState(source.id);
      let cursor = state?.cursor ?? null;
      let hasMore = true;
      let fetched = 0;
      // validated page by page while earlier pages commit; stored once after the run's signals
      const batchHosts = new AlertBatchHosts({ store, source, logger });
      while (hasMore && fetched < MAX_PAGES_PER_RUN) {
        if (abortSignal?.aborted) throw new Error('sync aborted (timeout or shutdown)');
        const page = await source.fetch({ cursor, logger: sourceLogger, signal: abortSignal });
        fetched += 1;
        const fetchedAt = this.now();
        const inputs: unknown[] = Array.isArray(page?.signals) ? page.signals : [];
        const { signals, rejected, rejectedReason } = validateSignals({ sourceId: source.id, inputs, fetchedAt, logger });
        const pageRejected = rejected + (typeof page.rejected === 'number' && page.rejected > 0 ? page.rejected : 0);
        const nextCursor = page.cursor ?? null;
        // at most one earlier commit in flight
        await settle(1);
        // a commit that failed meanwhile stops the run (a later page would roll back anyway)
        if (firstFailure) await settle(0);
        const previous = inFlight[0];
        const after = previous ? { commit: previous.done, signalIds: previous.ids } : undefined;
        const pageIndex = fetched;
        const done = store
          .commitBatch({
            sourceId: source.id,
            sourceType: source.type,
            signals,
            cursor: nextCursor,
            asOf: page.asOf ?? null,
            rejected: pageRejected,
            ...(rejectedReason ? { rejectedReason } : {}),
            at: fetchedAt,
            ...(after ? { after } : {}),
          })
          .then(
            () => {
              result.pages += 1;
              result.stored += signals.length;
              result.rejected += pageRejected;
            },
            (commitError: unknown) => {
              if (!firstFailure || pageIndex < firstFailure.page) firstFailure = { page: pageIndex, error: commitError };
              throw commitError;
            },
          );
        // handled where it is awaited; this only keeps a failure from counting as unhandled meanwhile
        done.catch(() => undefined);
        inFlight.push({ done, ids: new Set(signals.map(s => s.id)) });
        // while the page commits
        if (Array.isArray(page.hosts)) batchHosts.add(page.hosts);
        cursor = nextCursor;
        hasMore = page.hasMore === true;
      }
      await settle(0);
      await batchHosts.store(this.now());
      if (hasMore) {
        logger.info(`runtime-risk source '${source.id}' has more data after ${MAX_PAGES_PER_RUN} pages; continuing next run`);
      }
      return result;
    } catch (error) {
      // commits still in flight are finished (or have failed) before the failure is recorded;
      // a failed commit is the cause (the earliest page's)
      while (inFlight.length) await inFlight.shift()!.done.catch(() => undefined);
      const failure = firstFailure ? firstFailure.error : error;
      const message = safeErrorMessage(failure);
      result.error = message;
      logger.warn(`runtime-risk source '${source.id}' sync failed: ${message}`);
      await store.recordFailure({ sourceId: source.id, sourceType: source.type, error: message, at: this.now() });
      return result;
    }
  }
}
