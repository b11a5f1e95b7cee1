import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import knexFactory, { type Knex } from 'knex';
import request from 'supertest';
import { criticalEdrSource, signalInput } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';

/**
 * Fault: PostgreSQL drops every connection of the backend (failover, restart,
 * idle kill). The next gate call and the next ingestion run work again without
 * restarting the backend.
 */
const databases = TestDatabases.create({ ids: ['POSTGRES_15'] });
const USER = mockCredentials.user.header();

describe.each(databases.eachSupportedId())('PostgreSQL connections dropped on %p', databaseId => {
  let knex: Knex;
  let admin: Knex;
  let harness: Harness;

  afterAll(async () => {
    await harness?.backend.stop();
    await admin?.destroy();
  });

  /** Terminates every session of the backend's database from a separate admin connection; returns how many. */
  async function terminateBackendConnections(): Promise<number> {
    const { rows } = await knex.raw<{ rows: { db: string }[] }>('select current_database() as db');
    const result = await admin.raw<{ rows: { pg_terminate_backend: boolean }[] }>(
      'select pg_terminate_backend(pid) from pg_stat_activity where datname = ? and pid <> pg_backend_pid()',
      [rows[0].db],
    );
    return result.rows.filter(r => r.pg_terminate_backend).length;
  }

  it('recovers the gate and ingestion after pg_terminate_backend, without restart', async () => {
    knex = await databases.init(databaseId);
    const connection = process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING ?? 'postgresql://postgres@127.0.0.1:5432';
    admin = knexFactory({ client: 'pg', connection: `${connection.replace(/\/$/, '')}/postgres`, pool: { min: 0, max: 1 } });

    const edr = criticalEdrSource();
    harness = await startBackend({ knex, sources: [edr] });
    const server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');

    const gate = () =>
      request(server)
        .post('/api/runtime-risk/v1/gate')
        .set('Authorization', USER)
        .send({ entityRef: 'component:default/payments', environment: 'production' });

    // warm the pool with several connections, then kill them all (twice: idle and again right after use)
    await Promise.all([gate(), gate(), gate(), gate()]);
    for (let round = 0; round < 2; round++) {
      expect(await terminateBackendConnections()).toBeGreaterThan(0);
      // let the pool notice the dead sockets (an 'error' event per idle client)
      await new Promise(resolve => setTimeout(resolve, 250));

      const after = await gate();
      expect(after.status).toBe(200);
      expect(after.body.decision).toBe('block');
      const again = await Promise.all([gate(), gate(), gate()]);
      expect(again.map(r => r.status)).toEqual([200, 200, 200]);
    }

    // ingestion after a drop: the next run commits its batch
    expect(await terminateBackendConnections()).toBeGreaterThan(0);
    await new Promise(resolve => setTimeout(resolve, 250));
    edr.pages.push({ signals: [signalInput('crit-2', { hostname: 'web-01', severity: 'critical' })] });
    await harness.runTask('runtime-risk-ingest-edr');
    const state = await knex('runtime_risk_source_state').where({ id: 'edr' }).first();
    expect(state).toMatchObject({ cursor: '2', consecutive_failures: 0 });
    const signals = await request(server).get('/api/runtime-risk/v1/signals').set('Authorization', USER);
    expect(signals.status).toBe(200);
    expect(signals.body.totalCount).toBe(2);
  });
});
