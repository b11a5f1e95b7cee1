import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';
import { allowAll } from '../testUtils/permissions';
import { AUDIT_LOG_TABLE } from '../store/DatabaseAuditLogStore';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const API = '/api/runtime-risk/v1';
const DEV = mockCredentials.user.header('user:default/dev');

describe.each(databases.eachSupportedId())('GET /v1/audit/verify on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })],
    authorize: allowAll,
  });

  const verify = async () => {
    const res = await request(seeded.server).get(`${API}/audit/verify`).set('Authorization', DEV);
    expect(res.status).toBe(200);
    return res.body;
  };

  it('keeps the chain linear under 20 parallel gate calls and exception requests', async () => {
    const gates = Array.from({ length: 20 }, (_, i) =>
      request(seeded.server)
        .post(`${API}/gate`)
        .set('Authorization', mockCredentials.user.header(`user:default/dev-${i}`))
        .send({ entityRef: i % 2 ? 'component:default/payments' : 'component:default/checkout', environment: 'production' }),
    );
    const exceptions = Array.from({ length: 5 }, () =>
      request(seeded.server)
        .post(`${API}/exceptions`)
        .set('Authorization', DEV)
        .send({
          entityRef: 'component:default/payments',
          environment: 'production',
          reason: 'parallel',
          expiresAt: new Date(Date.now() + 3600_000).toISOString(),
        }),
    );
    const answers = await Promise.all([...gates, ...exceptions]);
    expect(answers.map(a => a.status)).toEqual([...Array(20).fill(200), ...Array(5).fill(201)]);

    const rows: { seq: number | string; prev_hash: string; hash: string; type: string }[] = await seeded.knex(AUDIT_LOG_TABLE).orderBy('seq');
    expect(rows.map(r => Number(r.seq))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // one successor per record: no fork
    expect(new Set(rows.map(r => r.prev_hash)).size).toBe(25);
    rows.slice(1).forEach((r, i) => expect(r.prev_hash).toBe(rows[i].hash));
    expect(rows.filter(r => r.type === 'gate-decision')).toHaveLength(20);
    expect(rows.filter(r => r.type === 'exception-create')).toHaveLength(5);
    // every gate answer's decision is in the log
    const subjects = new Set((await seeded.knex(AUDIT_LOG_TABLE).select('subject')).map(r => r.subject));
    for (const a of answers.slice(0, 20)) expect(subjects.has(a.body.decisionId)).toBe(true);

    expect(await verify()).toEqual({ ok: true, checked: 25, head: rows[24].hash });
  });

  it('reports a row altered directly in the database, then a deleted one', async () => {
    // a gate decision in the middle of the log: make it say the other thing
    const row = await seeded.knex(AUDIT_LOG_TABLE).where({ type: 'gate-decision' }).where('seq', '>', 3).orderBy('seq').first();
    const seq = Number(row.seq);
    const payload = JSON.parse(row.payload);
    const other = payload.decision === 'proceed' ? 'block' : 'proceed';
    await seeded.knex(AUDIT_LOG_TABLE)
      .where({ seq })
      .update({ payload: JSON.stringify({ ...payload, decision: other }) });
    expect(await verify()).toMatchObject({ ok: false, checked: seq - 1, brokenAt: seq, problem: 'modified' });
    await seeded.knex(AUDIT_LOG_TABLE).where({ seq }).update({ payload: row.payload });
    expect(await verify()).toMatchObject({ ok: true, checked: 25 });

    await seeded.knex(AUDIT_LOG_TABLE).where({ seq: 12 }).delete();
    const broken = await verify();
    expect(broken).toMatchObject({ ok: false, checked: 11, brokenAt: 12, problem: 'missing' });
    expect(broken.message).toContain('12');
  });
});
