import type {
  HostInventoryFetchOptions,
  HostInventoryFetchResult,
  PullSignalSource,
  SignalSourceFetchOptions,
  SignalSourceFetchResult,
} from '../source';
import type { Clock } from './clock';
import { HttpAuth, QueryValue, SourceHttpClient } from './client';
import type { CommonPullSourceOptions } from './config';
import type { RetryAfterParser } from './retryAfter';

/** Options every HTTP pull adapter accepts besides its credentials. */
export interface HttpPullSourceOptions extends CommonPullSourceOptions {
  /** Source instance id; defaults to the adapter type. */
  id?: string;
  /** Injected in tests to make retries instant. */
  clock?: Clock;
  random?: () => number;
}

/** Settings shared by an adapter's API client and its token provider. */
export interface SharedHttpSettings {
  sourceId: string;
  timeoutMs?: number;
  retryAfter?: RetryAfterParser;
  clock?: Clock;
  random?: () => number;
}

/**
 * Base of the vendor pull adapters: id, type, schedule, one
 * {@link SourceHttpClient} configured from the options, and a health check
 * probing one cheap endpoint. Adapters implement `fetch`.
 */
export abstract class HttpPullSource<O extends HttpPullSourceOptions> implements PullSignalSource {
  readonly id: string;
  readonly type: string;
  readonly mode = 'pull' as const;
  readonly schedule?: PullSignalSource['schedule'];
  /** The vendor host inventory sync: set when the adapter implements `listHosts` and `hostInventory.enabled` is not false. */
  readonly syncHosts?: (options: HostInventoryFetchOptions) => Promise<HostInventoryFetchResult>;
  readonly inventorySchedule?: PullSignalSource['inventorySchedule'];
  protected readonly opts: O;
  protected readonly http: SourceHttpClient;
  private readonly probe: { path: string; query?: Record<string, QueryValue> };

  protected constructor(
    options: O,
    adapter: {
      type: string;
      retryAfter?: RetryAfterParser;
      probe: { path: string; query?: Record<string, QueryValue> };
      connect(shared: SharedHttpSettings): { baseUrl: string; auth?: HttpAuth; secrets?: string[] };
    },
  ) {
    this.opts = options;
    this.type = adapter.type;
    this.id = options.id ?? adapter.type;
    this.schedule = options.schedule;
    this.probe = adapter.probe;
    const shared: SharedHttpSettings = {
      sourceId: this.id,
      timeoutMs: options.requestTimeoutMs,
      retryAfter: adapter.retryAfter,
      clock: options.clock,
      random: options.random,
    };
    this.http = new SourceHttpClient({ ...shared, ...adapter.connect(shared) });
    const inventory = options.hostInventory;
    const listHosts = this.listHosts;
    if (listHosts && inventory?.enabled !== false) {
      this.syncHosts = o => listHosts.call(this, o);
      this.inventorySchedule = {
        frequency: inventory?.frequency ?? { hours: 1 },
        timeout: inventory?.timeout ?? { minutes: 15 },
      };
    }
  }

  abstract fetch(options: SignalSourceFetchOptions): Promise<SignalSourceFetchResult>;

  /** The adapter's walk over the vendor host inventory (exposed as `syncHosts` unless turned off by config). */
  protected listHosts?(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult>;

  /** Pages per inventory call (`hostInventory.maxPages`, else the adapter's default). */
  protected inventoryMaxPages(fallback: number): number {
    return this.opts.hostInventory?.maxPages ?? fallback;
  }

  /** Hosts per inventory page (`hostInventory.pageSize`, else `fallback`), at most `max`. */
  protected inventoryPageSize(fallback: number, max: number): number {
    return Math.min(this.opts.hostInventory?.pageSize ?? fallback, max);
  }

  healthCheck(): Promise<{ ok: boolean; message?: string }> {
    return this.http.probe(this.probe.path, this.probe.query);
  }
}
