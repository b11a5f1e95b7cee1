import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import { GENESIS_HASH } from '../audit/chain';
import { DatabaseRuntimeRiskStore } from './DatabaseRuntimeRiskStore';
import type { DecisionRecord, ExceptionRecord } from './types';
import { AUDIT_HEAD_TABLE, AUDIT_LOG_TABLE, verifyAuditLog } from './DatabaseAuditLogStore';
import { approvedException } from '../testUtils/services';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const T0 = Date.parse('2026-11-23T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function decision(id: string, at: number, status = 'pending'): DecisionRecord {
  return {
    id,
    entityRef: 'component:default/payments',
    environment: 'production',
    decision: status === 'pending' ? 'approval_required' : 'block',
    riskLevel: 'moderate',
    score: 35,
    reasons: [{ code: 'signal_active', message: 'medium', signalIds: ['edr:1'] }],
    inputs: { entityRef: 'component:default/payments', now: iso(at) },
    result: { decisionId: id, reasons: [], request: { requestedBy: 'user:default/dev' } },
    policyId: 'default',
    policyHash: 'abc',
    dryRun: false,
    status,
    createdAt: iso(at),
    requestedBy: 'user:default/dev',
  };
}

/** A pending exception (the audit log records its request). */
const exception = (id: string): ExceptionRecord => approvedException(id, { status: 'pending', approvedBy: null, maxLevel: 'moderate' });

describe.each(databases.eachSupportedId())('audit log on %p', databaseId => {
  let knex: Knex;
  let store: DatabaseRuntimeRiskStore;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
  });

  it('starts empty and verifies', async () => {
    expect(await store.verifyAuditLog()).toEqual({ ok: true, checked: 0, head: GENESIS_HASH });
  });

  it('appends every decision and exception change in order, with its actor', async () => {
    await store.insertDecision(decision('d1', T0));
    await store.insertDecision(decision('d2', T0 + 1000, 'final'));
    await store.insertException(exception('x1'));
    await store.insertException(exception('x2'));
    await store.insertException(exception('x3'));
    const at = iso(T0 + 60_000);
    expect(await store.transitionException({ id: 'x1', from: ['pending'], to: 'approved', by: 'user:default/sec', at, approvedBy: 'user:default/sec' })).toBe(true);
    // a refused transition appends nothing
    expect(await store.transitionException({ id: 'x1', from: ['pending'], to: 'rejected', by: 'user:default/sec', at })).toBe(false);
    expect(await store.transitionException({ id: 'x2', from: ['pending'], to: 'rejected', by: 'user:default/sec', at, comment: 'no' })).toBe(true);
    expect(await store.transitionException({ id: 'x3', from: ['pending'], to: 'expired', by: 'runtime-risk', at })).toBe(true);
    expect(await store.transitionException({ id: 'x1', from: ['approved'], to: 'revoked', by: 'runtime-risk', at, comment: 'risk is high' })).toBe(true);
    expect(
      await store.transitionDecision({
        id: 'd1',
        from: ['pending'],
        to: 'approved',
        by: 'user:default/sec',
        at,
        auditType: 'decision-approve',
        outcome: { decision: 'proceed', reason: { code: 'approval_granted', message: 'approved by user:default/sec', signalIds: [] } },
      }),
    ).toBe(true);
    expect(await store.transitionDecision({ id: 'd1', from: ['pending'], to: 'expired', by: 'runtime-risk', at, auditType: 'decision-expire' })).toBe(false);

    const records = await store.listAuditRecords({ limit: 100 });
    expect(records.map(r => [r.seq, r.type, r.actor, r.subject])).toEqual([
      [1, 'gate-decision', 'user:default/dev', 'd1'],
      [2, 'gate-decision', 'user:default/dev', 'd2'],
      [3, 'exception-create', 'user:default/dev', 'x1'],
      [4, 'exception-create', 'user:default/dev', 'x2'],
      [5, 'exception-create', 'user:default/dev', 'x3'],
      [6, 'exception-approve', 'user:default/sec', 'x1'],
      [7, 'exception-reject', 'user:default/sec', 'x2'],
      [8, 'exception-expire', 'runtime-risk', 'x3'],
      [9, 'exception-auto-revoke', 'runtime-risk', 'x1'],
      [10, 'decision-approve', 'user:default/sec', 'd1'],
    ]);
    expect(records[8].payload).toMatchObject({ from: 'approved', status: 'revoked', comment: 'risk is high' });
    expect(records[0].payload).toMatchObject({ decision: 'approval_required', policy: { id: 'default', hash: 'abc' } });
    expect(records[9].payload).toMatchObject({ from: 'approval_required', decision: 'proceed', status: 'approved' });
    expect(records.slice(1).every((r, i) => r.prevHash === records[i].hash)).toBe(true);
    expect((await store.listAuditRecords({ subject: 'x1', limit: 10 })).map(r => r.type)).toEqual([
      'exception-create',
      'exception-approve',
      'exception-auto-revoke',
    ]);

    const verified = await store.verifyAuditLog();
    expect(verified).toEqual({ ok: true, checked: 10, head: records[9].hash });
    // walking in small pages gives the same answer
    expect(await verifyAuditLog(knex, 3)).toEqual(verified);
  });

  it('detects a modified record and names it', async () => {
    const original = await knex(AUDIT_LOG_TABLE).where({ seq: 4 }).first();
    await knex(AUDIT_LOG_TABLE).where({ seq: 4 }).update({ payload: original.payload.replace('hotfix', 'routine') });
    expect(await store.verifyAuditLog()).toMatchObject({ ok: false, checked: 3, brokenAt: 4, problem: 'modified' });
    await knex(AUDIT_LOG_TABLE).where({ seq: 4 }).update({ actor: 'user:default/someone-else', payload: original.payload });
    expect(await verifyAuditLog(knex, 2)).toMatchObject({ ok: false, brokenAt: 4, problem: 'modified' });
    await knex(AUDIT_LOG_TABLE).where({ seq: 4 }).update({ actor: original.actor });
    expect((await store.verifyAuditLog()).ok).toBe(true);
  });

  it('detects a re-linked record', async () => {
    const original = await knex(AUDIT_LOG_TABLE).where({ seq: 7 }).first();
    await knex(AUDIT_LOG_TABLE).where({ seq: 7 }).update({ prev_hash: GENESIS_HASH });
    expect(await store.verifyAuditLog()).toMatchObject({ ok: false, checked: 6, brokenAt: 7, problem: 'relinked' });
    await knex(AUDIT_LOG_TABLE).where({ seq: 7 }).update({ prev_hash: original.prev_hash });
    expect((await store.verifyAuditLog()).ok).toBe(true);
  });

  it('detects a deleted record, in the middle and at the end', async () => {
    const middle = await knex(AUDIT_LOG_TABLE).where({ seq: 5 }).first();
    await knex(AUDIT_LOG_TABLE).where({ seq: 5 }).delete();
    const broken = await store.verifyAuditLog();
    expect(broken).toMatchObject({ ok: false, checked: 4, brokenAt: 5, problem: 'missing' });
    expect(broken.ok === false && broken.message).toContain('record 5 is missing');
    await knex(AUDIT_LOG_TABLE).insert(middle);
    expect((await store.verifyAuditLog()).ok).toBe(true);

    const last = await knex(AUDIT_LOG_TABLE).where({ seq: 10 }).first();
    await knex(AUDIT_LOG_TABLE).where({ seq: 10 }).delete();
    expect(await store.verifyAuditLog()).toMatchObject({ ok: false, checked: 9, brokenAt: 10, problem: 'missing' });
    await knex(AUDIT_LOG_TABLE).insert(last);
    expect((await store.verifyAuditLog()).ok).toBe(true);
  });

  it('writes the change and its record in one transaction: neither without the other', async () => {
    const count = async (table: string) => Number((await knex(table).count({ n: '*' }).first())?.n);
    const before = { log: await count(AUDIT_LOG_TABLE), exceptions: await count('runtime_risk_exceptions') };
    // the change fails (duplicate id): nothing is appended
    await expect(store.insertException(exception('x1'))).rejects.toThrow();
    expect(await count(AUDIT_LOG_TABLE)).toBe(before.log);
    // the append fails (no head row): the change is rolled back
    const head = await knex(AUDIT_HEAD_TABLE).where({ id: 1 }).first();
    await knex(AUDIT_HEAD_TABLE).delete();
    try {
      await expect(store.insertException(exception('x9'))).rejects.toThrow(/head/);
      expect(await count('runtime_risk_exceptions')).toBe(before.exceptions);
      expect(await store.getException('x9')).toBeUndefined();
    } finally {
      await knex(AUDIT_HEAD_TABLE).insert(head);
    }
    await store.insertException(exception('x9'));
    expect(await count(AUDIT_LOG_TABLE)).toBe(before.log + 1);
    expect(await store.verifyAuditLog()).toMatchObject({ ok: true, checked: before.log + 1 });
  });
  it('hashes free text with a lone UTF-16 surrogate as it is stored, so the chain still verifies', async () => {
    const own = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex: await databases.init(databaseId) }) });
    await own.insertException({ ...exception('ex-surrogate'), reason: 'hotfix \ud83d for prod' });
    await Promise.all([own.insertDecision(decision('d-s1', T0)), own.insertDecision(decision('d-s2', T0))]);
    const records = await own.listAuditRecords({ limit: 10 });
    expect(records[0].payload.reason).toBe('hotfix \ufffd for prod');
    expect(await own.verifyAuditLog()).toMatchObject({ ok: true, checked: 3 });
  });

  it('verifies up to the head read first: 200 decisions written meanwhile never look missing', async () => {
    const own = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex: await databases.init(databaseId) }) });
    let writing = true;
    const outcomes: Awaited<ReturnType<typeof verifyAuditLog>>[] = [];
    const verifier = (async () => {
      while (writing) outcomes.push(await own.verifyAuditLog());
    })();
    const writers = Array.from({ length: 20 }, async (_, w) => {
      for (let i = w; i < 200; i += 20) await own.insertDecision(decision(`c-${i}`, T0 + i));
    });
    await Promise.all(writers);
    writing = false;
    await verifier;
    expect(outcomes.length).toBeGreaterThan(3);
    expect(outcomes.filter(o => !o.ok)).toEqual([]);
    expect(await own.verifyAuditLog()).toMatchObject({ ok: true, checked: 200 });
    expect(await own.getAuditHead()).toMatchObject({ seq: 200 });
  });
});
