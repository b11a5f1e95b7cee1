import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG } from '../engine';
import { signalInput } from '../testUtils/fixtures';
import { countDecisions, seededBackendPerDatabase, startSeededBackend, type SeededHarness } from '../testUtils/backend';
import { DEV, securityTeamPolicy } from '../testUtils/permissions';
import { IDEMPOTENCY_TTL_MS, IdempotentGate } from './idempotency';

const API = '/api/runtime-risk/v1';
const as = (user: string) => mockCredentials.user.header(user);
const SERVICE = mockCredentials.service.header();
const BODY = { entityRef: 'component:default/payments', environment: 'production' };
const SIGNALS = [signalInput('med-1', { hostname: 'web-01', severity: 'medium' })];
const CONFIG = { runtimeRisk: { ingestion: { frequency: { seconds: 30 } }, policy: DEFAULT_POLICY_CONFIG } };

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const gate = (server: SeededHarness['server'], key: string | undefined, body: Record<string, unknown> = BODY, auth = SERVICE) => {
  const r = request(server).post(`${API}/gate`).set('Authorization', auth);
  return (key === undefined ? r : r.set('Idempotency-Key', key)).send(body);
};

describe.each(databases.eachSupportedId())('idempotent gate calls on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: SIGNALS,
    authorize: securityTeamPolicy(),
    config: CONFIG,
  });

  it('answers a retry with the first decision (same body) and records nothing new', async () => {
    const before = await countDecisions(seeded.knex);
    const first = await gate(seeded.server, 'retry-1f0c2a');
    expect(first.status).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const decided = GateDecisionSchema.parse(first.body);
    // the same request, fields in another order and the default spelled out
    const again = await gate(seeded.server, 'retry-1f0c2a', { environment: 'production', dryRun: false, entityRef: 'component:default/payments' });
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(again.body.decisionId).toBe(decided.decisionId);
    expect(await countDecisions(seeded.knex)).toBe(before + 1);
    // without a key, or with another key or caller, a new decision each time
    const other = await gate(seeded.server, 'retry-2');
    const userSameKey = await gate(seeded.server, 'retry-1f0c2a', BODY, as(DEV));
    const noKey = await gate(seeded.server, undefined);
    const ids = [decided.decisionId, other.body.decisionId, userSameKey.body.decisionId, noKey.body.decisionId];
    expect(new Set(ids).size).toBe(4);
    expect(await countDecisions(seeded.knex)).toBe(before + 4);
  });

  it('answers 422 naming the key when it comes back with a different body', async () => {
    const first = await gate(seeded.server, 'body-change');
    expect(first.status).toBe(200);
    const changed = await gate(seeded.server, 'body-change', { ...BODY, artifact: 'ghcr.io/acme/payments@sha256:2' });
    expect(changed.status).toBe(422);
    expect(changed.body.error.message).toContain("Idempotency-Key: 'body-change' was used at");
    expect(changed.body.error.message).toContain(first.body.decisionId);
    expect(changed.body.error.message).toContain('different request body');
  });

  it('refuses a malformed key with a 400 naming the header, before recording anything', async () => {
    const before = await countDecisions(seeded.knex);
    for (const key of ['x'.repeat(256), 'has space', 'semi;colon', 'ünïcode']) {
      const res = await request(seeded.server)
        .post(`${API}/gate`)
        .set('Authorization', SERVICE)
        .set('Idempotency-Key', encodeURI(key) === key ? key : key.replace(/[^\x20-\x7e]/g, '?'))
        .send(BODY);
      expect(res.status, key).toBe(400);
      expect(res.body.error.message).toContain('Idempotency-Key');
    }
    expect(await countDecisions(seeded.knex)).toBe(before);
  });

  it('records exactly one decision for 12 concurrent requests with one key', async () => {
    const before = await countDecisions(seeded.knex);
    const answers = await Promise.all(Array.from({ length: 12 }, () => gate(seeded.server, 'concurrent-7')));
    expect(answers.map(a => a.status)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map(a => a.body.decisionId)).size).toBe(1);
    expect(answers.filter(a => a.headers['idempotent-replayed'] === 'true')).toHaveLength(11);
    expect(await countDecisions(seeded.knex)).toBe(before + 1);
  });

  it('starts a key again after 24 hours, and takes over a claim whose request died before recording', async () => {
    const caller = 'external:test-service';
    const claim = (key: string, ageMs: number) =>
      seeded.knex('runtime_risk_idempotency_keys').insert({
        caller,
        idempotency_key: key,
        request_hash: 'f'.repeat(64),
        decision_id: `never-recorded-${key}`,
        created_at: new Date(Date.now() - ageMs).toISOString(),
      });
    await claim('expired-key', IDEMPOTENCY_TTL_MS + 60_000);
    await claim('abandoned-key', 3 * 60_000);
    await claim('busy-key', 1_000);
    for (const key of ['expired-key', 'abandoned-key']) {
      const res = await gate(seeded.server, key);
      expect(res.status, key).toBe(200);
      const row = await seeded.knex('runtime_risk_idempotency_keys').where({ caller, idempotency_key: key }).first();
      expect(row.decision_id).toBe(res.body.decisionId);
    }
    // a claim of a request still running (another body here) is never taken over
    expect((await gate(seeded.server, 'busy-key')).status).toBe(422);
  });

  it('frees the key when the request fails before recording, and sweeps keys after 24 hours', async () => {
    const unknown = await gate(seeded.server, 'fails-first', { ...BODY, entityRef: 'component:default/nope' });
    expect(unknown.status).toBe(404);
    expect(await seeded.knex('runtime_risk_idempotency_keys').where({ idempotency_key: 'fails-first' })).toHaveLength(0);

    await gate(seeded.server, 'old-key');
    const store = { sweepIdempotencyKeys: (before: string) => seeded.knex('runtime_risk_idempotency_keys').where('created_at', '<', before).delete() };
    const later = new Date(Date.now() + IDEMPOTENCY_TTL_MS + 60_000);
    const sweeper = new IdempotentGate({ store: store as never, clock: () => later });
    expect(await sweeper.sweep()).toBeGreaterThanOrEqual(1);
    expect(await seeded.knex('runtime_risk_idempotency_keys').where({ idempotency_key: 'old-key' })).toHaveLength(0);
  });
});

describe.each(databases.eachSupportedId().filter(([id]) => id.startsWith('POSTGRES')))('two backends sharing one %p database', databaseId => {
  let a: SeededHarness | undefined;
  let b: SeededHarness | undefined;
  afterAll(async () => {
    await a?.backend.stop();
    await b?.backend.stop();
  });

  it('record one decision for concurrent requests with one key sent to both replicas', async () => {
    const knex = await databases.init(databaseId);
    a = await startSeededBackend({ knex, signals: SIGNALS, authorize: securityTeamPolicy(), config: CONFIG });
    b = await startSeededBackend({ knex, signals: SIGNALS, authorize: securityTeamPolicy(), config: CONFIG });
    const before = await countDecisions(knex);
    const servers = [a.server, b.server];
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => gate(servers[i % 2], 'two-replicas-1')));
    expect(answers.map(r => r.status)).toEqual(Array(16).fill(200));
    expect(new Set(answers.map(r => r.body.decisionId)).size).toBe(1);
    expect(await countDecisions(knex)).toBe(before + 1);
    // a retry to the other replica later still answers the first decision
    const retry = await gate(b.server, 'two-replicas-1');
    expect(retry.body).toEqual(answers[0].body);
  });
});
