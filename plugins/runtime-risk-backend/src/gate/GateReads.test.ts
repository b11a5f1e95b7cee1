import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { CacheManager } from '@backstage/backend-defaults/cache';
import type { CacheService } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { randomUUID } from 'node:crypto';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import type { RuntimeRiskStore } from '../store/types';
import { EntityIndexer } from '../correlate/EntityIndexer';
import { readPolicyConfig } from '../engine';
import { component, MemoryPullSource } from '../testUtils/fixtures';
import { RiskService } from './RiskService';
import { CachedGateReads } from './GateReads';

/**
 * The gate's input cache (issue 9 "Caching"): real store on SQLite and
 * PostgreSQL, the Backstage cache service's memory store and Redis
 * (127.0.0.1:6379), and the real RiskService answering.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const REDIS = process.env.RUNTIME_RISK_TEST_REDIS ?? 'redis://127.0.0.1:6379';

const READS = ['getEntity', 'findSignalsByIdentifiers', 'listSourceStates', 'listActiveExceptions'] as const;

/** The store, with a count of its calls per method. */
function counting(store: RuntimeRiskStore) {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
  const reads = () => READS.reduce((n, m) => n + (calls[m] ?? 0), 0);
  return { store: proxy, calls, reads };
}

function cacheOf(kind: 'memory' | 'redis'): CacheService {
  const backend = kind === 'redis' ? { cache: { store: 'redis', connection: REDIS } } : {};
  // a plugin id of its own per test: runs never read each other's keys
  return CacheManager.fromConfig(new ConfigReader({ backend })).forPlugin(`runtime-risk-test-${randomUUID()}`);
}

function signal(sourceId: string, overrides: Partial<Signal> = {}): Signal {
  const at = '2026-11-29T09:00:00.000Z';
  return {
    id: `edr:${sourceId}`,
    source: 'edr',
    sourceId,
    kind: 'detection',
    severity: 'critical',
    confidence: 1,
    status: 'active',
    title: `detection ${sourceId}`,
    tactics: [],
    techniques: [],
    asset: { hostname: 'web-01', ips: [], macs: [] },
    firstSeenAt: at,
    lastSeenAt: at,
    fetchedAt: at,
    ...overrides,
  };
}

const WEB = 'component:default/web';

/** The EDR resolves the detection s1 (a new batch of the source). */
function resolveS1(store: RuntimeRiskStore) {
  return store.commitBatch({
    sourceId: 'edr',
    sourceType: 'memory',
    signals: [signal('s1', { status: 'resolved' })],
    cursor: '2',
    at: '2026-11-29T09:30:00.000Z',
  });
}
const GATE = { entityRef: WEB, environment: 'production', dryRun: false };

describe.each(databases.eachSupportedId())('gate input cache on %p', databaseId => {
  describe.each(['memory', 'redis'] as const)('with the %s cache store', cacheKind => {
    let now = new Date('2026-11-29T09:30:00.000Z');

    async function setup(cache: CacheService = cacheOf(cacheKind)) {
      const knex = await databases.init(databaseId);
      const real = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
      const counted = counting(real);
      const logger = mockServices.logger.mock();
      const indexer = new EntityIndexer({
        catalog: catalogServiceMock({ entities: [component('web', { 'runtime-risk.io/hosts': 'web-01' })] }),
        auth: mockServices.auth(),
        store: real,
        logger,
      });
      await indexer.rebuild();
      await real.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [signal('s1')], cursor: '1', at: now.toISOString() });
      const reads = new CachedGateReads({ store: counted.store, cache, ttlMs: 60_000, logger, namespace: 'policy-hash' });
      const risk = new RiskService({
        store: real,
        indexer,
        policy: readPolicyConfig(new ConfigReader({})),
        sources: () => [{ source: new MemoryPullSource('edr'), frequencyMs: 3600_000 }],
        clock: () => now,
        reads,
      });
      return { real, counted, risk, logger, reads };
    }

    beforeEach(() => {
      now = new Date('2026-11-29T09:30:00.000Z');
    });

    it('reads the inputs once, then answers from the cache until signals change', async () => {
      const { real, counted, risk } = await setup();
      const first = await risk.gate(GATE);
      expect(first.decision).toBe('block');
      expect(first.signals.count).toBe(1);
      const readsAfterFirst = counted.reads();
      expect(readsAfterFirst).toBeGreaterThanOrEqual(READS.length);

      const again = await risk.gate(GATE);
      expect(again.decision).toBe('block');
      expect(again.decisionId).not.toBe(first.decisionId);
      expect(counted.reads()).toBe(readsAfterFirst); // nothing read from the store but the version
      expect(counted.calls.getDataVersion).toBe(2);

      // the detection is resolved by the EDR: the next answer sees it
      await resolveS1(real);
      const after = await risk.gate(GATE);
      expect(after.decision).toBe('proceed');
      expect(counted.reads()).toBeGreaterThan(readsAfterFirst);
      // every answer was recorded
      expect((await real.listDecisions({ entityRef: WEB, limit: 10 })).totalCount).toBe(3);
    });

    it('shares what one process read with another through the cache service', async () => {
      const cache = cacheOf(cacheKind);
      const first = await setup(cache);
      expect((await first.risk.gate(GATE)).decision).toBe('block');
      await first.reads.settled(); // the cache writes are not awaited by the request
      // a second process (its own reader, nothing decoded locally) on the same cache and database
      const counted = counting(first.real);
      const reads = new CachedGateReads({ store: counted.store, cache, ttlMs: 60_000, namespace: 'policy-hash', localEntries: 0 });
      const session = await reads.session();
      const entity = await session.entity(WEB);
      expect(entity?.hosts.map(h => h.value)).toEqual(['web-01']);
      expect((await session.correlated(entity!, 'production')).signals.map(s => s.id)).toEqual(['edr:s1']);
      expect(await session.sourceStates()).toHaveLength(1);
      expect(await session.activeExceptions(WEB, 'production', now.toISOString())).toEqual([]);
      expect(counted.reads()).toBe(0);
      expect(counted.calls.getDataVersion).toBe(1);
    });

    it('sees a change of the correlation index at once', async () => {
      const { real, risk } = await setup();
      expect((await risk.gate(GATE)).decision).toBe('block');
      const entity = await real.getEntity(WEB);
      await real.upsertEntity({ ...entity!, hosts: [] });
      const after = await risk.gate(GATE);
      expect(after.hosts).toEqual([]);
      expect(after.reasons.map(r => r.code)).toContain('uncorrelated');
    });

    it('applies an approved exception at once and stops applying it when it expires, without a write', async () => {
      const { real, risk } = await setup();
      expect((await risk.gate(GATE)).exception).toBeUndefined();
      await real.insertException({
        id: 'ex-1',
        entityRef: WEB,
        environment: 'production',
        reason: 'hotfix',
        requestedBy: 'user:default/owner',
        status: 'approved',
        approvedBy: 'user:default/sam',
        expiresAt: '2026-11-29T10:00:00.000Z',
        signalIds: null,
        maxLevel: 'high',
        createdAt: now.toISOString(),
      });
      const covered = await risk.gate(GATE);
      expect(covered.exception?.id).toBe('ex-1');
      expect(covered.decision).toBe('proceed');
      now = new Date('2026-11-29T10:00:01.000Z');
      const expired = await risk.gate(GATE);
      expect(expired.exception).toBeUndefined();
      expect(expired.decision).toBe('block');
    });

    it('answers at once from the database while Redis is unreachable (the cache writes hang there)', async () => {
      // nothing listens on this port: the Redis client queues commands while it reconnects
      const dead = CacheManager.fromConfig(
        new ConfigReader({ backend: { cache: { store: 'redis', connection: 'redis://127.0.0.1:6390' } } }),
      ).forPlugin(`runtime-risk-test-${randomUUID()}`);
      const { real, risk, logger, reads } = await setup(dead);
      expect((await risk.gate(GATE)).decision).toBe('block');
      await resolveS1(real);
      expect((await risk.gate(GATE)).decision).toBe('proceed');
      await reads.settled(); // the hanging write gave up (timeout) rather than staying queued forever
      const warnings = (logger.warn as unknown as { mock: { calls: string[][] } }).mock.calls.map(c => c[0]);
      expect(warnings.filter(w => w.includes('gate input cache unavailable'))).toHaveLength(1);
    });

    it('reads through to the database while the cache store fails, and says so once', async () => {
      const failing: CacheService = {
        get: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:6399');
        },
        set: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:6399');
        },
        delete: async () => {},
        withOptions: () => failing,
      };
      const { real, risk, logger } = await setup(failing);
      expect((await risk.gate(GATE)).decision).toBe('block');
      await resolveS1(real);
      expect((await risk.gate(GATE)).decision).toBe('proceed');
      const warnings = (logger.warn as unknown as { mock: { calls: string[][] } }).mock.calls.map(c => c[0]);
      expect(warnings.filter(w => w.includes('gate input cache unavailable'))).toHaveLength(1);
      expect(warnings.join('\n')).toContain('ECONNREFUSED');
    });
  });
});

describe('CachedGateReads.version', () => {
  it('shares one read among concurrent requests, but never one that started before a request arrived', async () => {
    const pending: (() => void)[] = [];
    let n = 0;
    const store = {
      getDataVersion: () =>
        new Promise<string>(resolve => {
          pending.push(() => resolve(`e.${++n}`));
        }),
    } as unknown as RuntimeRiskStore;
    const reads = new CachedGateReads({ store, cache: cacheOf('memory'), ttlMs: 1000 });
    const a = reads.version();
    const b = reads.version();
    const c = reads.version();
    expect(pending).toHaveLength(1); // b and c wait for a read that starts after a's
    pending[0]();
    expect(await a).toBe('e.1');
    await new Promise(resolve => setImmediate(resolve));
    expect(pending).toHaveLength(2);
    const d = reads.version(); // arrives while b and c's read runs: waits for the next
    pending[1]();
    expect(await b).toBe('e.2');
    expect(await c).toBe('e.2');
    await new Promise(resolve => setImmediate(resolve));
    expect(pending).toHaveLength(3);
    pending[2]();
    expect(await d).toBe('e.3');
  });
});
