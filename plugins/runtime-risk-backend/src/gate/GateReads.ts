import type { CacheService, LoggerService } from '@backstage/backend-plugin-api';
import type { JsonValue } from '@backstage/types';
import { isError } from '@backstage/errors';
import { correlate, type Correlated } from '../correlate/correlate';
import type { ExceptionRecord, IndexedEntity, RuntimeRiskStore, SourceState } from '../store/types';

/**
 * What the gate and the risk views read from the store for one entity: every
 * read of a gate request goes through here (never an EDR API, never the catalog
 * unless the entity is not indexed yet). A request opens one session and makes
 * all its reads in it.
 */
export interface GateReads {
  session(): Promise<GateReadSession>;
}

/** The reads of one request. */
export interface GateReadSession {
  entity(entityRef: string): Promise<IndexedEntity | undefined>;
  correlated(entity: IndexedEntity, environment: string | undefined): Promise<Correlated>;
  sourceStates(): Promise<SourceState[]>;
  /** Approved exceptions of the entity + environment that have not expired at `now`. */
  activeExceptions(entityRef: string, environment: string, now: string): Promise<ExceptionRecord[]>;
}

/** {@link GateReads} straight from the store. */
export class StoreGateReads implements GateReads, GateReadSession {
  constructor(private readonly store: RuntimeRiskStore) {}

  async session(): Promise<GateReadSession> {
    return this;
  }

  entity(entityRef: string) {
    return this.store.getEntity(entityRef);
  }

  correlated(entity: IndexedEntity, environment: string | undefined) {
    return correlate(this.store, entity, environment);
  }

  sourceStates() {
    return this.store.listSourceStates();
  }

  activeExceptions(entityRef: string, environment: string, now: string) {
    return this.store.listActiveExceptions(entityRef, environment, now);
  }
}

const DEFAULT_CACHE_TIMEOUT_MS = 250;
const DEFAULT_CACHE_RETRY_MS = 30_000;

/** A cached value with the data version it was read at. */
interface Versioned {
  v: string;
  d: JsonValue;
}

/**
 * {@link GateReads} through the Backstage cache service (memory by default,
 * Redis, Valkey or Memcache when `backend.cache` says so), invalidated by the
 * store's data version: every write of signals, source state, the entity index
 * or exceptions increments it in its own transaction, each cached value carries
 * the version it was read at, and a value of an older version is a miss. So a
 * change is seen by the next request on every replica, whatever the cache store.
 *
 * Per request (session) this costs one read of the version (shared by the requests that
 * arrive while one is in flight: a request waits for a read that started after
 * it arrived, so it never sees a version older than its own arrival) and a cache
 * get per input. Keys are per entity and environment (not per version), so the
 * cache holds at most one value per key; values also expire after `ttlMs`.
 * Exceptions are cached with their expiry and filtered at request time, so an
 * exception that expires between two writes stops applying on time. Cache
 * errors and timeouts (e.g. Redis down) are logged once and read through to the
 * store; writes to the cache never delay an answer.
 * In front of the cache service, each process keeps the decoded values it used
 * last (`localEntries`, checked against the version the same way), so a hot
 * entity costs no decoding (memory store) and no round trip (Redis).
 */
export class CachedGateReads implements GateReads {
  private inflight: Promise<string> | undefined;
  private queued: Promise<string> | undefined;
  private readonly loading = new Map<string, Promise<Versioned>>();
  /** Decoded values of this process (deep-frozen), checked against the version like the cache's. */
  private readonly local = new Map<string, Versioned>();
  private cacheFailing = false;
  private readonly setting = new Set<Promise<unknown>>();
  /** Until when the cache store is not asked (after a failure), ms since the epoch. */
  private cacheDownUntil = 0;
  /** The reads themselves, on a miss. */
  private readonly direct: StoreGateReads;

  constructor(
    private readonly options: {
      store: RuntimeRiskStore;
      cache: CacheService;
      /** How long a value may stay in the cache at most (ms). */
      ttlMs: number;
      /** Prefix of every key (the policy hash: a new policy never reads inputs cached under another). */
      namespace?: string;
      /** Decoded values kept in this process in front of the cache service (default 5,000; 0 turns it off). */
      localEntries?: number;
      /** Longest wait for one cache operation (default 250 ms); then it counts as failed. */
      timeoutMs?: number;
      /** After a failed cache operation, how long the cache is not asked (default 30 s). */
      retryMs?: number;
      logger?: LoggerService;
    },
  ) {
    this.direct = new StoreGateReads(options.store);
  }

  /** The store's current data version (see the class comment). */
  version(): Promise<string> {
    if (!this.inflight) return this.readVersion();
    if (!this.queued) {
      const next = () => {
        this.queued = undefined;
        return this.readVersion();
      };
      this.queued = this.inflight.then(next, next);
    }
    return this.queued;
  }

  private readVersion(): Promise<string> {
    const read = this.options.store.getDataVersion().finally(() => {
      if (this.inflight === read) this.inflight = undefined;
    });
    this.inflight = read;
    return read;
  }

  async session(): Promise<GateReadSession> {
    const v = await this.version();
    const { direct } = this;
    return {
      // a miss is cached too (null): the caller then asks the catalog once and writes the index (a new version)
      entity: async entityRef => (await this.through(v, `entity:${entityRef}`, async () => (await direct.entity(entityRef)) ?? null)) ?? undefined,
      correlated: (entity, environment) =>
        this.through(v, `correlated:${entity.entityRef}:${environment ?? '*'}`, () => direct.correlated(entity, environment)),
      sourceStates: () => this.through(v, 'sources', () => direct.sourceStates()),
      activeExceptions: async (entityRef, environment, now) => {
        // every approved one (whatever its expiry) is cached; expiry is applied per request
        const approved = await this.through(v, `exceptions:${entityRef}:${environment}`, () =>
          this.options.store.listActiveExceptions(entityRef, environment),
        );
        return approved.filter(e => e.expiresAt > now);
      },
    };
  }

  private async through<X>(v: string, key: string, load: () => Promise<X>): Promise<X> {
    key = `${this.options.namespace ?? ''}:${key}`;
    const local = this.local.get(key);
    if (local && local.v === v) return local.d as X;
    const hit = await this.cacheGet(key);
    if (hit && hit.v === v) {
      this.remember(key, hit);
      return hit.d as X;
    }
    // one load per key and version at a time in this process
    const loadKey = `${v}:${key}`;
    let pending = this.loading.get(loadKey);
    if (!pending) {
      pending = (async () => {
        const value: Versioned = { v, d: (await load()) as JsonValue };
        this.cacheSet(key, value);
        this.remember(key, value);
        return value;
      })().finally(() => this.loading.delete(loadKey));
      this.loading.set(loadKey, pending);
    }
    return (await pending).d as X;
  }

  /**
   * Keeps a decoded value in this process (the cache service's stores copy on
   * every get). Deep-frozen, because every request shares it. Oldest first out.
   */
  private remember(key: string, value: Versioned) {
    const max = this.options.localEntries ?? 5000;
    if (max <= 0) return;
    this.local.delete(key);
    this.local.set(key, { v: value.v, d: deepFreeze(value.d) });
    if (this.local.size > max) this.local.delete(this.local.keys().next().value as string);
  }

  private async cacheGet(key: string): Promise<Versioned | undefined> {
    const value = await this.cacheOp(() => this.options.cache.get<Versioned & JsonValue>(key));
    return value && typeof value === 'object' && 'v' in value ? (value as unknown as Versioned) : undefined;
  }

  /** Not awaited by the request: a slow or unreachable cache store must not delay the answer. */
  private cacheSet(key: string, value: Versioned): void {
    const setting = this.cacheOp(() => this.options.cache.set(key, value as unknown as JsonValue, { ttl: this.options.ttlMs })).finally(
      () => this.setting.delete(setting),
    );
    this.setting.add(setting);
  }

  /** Resolves when every cache write started so far has finished or given up (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.setting]);
  }

  /**
   * One cache operation, bounded by `timeoutMs` (a cache client may queue
   * commands while its store is unreachable, e.g. Redis reconnecting). A failure
   * or timeout is logged once per outage and the cache is left alone for
   * `retryMs` (reads go to the database meanwhile, nothing piles up in the
   * client's queue); the first success after it is logged too.
   */
  private async cacheOp<X>(op: () => Promise<X>): Promise<X | undefined> {
    const now = Date.now();
    if (now < this.cacheDownUntil) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${this.options.timeoutMs ?? DEFAULT_CACHE_TIMEOUT_MS} ms`)),
          this.options.timeoutMs ?? DEFAULT_CACHE_TIMEOUT_MS,
        );
      });
      const result = await Promise.race([op(), timeout]);
      if (this.cacheFailing) {
        this.cacheFailing = false;
        this.options.logger?.info('runtime-risk gate input cache is available again');
      }
      return result;
    } catch (e) {
      this.cacheDownUntil = Date.now() + (this.options.retryMs ?? DEFAULT_CACHE_RETRY_MS);
      if (!this.cacheFailing) {
        this.cacheFailing = true;
        this.options.logger?.warn(
          `runtime-risk gate input cache unavailable, reading from the database: ${isError(e) ? e.message : String(e)}`,
        );
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

function deepFreeze<X>(value: X): X {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
