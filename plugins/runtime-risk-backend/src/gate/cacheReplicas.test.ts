import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import knexFactory, { type Knex } from 'knex';
import request from 'supertest';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';

/**
 * Two replicas of the backend on one PostgreSQL database, each with its own
 * connection pool and gate input cache (memory: one per process; Redis: shared).
 * A change written through one replica is seen by the next gate answer of the
 * other, at once: the cache is invalidated by the database's data version.
 */
const databases = TestDatabases.create({ ids: ['POSTGRES_15'] });
const USER = mockCredentials.user.header();
const REDIS = process.env.RUNTIME_RISK_TEST_REDIS ?? 'redis://127.0.0.1:6379';

describe.each(databases.eachSupportedId())('gate cache across two replicas on %p', databaseId => {
  describe.each([
    ['memory', {}],
    ['redis', { backend: { cache: { store: 'redis', connection: REDIS } } }],
  ] as const)('with the %s cache store', (_kind, cacheConfig) => {
    const started: Harness[] = [];
    const pools: Knex[] = [];

    afterEach(async () => {
      await Promise.all(started.splice(0).map(h => h.backend.stop()));
      await Promise.all(pools.splice(0).map(p => p.destroy()));
    });

    it('answers from the data another replica just wrote', async () => {
      const knexA = await databases.init(databaseId);
      const knexB = knexFactory({ client: 'pg', connection: knexA.client.config.connection, pool: { min: 0, max: 5 } });
      pools.push(knexB);
      const edrA = new MemoryPullSource('edr');
      edrA.pages = [{ signals: [signalInput('low-1', { hostname: 'web-01', severity: 'low' })] }];
      const edrB = new MemoryPullSource('edr');
      edrB.pages = [
        { signals: [signalInput('low-1', { hostname: 'web-01', severity: 'low' })] },
        { signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })] },
      ];
      const a = await startBackend({ knex: knexA, sources: [edrA], config: cacheConfig });
      started.push(a);
      const b = await startBackend({ knex: knexB, sources: [edrB], config: cacheConfig });
      started.push(b);

      await a.runTask('runtime-risk-ingest-edr');
      await a.runTask('runtime-risk-correlate');
      const gate = (h: Harness) =>
        request(h.backend.server)
          .post('/api/runtime-risk/v1/gate')
          .set('Authorization', USER)
          .send({ entityRef: 'component:default/payments', environment: 'production' });

      const before = await gate(a);
      expect(before.status).toBe(200);
      expect(before.body.decision).toBe('proceed');
      expect((await gate(b)).body.decision).toBe('proceed');
      expect((await gate(a)).body.decision).toBe('proceed'); // now cached on A

      // replica B ingests a critical detection (its cursor continues after A's page)
      await b.runTask('runtime-risk-ingest-edr');
      const after = await gate(a);
      expect(after.status).toBe(200);
      expect(after.body.decision).toBe('block');
      expect(after.body.signals.count).toBe(2);
      expect((await gate(b)).body.decision).toBe('block');
    });
  });
});
