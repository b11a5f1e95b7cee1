import type { LoggerService } from '@backstage/backend-plugin-api';
import type { PullSignalSource } from '@internal/plugin-runtime-risk-node';
import type { RuntimeRiskStore } from '../store/types';
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
      store: RuntimeRiskStore;
      logger: LoggerService;
      clock?: () => Date;
    },
  ) {}

  private now(): string {
    return (this.options.clock?.() ?? new Date()).toISOString();
  }

  /**
   * Fetches the next page while the previous one commits (one commit at a time,
   * in page order): each page is committed with its own cursor in one
   * transaction, and a page is committed only after the one before it, so a
   * crash or an error at any point leaves the stored signals and the cursor of
   * the last committed page, and the next run resumes from there.
   */
  async run(source: PullSignalSource, abortSignal?: AbortSignal): Promise<IngestionRunResult> {
    const { store } = this.options;
    const logger = this.options.logger;
    const sourceLogger = logger.child({ source: source.id });
    const result: IngestionRunResult = { pages: 0, stored: 0, rejected: 0 };
    // the commit of the page before the one being fetched (its errors surface where it is awaited)
    let committing: Promise<void> | undefined;
    const committed = async () => {
      const pending = committing;
      committing = undefined;
      await pending;
    };
    try {
      const state = await store.getSourceState(source.id);
      let cursor = state?.cursor ?? null;
      let hasMore = true;
      let fetched = 0;
      while (hasMore && fetched < MAX_PAGES_PER_RUN) {
        if (abortSignal?.aborted) throw new Error('sync aborted (timeout or shutdown)');
        const page = await source.fetch({ cursor, logger: sourceLogger, signal: abortSignal });
        fetched += 1;
        const fetchedAt = this.now();
        const inputs: unknown[] = Array.isArray(page?.signals) ? page.signals : [];
        const { signals, rejected } = validateSignals({ sourceId: source.id, inputs, fetchedAt, logger });
        const pageRejected = rejected + (typeof page.rejected === 'number' && page.rejected > 0 ? page.rejected : 0);
        const nextCursor = page.cursor ?? null;
        // the previous page first: pages (and their cursors) are committed in order
        await committed();
        committing = store
          .commitBatch({
            sourceId: source.id,
            sourceType: source.type,
            signals,
            cursor: nextCursor,
            asOf: page.asOf ?? null,
            rejected: pageRejected,
            at: fetchedAt,
          })
          .then(() => {
            result.pages += 1;
            result.stored += signals.length;
            result.rejected += pageRejected;
          });
        // handled where it is awaited; this only keeps a failure from counting as unhandled meanwhile
        committing.catch(() => undefined);
        cursor = nextCursor;
        hasMore = page.hasMore === true;
      }
      await committed();
      if (hasMore) {
        logger.info(`runtime-risk source '${source.id}' has more data after ${MAX_PAGES_PER_RUN} pages; continuing next run`);
      }
      return result;
    } catch (error) {
      // a page still committing is finished (or has failed) before the failure is recorded
      let failure = error;
      if (committing) {
        failure = await committed().then(
          () => error,
          (commitError: unknown) => commitError,
        );
      }
      const message = safeErrorMessage(failure);
      result.error = message;
      logger.warn(`runtime-risk source '${source.id}' sync failed: ${message}`);
      await store.recordFailure({ sourceId: source.id, sourceType: source.type, error: message, at: this.now() });
      return result;
    }
  }
}
