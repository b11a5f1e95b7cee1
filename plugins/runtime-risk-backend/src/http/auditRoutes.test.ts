import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { TestDatabases, mockCredentials, mockServices } from '@backstage/backend-test-utils';
import type { AuditorService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import request from 'supertest';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';
import { allowAll } from '../testUtils/permissions';
import { AUDIT_HEAD_TABLE, AUDIT_LOG_TABLE } from '../store/DatabaseAuditLogStore';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { GENESIS_HASH, chainHash } from '../audit/chain';
import { publishAuditHead } from './auditRoutes';

const CLI_BIN = path.resolve(__dirname, '../../../runtime-risk-cli/bin/runtime-risk');

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

describe.each(databases.eachSupportedId())('audit head and verify under concurrent writes on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })],
    authorize: allowAll,
  });
  const get = (path: string) => request(seeded.server).get(`${API}${path}`).set('Authorization', DEV);
  const gate = (i: number) =>
    request(seeded.server)
      .post(`${API}/gate`)
      .set('Authorization', mockCredentials.user.header(`user:default/dev-${i}`))
      .send({ entityRef: i % 2 ? 'component:default/payments' : 'component:default/checkout', environment: 'production' });

  it('answers the head and records of an empty log', async () => {
    expect((await get('/audit/head')).body).toEqual({ seq: 0, hash: GENESIS_HASH });
    const missing = await get('/audit/records/1');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain('seq: no audit record 1');
    const bad = await get('/audit/records/zero');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('seq');
    expect((await request(seeded.server).get(`${API}/audit/head`)).status).toBe(401);
  });

  it('never reports a false alarm while 200 decisions are being written', async () => {
    let writing = true;
    const verifications: { ok: boolean; checked: number; message?: string }[] = [];
    const verifier = (async () => {
      while (writing) {
        const res = await get('/audit/verify');
        expect(res.status).toBe(200);
        verifications.push(res.body);
      }
    })();
    const statuses: number[] = [];
    const workers = Array.from({ length: 10 }, async (_, w) => {
      for (let i = w; i < 200; i += 10) statuses.push((await gate(i)).status);
    });
    await Promise.all(workers);
    writing = false;
    await verifier;
    expect(statuses).toEqual(Array(200).fill(200));
    expect(verifications.length).toBeGreaterThan(1);
    expect(verifications.filter(v => !v.ok)).toEqual([]);
    const head = (await get('/audit/head')).body;
    expect(head.seq).toBe(200);
    expect((await get('/audit/verify')).body).toEqual({ ok: true, checked: 200, head: head.hash });
    const record = (await get('/audit/records/200')).body;
    expect(record).toMatchObject({ seq: 200, hash: head.hash, type: 'gate-decision' });
    expect((await get('/audit/records/199')).body.hash).toBe(record.prevHash);
  });

  it('publishes the head as an auditor event on its schedule', async () => {
    const events: unknown[] = [];
    const auditor = {
      createEvent: async (options: unknown) => {
        events.push(options);
        return { success: async () => undefined, fail: async () => undefined };
      },
    } as unknown as AuditorService;
    const published = await publishAuditHead({ store: await storeOf(seeded.knex), auditor });
    const head = (await get('/audit/head')).body;
    expect(published).toEqual(head);
    expect(events).toEqual([{ eventId: 'audit-head', severityLevel: 'medium', meta: head }]);
    // the plugin schedules it (hourly by default)
    const tasks = (seeded.harness.scheduler.scheduleTask as unknown as { mock: { calls: [{ id: string; frequency: unknown }][] } }).mock.calls.map(c => c[0]);
    expect(tasks.find(t => t.id === 'runtime-risk-audit-head')?.frequency).toEqual({ hours: 1 });
  });

  it('detects a log rewritten from an anchored record on: verify alone cannot, the CLI with --expect-head exits 5', async () => {
    const anchored = (await get('/audit/records/150')).body as { seq: number; hash: string };
    // rewrite record 100 and re-hash the chain after it (what an attacker with database access can do)
    const rows = await seeded.knex(AUDIT_LOG_TABLE).where('seq', '>=', 100).orderBy('seq');
    let prev = String(rows[0].prev_hash);
    for (const row of rows) {
      const payload = JSON.parse(row.payload);
      if (Number(row.seq) === 100) payload.decision = payload.decision === 'proceed' ? 'block' : 'proceed';
      const content = { at: row.at, type: row.type, actor: row.actor, subject: row.subject, payload };
      const hash = chainHash(prev, Number(row.seq), content);
      await seeded.knex(AUDIT_LOG_TABLE).where({ seq: row.seq }).update({ payload: JSON.stringify(payload), prev_hash: prev, hash });
      prev = hash;
    }
    await seeded.knex(AUDIT_HEAD_TABLE).where({ id: 1 }).update({ hash: prev });
    expect((await get('/audit/verify')).body).toMatchObject({ ok: true, checked: 200 });

    const address = seeded.server.address() as AddressInfo;
    const token = mockCredentials.user.token('user:default/dev');
    const env = { RUNTIME_RISK_URL: `http://127.0.0.1:${address.port}`, RUNTIME_RISK_TOKEN: token };
    const rewritten = await runCli(['audit', 'verify', '--expect-head', `150:${anchored.hash}`], env);
    expect(rewritten.code).toBe(5);
    expect(rewritten.stderr).toContain('record 150 has hash');
    expect(rewritten.stderr).toContain('the log was rewritten');
    // an anchor before the rewrite still matches
    const before = (await get('/audit/records/99')).body.hash;
    expect((await runCli(['audit', 'verify', '--expect-head', `99:${before}`], env)).code).toBe(0);
  });
});

async function storeOf(knex: Knex) {
  return DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
}

/** The real CLI (`node bin/runtime-risk`), environment limited to PATH and `env`. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr }));
  });
}
