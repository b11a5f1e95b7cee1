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

  async run(source: PullSignalSource, abortSignal?: AbortSignal): Promise<IngestionRunResult> {
    const { store } = this.options;
    const logger = this.options.logger;
    const sourceLogger = logger.child({ source: source.id });
    const result: IngestionRunResult = { pages: 0, stored: 0, rejected: 0 };
    try {
      const state = await store.getSourceState(source.id);
      let cursor = state?.cursor ?? null;
      let hasMore = true;
      while (hasMore && result.pages < MAX_PAGES_PER_RUN) {
        if (abortSignal?.aborted) throw new Error('sync aborted (timeout or shutdown)');
        const page = await source.fetch({ cursor, logger: sourceLogger, signal: abortSignal });
        const fetchedAt = this.now();
        const inputs: unknown[] = Array.isArray(page?.signals) ? page.signals : [];
        const { signals, rejected } = validateSignals({ sourceId: source.id, inputs, fetchedAt, logger });
        const pageRejected = rejected + (typeof page.rejected === 'number' && page.rejected > 0 ? page.rejected : 0);
        const nextCursor = page.cursor ?? null;
        await store.commitBatch({
          sourceId: source.id,
          sourceType: source.type,
          signals,
          cursor: nextCursor,
          asOf: page.asOf ?? null,
          rejected: pageRejected,
          at: fetchedAt,
        });
        cursor = nextCursor;
        result.pages += 1;
        result.stored += signals.length;
        result.rejected += pageRejected;
        hasMore = page.hasMore === true;
      }
      if (hasMore) {
        logger.info(`runtime-risk source '${source.id}' has more data after ${MAX_PAGES_PER_RUN} pages; continuing next run`);
      }
      return result;
    } catch (error) {
      const message = safeErrorMessage(error);
      result.error = message;
      logger.warn(`runtime-risk source '${source.id}' sync failed: ${message}`);
      await store.recordFailure({ sourceId: source.id, sourceType: source.type, error: message, at: this.now() });
      return result;
    }
  }
}
