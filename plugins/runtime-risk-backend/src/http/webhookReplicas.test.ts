import { TestDatabases } from '@backstage/backend-test-utils';
import type { Harness } from '../testUtils/backend';
import { signalInput } from '../testUtils/fixtures';
import { postGate } from '../testUtils/gateRequests';
import { pushReplicasPerDatabase, sendDelivery, signedDelivery, type SignedDelivery } from '../testUtils/pushReplicas';

/**
 * Issue 16 part 8: pushes across replicas. Two backends share one database
 * (as replicas do); each has its own instance of the push source. A delivery
 * accepted by one is refused when replayed to the other (the replay guard is
 * in the database, not in a replica's memory), and a late or replayed
 * delivery never overwrites a newer state of the same signal.
 */
const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
const SECRET = 'replica-test-secret';
const PATH = '/api/runtime-risk/v1/signals/webhook/edr-push';

describe.each(databases.eachSupportedId())('webhook pushes to two replicas on %p', databaseId => {
  const replicas = pushReplicasPerDatabase(databases, databaseId, { moduleId: 'replica-push', sourceId: 'edr-push', secret: SECRET });
  beforeAll(async () => {
    await replicas.a.runTask('runtime-risk-correlate');
  });

  const delivery = (signals: unknown[], timestamp?: number) => signedDelivery(SECRET, signals, timestamp);
  const send = (to: Harness, d: SignedDelivery) => sendDelivery(to, PATH, d);
  const status = async (id: string) => (await replicas.knex('runtime_risk_signals').where({ id }).first('status'))?.status;

  it('refuses a delivery replayed to the other replica, and accepts one of two concurrent copies', async () => {
    const { knex, a, b } = replicas;
    const first = delivery([signalInput('r-1', { hostname: 'web-01', severity: 'critical' })]);
    expect((await send(a, first)).status).toBe(202);
    const replayed = await send(b, first);
    expect(replayed.status).toBe(401);
    expect(replayed.body.error.message).toContain('replayed');
    expect((await send(a, first)).status).toBe(401);

    const second = delivery([signalInput('r-2', { hostname: 'web-01', severity: 'low' })], Math.floor(Date.now() / 1000) + 1);
    const both = await Promise.all([send(a, second), send(b, second)]);
    expect(both.map(r => r.status).sort()).toEqual([202, 401]);
    expect(Number((await knex('runtime_risk_push_deliveries').where({ source: 'edr-push' }).count({ n: '*' }).first())?.n)).toBe(2);
  });

  it('never lets an older delivery reactivate a resolved signal', async () => {
    const { knex, a, b } = replicas;
    const t0 = Date.now() - 60_000;
    const at = (ms: number) => new Date(ms).toISOString();
    const active = { ...signalInput('r-3', { hostname: 'web-01', severity: 'critical' }), firstSeenAt: at(t0), lastSeenAt: at(t0), updatedAt: at(t0) };
    const resolved = { ...active, status: 'resolved', updatedAt: at(t0 + 30_000) };
    expect((await send(a, delivery([active]))).status).toBe(202);
    expect(await status('edr-push:r-3')).toBe('active');
    expect((await send(b, delivery([resolved], Math.floor(Date.now() / 1000) + 2))).status).toBe(202);
    expect(await status('edr-push:r-3')).toBe('resolved');

    // the vendor re-sends the older state late (a new, valid signature): accepted, not applied
    const late = await send(a, delivery([active], Math.floor(Date.now() / 1000) + 3));
    expect(late.status).toBe(202);
    expect(await status('edr-push:r-3')).toBe('resolved');
    // without updatedAt, lastSeenAt orders the states: an older one does not win either
    const { updatedAt: _dropped, ...noUpdatedAt } = active;
    expect((await send(b, delivery([noUpdatedAt], Math.floor(Date.now() / 1000) + 4))).status).toBe(202);
    expect(await status('edr-push:r-3')).toBe('resolved');
    // the same state again (equal time) and a newer one are applied
    const reopened = { ...active, updatedAt: at(t0 + 50_000), severity: 'high' };
    expect((await send(a, delivery([reopened], Math.floor(Date.now() / 1000) + 5))).status).toBe(202);
    expect(await knex('runtime_risk_signals').where({ id: 'edr-push:r-3' }).first('status', 'severity')).toEqual({ status: 'active', severity: 'high' });

    // the gate reads the newest stored state
    const gate = await postGate(b.backend.server, 'component:default/payments');
    expect(gate.status).toBe(200);
    expect(gate.body.reasons.flatMap((r: { signalIds: string[] }) => r.signalIds)).toContain('edr-push:r-3');
  });
});
