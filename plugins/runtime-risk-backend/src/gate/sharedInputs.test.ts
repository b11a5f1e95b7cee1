import { TestDatabases } from '@backstage/backend-test-utils';
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { evaluate, type EvaluationInput } from '../engine';
import { canonicalJson } from '../lib/canonicalJson';
import { appendAuditRecord, AUDIT_LOG_TABLE } from '../store/DatabaseAuditLogStore';
import { DECISION_INPUTS_TABLE } from '../store/decisionInputs';
import type { RuntimeRiskStore } from '../store/types';
import { T0, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { backtest } from './BacktestService';

/**
 * Shared decision inputs (issue 18 part 2): a recorded gate decision stores the
 * inputs read from the store once per content hash; replay, backtest and the
 * decision reads still see full inputs, decisions written before (inline inputs)
 * still replay, and the audit chain verifies over both layouts.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const PAYMENTS = 'component:default/payments';
const REQUEST = { entityRef: PAYMENTS, environment: 'production', dryRun: false } as const;

async function inputRows(knex: Knex) {
  return knex(DECISION_INPUTS_TABLE).select('hash', 'body');
}

/** Writes a decision the way the store did before issue 18: full inputs inline, the audit record hashing them. */
async function insertOldLayoutDecision(knex: Knex, id: string, inputs: EvaluationInput, template: Record<string, unknown>) {
  const createdAt = inputs.now;
  await knex.transaction(async tx => {
    await tx('runtime_risk_decisions').insert({
      id,
      entity_ref: template.entity_ref,
      environment: template.environment,
      decision: template.decision,
      risk_level: template.risk_level,
      score: template.score,
      reasons: template.reasons,
      inputs: JSON.stringify(inputs),
      result: String(template.result).replace(String(template.id), id),
      policy_id: template.policy_id,
      policy_hash: template.policy_hash,
      dry_run: false,
      status: template.status,
      created_at: createdAt,
    });
    await appendAuditRecord(tx, {
      at: createdAt,
      type: 'gate-decision',
      actor: 'user:default/old',
      subject: id,
      payload: {
        decisionId: id,
        entityRef: template.entity_ref,
        inputsHash: createHash('sha256').update(canonicalJson(inputs)).digest('hex'),
      },
    });
  });
}

function backtestAll(store: RuntimeRiskStore, policy: Parameters<typeof backtest>[1]['policy']) {
  return backtest(store, {
    policy,
    since: iso(T0 - 3600_000),
    until: iso(T0 + 24 * 3600_000),
    offset: 0,
    limit: 100,
    readable: async refs => new Set(refs),
  });
}

describe.each(databases.eachSupportedId())('shared decision inputs on %p', databaseId => {
  it('two decisions on an unchanged entity share one inputs row; replay, backtest and reads see full inputs', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, risk, policy } = await createRiskServices(knex);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('c1', 'critical', T0)], cursor: '1', at: iso(T0) });

    const first = await risk.gate(REQUEST, { requestedBy: 'user:default/a' });
    time.now = T0 + 5_000;
    const second = await risk.gate({ ...REQUEST, artifact: { name: 'img', digest: 'sha256:' + 'a'.repeat(64) } } as never, { requestedBy: 'user:default/b' });
    expect(first.decision).toBe('block');
    expect(second.decision).toBe('block');

    const rows = await inputRows(knex);
    expect(rows).toHaveLength(1);
    const [shared] = rows;
    // the hash is the sha256 of the canonical JSON body, and the body holds the store's part only
    expect(shared.hash).toBe(createHash('sha256').update(String(shared.body)).digest('hex'));
    const body = JSON.parse(String(shared.body));
    expect(body.policyHash).toBe(policy.hash);
    expect(body.signals.map((s: { id: string }) => s.id)).toEqual(['edr:c1']);
    expect(body.now).toBeUndefined();
    expect(body.dryRun).toBeUndefined();

    const decisionRows = await knex('runtime_risk_decisions').orderBy('seq').select('inputs', 'inputs_hash');
    expect(decisionRows.map(r => r.inputs_hash)).toEqual([shared.hash, shared.hash]);
    expect(JSON.parse(decisionRows[1].inputs)).toEqual({ entityRef: PAYMENTS, environment: 'production', now: iso(T0 + 5_000), dryRun: false });

    // the store answers full inputs (the second's own `now`)
    const stored = await store.getDecision(second.decisionId);
    const inputs = stored!.inputs as EvaluationInput;
    expect(inputs.now).toBe(iso(T0 + 5_000));
    expect(inputs.signals.map(s => s.id)).toEqual(['edr:c1']);
    expect(inputs.hosts.length).toBeGreaterThan(0);
    expect(inputs.sources.map(s => s.id)).toEqual(['edr']);
    expect((inputs as unknown as Record<string, unknown>).policyHash).toBeUndefined();
    expect(evaluate(inputs, policy).decision).toBe('block');
    const listed = await store.listDecisions({ limit: 10, entityRef: PAYMENTS });
    expect(listed.items.map(d => (d.inputs as EvaluationInput).signals.length)).toEqual([1, 1]);

    for (const d of [first, second]) expect((await risk.replay(d.decisionId)).matches).toBe(true);

    // backtest under the same policy: both evaluated on their full inputs, nothing changes
    const same = await backtestAll(store, policy);
    expect(same).toMatchObject({ total: 2, changed: 0 });

    // the audit records carry the shared hash; the chain verifies
    const audit = await knex(AUDIT_LOG_TABLE).where({ type: 'gate-decision' }).orderBy('seq').select('payload');
    expect(audit.map(a => JSON.parse(a.payload).inputsHash)).toEqual([shared.hash, shared.hash]);
    expect(await store.verifyAuditLog()).toMatchObject({ ok: true, checked: 2 });

    // the detection is resolved: new inputs, a second row
    time.now = T0 + 10_000;
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'memory',
      signals: [edrSignal('c1', 'critical', T0 + 10_000, 'resolved')],
      cursor: '2',
      at: iso(T0 + 10_000),
    });
    const third = await risk.gate(REQUEST);
    expect(third.decision).toBe('proceed');
    expect(await inputRows(knex)).toHaveLength(2);
    expect((await risk.replay(third.decisionId)).matches).toBe(true);
  });

  it('a backtest over several pages reads and parses each shared body once', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, risk, policy } = await createRiskServices(knex);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('c1', 'critical', T0)], cursor: '1', at: iso(T0) });
    for (let i = 0; i < 4; i++) {
      time.now = T0 + i * 1_000;
      await risk.gate(REQUEST);
    }
    time.now = T0 + 10_000;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('c1', 'critical', T0 + 10_000, 'resolved')], cursor: '2', at: iso(T0 + 10_000) });
    for (let i = 0; i < 3; i++) {
      time.now = T0 + 11_000 + i * 1_000;
      await risk.gate(REQUEST);
    }
    expect(await inputRows(knex)).toHaveLength(2);
    const bodiesRead: string[] = [];
    const counting = {
      scanDecisions: async (o: Parameters<RuntimeRiskStore['scanDecisions']>[0]) => {
        const rows = await store.scanDecisions(o);
        // the rows of one page that share a body carry the same text: one read per page and hash
        bodiesRead.push(...new Set(rows.filter(r => r.sharedInputs).map(r => r.inputsHash!)));
        return rows;
      },
      getDecisionReasons: (ids: string[]) => store.getDecisionReasons(ids),
    };
    const paged = await backtest(counting, {
      policy,
      since: iso(T0 - 3600_000),
      until: iso(T0 + 24 * 3600_000),
      offset: 0,
      limit: 100,
      pageSize: 2,
      readable: async refs => new Set(refs),
    });
    // 7 decisions on 4 pages, 2 distinct shared bodies: each read once
    expect(new Set(bodiesRead).size).toBe(2);
    expect(bodiesRead).toHaveLength(2);
    const whole = await backtestAll(store, policy);
    expect(paged).toEqual(whole);
    expect(paged).toMatchObject({ total: 7, changed: 0, notEvaluated: { count: 0, unreadable: 0 } });
  });

  it('reads, replays and backtests decisions written before (inline inputs); the audit chain verifies over a mix', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, risk, policy } = await createRiskServices(knex);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('c1', 'critical', T0)], cursor: '1', at: iso(T0) });

    // a new-layout decision, then one in the old layout (its full inputs inline, audited the old way), then a new one
    const first = await risk.gate(REQUEST);
    const template = await knex('runtime_risk_decisions').where({ id: first.decisionId }).first();
    const fullInputs = (await store.getDecision(first.decisionId))!.inputs as EvaluationInput;
    const oldInputs = { ...fullInputs, now: iso(T0 + 1_000) };
    await insertOldLayoutDecision(knex, 'old-1', oldInputs, template);
    time.now = T0 + 2_000;
    const third = await risk.gate(REQUEST);

    const old = await knex('runtime_risk_decisions').where({ id: 'old-1' }).first('inputs_hash');
    expect(old.inputs_hash).toBeNull();
    expect((await store.getDecision('old-1'))!.inputs).toEqual(oldInputs);
    const listed = await store.listDecisions({ limit: 10 });
    expect(listed.items.map(d => [d.id, (d.inputs as EvaluationInput).signals.length])).toEqual([
      [third.decisionId, 1],
      ['old-1', 1],
      [first.decisionId, 1],
    ]);
    // the old and new layouts give the same full inputs (up to `now`)
    expect({ ...(await store.getDecision(third.decisionId))!.inputs as EvaluationInput, now: oldInputs.now }).toEqual(oldInputs);

    const replay = await risk.replay('old-1');
    expect(replay.matches).toBe(true);
    expect(replay.replayed.decision).toBe('block');
    expect((await risk.replay(third.decisionId)).matches).toBe(true);

    expect(await backtestAll(store, policy)).toMatchObject({ total: 3, changed: 0 });
    // (the own part alone would not decide the same: the backtest saw the shared part)
    const ownOnly = { entityRef: PAYMENTS, environment: 'production', now: iso(T0), dryRun: false, hosts: [], signals: [], sources: [], exceptions: [] };
    expect(evaluate(ownOnly as EvaluationInput, policy).decision).not.toBe('block');

    expect(await store.verifyAuditLog()).toMatchObject({ ok: true, checked: 3 });
    // tampering with the old record's inputs hash breaks the chain there
    const oldAudit = await knex(AUDIT_LOG_TABLE).where({ subject: 'old-1' }).first('seq', 'payload');
    await knex(AUDIT_LOG_TABLE)
      .where({ seq: oldAudit.seq })
      .update({ payload: JSON.stringify({ ...JSON.parse(oldAudit.payload), inputsHash: '0'.repeat(64) }) });
    expect(await store.verifyAuditLog()).toMatchObject({ ok: false, brokenAt: Number(oldAudit.seq) });
  });

  it('a batch of concurrent decisions (group commit) on one entity writes one inputs row', async () => {
    const knex = await databases.init(databaseId);
    const { store, risk } = await createRiskServices(knex);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('h1', 'high', T0)], cursor: '1', at: iso(T0) });
    const answers = await Promise.all(Array.from({ length: 20 }, () => risk.gate(REQUEST)));
    expect(new Set(answers.map(a => a.decision)).size).toBe(1);
    expect(await inputRows(knex)).toHaveLength(1);
    const n = Number((await knex('runtime_risk_decisions').count({ n: '*' }).first())!.n);
    expect(n).toBe(20);
    for (const a of answers.slice(0, 3)) expect((await risk.replay(a.decisionId)).matches).toBe(true);
    expect(await store.verifyAuditLog()).toMatchObject({ ok: true, checked: 20 });
  });
});
