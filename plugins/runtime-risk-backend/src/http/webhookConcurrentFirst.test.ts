import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import { signalInput } from '../testUtils/fixtures';
import { pushReplicasPerDatabase, sendDelivery, signedDelivery } from '../testUtils/pushReplicas';

/**
 * Concurrent first deliveries to a new push source: the source has no state row
 * yet, and each delivery's commit creates it. The row is an atomic upsert, so
 * none of them fails on the duplicate key (it was a 500 on PostgreSQL).
 */
const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
const SECRET = 'concurrent-first-secret';
const PATH = '/api/runtime-risk/v1/signals/webhook/edr-new';
const N = 8;

describe.each(databases.eachSupportedId())('concurrent first deliveries to a new push source on %p', databaseId => {
  const replicas = pushReplicasPerDatabase(databases, databaseId, { moduleId: 'concurrent-push', sourceId: 'edr-new', secret: SECRET });

  it(`answers 2xx to ${N} concurrent signed first deliveries (two replicas) and stores every signal`, async () => {
    const { knex, a, b } = replicas;
    expect(await knex('runtime_risk_source_state').where({ id: 'edr-new' }).first()).toBeUndefined();
    const now = Math.floor(Date.now() / 1000);
    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) => {
        const d = signedDelivery(SECRET, [signalInput(`c-${i}`, { hostname: `web-${i}`, severity: 'high' })], now);
        return sendDelivery(i % 2 ? b : a, PATH, d).set('Authorization', mockCredentials.user.header());
      }),
    );
    expect(responses.map(r => [r.status, r.status >= 300 ? JSON.stringify(r.body) : ''])).toEqual(responses.map(() => [202, '']));
    const ids = (await knex('runtime_risk_signals').where('id', 'like', 'edr-new:%').select('id')).map(r => r.id).sort();
    expect(ids).toEqual(Array.from({ length: N }, (_, i) => `edr-new:c-${i}`).sort());
    const state = await knex('runtime_risk_source_state').where({ id: 'edr-new' });
    expect(state).toHaveLength(1);
    expect(state[0]).toMatchObject({ consecutive_failures: 0, last_error: null });
  });
});
