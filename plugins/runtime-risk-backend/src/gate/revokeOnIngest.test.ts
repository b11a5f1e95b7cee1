import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import request from 'supertest';
import type { Knex } from 'knex';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import type { ExceptionRecord } from '../store/types';
import { IngestionRunner } from '../ingest/IngestionRunner';
import { receivePush } from '../ingest/pushReceiver';
import { onSignalsCommitted } from '../ingest/signalCommits';
import { startBackend } from '../testUtils/backend';
import { MemoryPullSource, sign, signalInput, testPushSource } from '../testUtils/fixtures';
import { T0, approvedException, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { RiskService } from './RiskService';
import { ExceptionService, SYSTEM_ACTOR } from './ExceptionService';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const exception = (id: string, overrides: Partial<ExceptionRecord>) => approvedException(id, { maxLevel: 'low', ...overrides });

/** The services of `createRiskServices` with a push source too, and the store told to the exception service after each commit. */
async function services(knex: Knex) {
  const base = await createRiskServices(knex);
  const logger = mockServices.logger.mock();
  const risk = new RiskService({
    store: base.store,
    indexer: base.indexer,
    policy: base.policy,
    sources: () => [{ source: base.edr, frequencyMs: 30_000 }, { source: testPushSource }],
    clock: base.clock,
  });
  const exceptions = new ExceptionService({ store: base.store, risk, permissions: mockServices.permissions(), policy: base.policy, auditor: base.auditor, logger, clock: base.clock });
  const store = onSignalsCommitted(base.store, signals => exceptions.signalsCommitted(signals), logger);
  const runner = new IngestionRunner({ store, logger, clock: base.clock });
  return { ...base, raw: base.store, risk, exceptions, store, runner, logger };
}

/** A signal input of `edr`/`hooks` on `hostname`, first and last seen at T0. */
const input = (id: string, severity: 'low' | 'medium' | 'critical', hostname = 'web-01') =>
  signalInput(id, { severity, hostname, firstSeenAt: iso(T0), lastSeenAt: iso(T0) });

describe.each(databases.eachSupportedId())('exception revocation on ingest on %p', databaseId => {
  it('an ingestion commit or a webhook push that raises the level above maxLevel revokes the exception, audited, with no sweep', async () => {
    const knex = await databases.init(databaseId);
    const { store, exceptions, runner, edr, auditor, clock, logger } = await services(knex);
    edr.pages = [{ signals: [input('low-1', 'low')] }, { signals: [input('crit-1', 'critical')] }];
    await runner.run(edr);
    await store.insertException(exception('to-low', { maxLevel: 'low' }));
    await store.insertException(exception('to-moderate', { maxLevel: 'moderate' }));
    await exceptions.ingestChecksSettled();

    // a webhook push of a medium detection on web-01 (score 41.5: moderate); the clock does not move
    const body = JSON.stringify({ signals: [input('hook-med-1', 'medium')] });
    const push = () =>
      receivePush({ sourceId: 'hooks', sources: [{ source: testPushSource }], rawBody: Buffer.from(body), headers: { 'x-signature': sign(body) }, store, logger, clock });
    expect(await push()).toEqual({ accepted: 1, rejected: 0 });
    await exceptions.ingestChecksSettled();
    const toLow = await store.getException('to-low');
    expect(toLow).toMatchObject({ status: 'revoked', decidedBy: SYSTEM_ACTOR, decidedAt: iso(T0) });
    expect(toLow?.decisionComment).toContain("risk level is now moderate (score 41.5 from signal(s) hooks:hook-med-1, edr:low-1), above the exception's maxLevel low");
    expect((await store.getException('to-moderate'))?.status).toBe('approved');
    expect(auditor.createEvent).toHaveBeenCalledWith(
      expect.objectContaining({ eventId: 'exception-revoke', meta: expect.objectContaining({ exceptionId: 'to-low', trigger: 'ingest' }) }),
    );

    // the next ingestion page brings a critical detection on web-01: high
    await runner.run(edr);
    await exceptions.ingestChecksSettled();
    const toModerate = await store.getException('to-moderate');
    expect(toModerate).toMatchObject({ status: 'revoked', decidedBy: SYSTEM_ACTOR });
    expect(toModerate?.decisionComment).toContain("risk level is now high");
    expect(toModerate?.decisionComment).toContain('edr:crit-1');

    const records = await store.listAuditRecords({ limit: 100 });
    expect(records.filter(r => r.type === 'exception-auto-revoke').map(r => [r.actor, r.subject])).toEqual([
      [SYSTEM_ACTOR, 'to-low'],
      [SYSTEM_ACTOR, 'to-moderate'],
    ]);
    expect(await store.verifyAuditLog()).toMatchObject({ ok: true });
  });

  it('checks only entities whose hosts the new signals touch; the periodic sweep stays the safety net', async () => {
    const knex = await databases.init(databaseId);
    const { store, raw, exceptions, runner, edr } = await services(knex);
    // a medium detection stored without the hook (e.g. before a restart): payments is moderate already
    await raw.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('med-1', 'medium', T0)], cursor: '0', at: iso(T0) });
    await store.insertException(exception('stale', { maxLevel: 'low' }));
    await store.insertException(exception('signal-scoped', { maxLevel: null, signalIds: ['edr:med-1'] }));
    // a batch on another host (db-01 is not payments'): payments is not evaluated
    edr.pages = [{ signals: [input('db-crit-1', 'critical', 'db-01')] }];
    await runner.run(edr);
    await exceptions.ingestChecksSettled();
    expect((await store.getException('stale'))?.status).toBe('approved');
    // the sweep catches it
    expect((await exceptions.sweep()).revoked).toEqual(['stale']);
    // the signal-scoped exception: its own signal again is no reason; another one on web-01 is
    edr.pages.push({ signals: [input('med-1', 'medium')] }, { signals: [input('low-2', 'low')] });
    await runner.run(edr);
    await exceptions.ingestChecksSettled();
    expect((await store.getException('signal-scoped'))?.status).toBe('approved');
    await runner.run(edr);
    await exceptions.ingestChecksSettled();
    const scoped = await store.getException('signal-scoped');
    expect(scoped?.status).toBe('revoked');
    expect(scoped?.decisionComment).toContain('edr:low-2');
  });

  it('coalesces checks: at most one in flight, requests meanwhile make exactly one more run', async () => {
    const knex = await databases.init(databaseId);
    const { store, exceptions } = await services(knex);
    await store.insertException(exception('x', {}));
    const real = exceptions.revokeTouched.bind(exceptions);
    const runs: string[][] = [];
    let running = 0;
    let most = 0;
    let release!: () => void;
    const gate = new Promise<void>(resolve => (release = resolve));
    exceptions.revokeTouched = async ids => {
      running++;
      most = Math.max(most, running);
      runs.push(ids.filter(i => i.kind === 'hostname').map(i => i.value).sort());
      await gate;
      try {
        return await real(ids);
      } finally {
        running--;
      }
    };
    const first = exceptions.signalsCommitted([edrSignal('a', 'low', T0)]);
    const second = exceptions.signalsCommitted([{ ...edrSignal('b', 'low', T0), asset: { hostname: 'db-01', ips: [], macs: [] } }]);
    const third = exceptions.signalsCommitted([{ ...edrSignal('c', 'low', T0), asset: { hostname: 'app-01', ips: [], macs: [] } }]);
    expect(third).toBe(second);
    expect(runs).toEqual([['web-01']]);
    release();
    await Promise.all([first, second, third]);
    await exceptions.ingestChecksSettled();
    expect(runs).toEqual([['web-01'], ['app-01', 'db-01']]);
    expect(most).toBe(1);
    // idle again: the next request runs at once
    await exceptions.signalsCommitted([edrSignal('d', 'low', T0)]);
    expect(runs).toHaveLength(3);
    // a check that fails is logged and never rejects
    exceptions.revokeTouched = async () => Promise.reject(new Error('database away'));
    await expect(exceptions.signalsCommitted([edrSignal('e', 'low', T0)])).resolves.toBeUndefined();
  });

  it('the backend revokes on a pull ingestion and on a webhook push without running its exception sweep', async () => {
    const knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signalInput('low-1', { severity: 'low', hostname: 'web-01' })] }];
    const { backend, runTask, scheduler } = await startBackend({ knex, sources: [edr, testPushSource] });
    try {
      await runTask('runtime-risk-ingest-edr');
      await runTask('runtime-risk-correlate');
      const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
      const now = Date.now();
      const open = { createdAt: new Date(now).toISOString(), expiresAt: new Date(now + 3600_000).toISOString() };
      await store.insertException(exception('payments-ex', open));
      await store.insertException(exception('checkout-ex', { ...open, entityRef: 'component:default/checkout' }));
      // the sweep is still scheduled (safety net), and never run here
      expect(scheduler.scheduleTask).toHaveBeenCalledWith(expect.objectContaining({ id: 'runtime-risk-exceptions' }));

      edr.pages.push({ signals: [signalInput('crit-1', { severity: 'critical', hostname: 'web-01' })] });
      await runTask('runtime-risk-ingest-edr');
      await vi.waitFor(async () => expect((await store.getException('payments-ex'))?.status).toBe('revoked'), { timeout: 5000 });
      expect((await store.getException('checkout-ex'))?.status).toBe('approved');

      const body = JSON.stringify({ signals: [signalInput('hook-crit-1', { severity: 'critical', hostname: 'app-01' })] });
      const pushed = await request(backend.server)
        .post('/api/runtime-risk/v1/signals/webhook/hooks')
        .set('Content-Type', 'application/json')
        .set('x-signature', sign(body))
        .send(body);
      expect(pushed.status).toBe(202);
      await vi.waitFor(async () => expect((await store.getException('checkout-ex'))?.status).toBe('revoked'), { timeout: 5000 });
      const revokes = (await store.listAuditRecords({ limit: 100 })).filter(r => r.type === 'exception-auto-revoke');
      expect(revokes.map(r => [r.actor, r.subject])).toEqual([
        [SYSTEM_ACTOR, 'payments-ex'],
        [SYSTEM_ACTOR, 'checkout-ex'],
      ]);
    } finally {
      await backend.stop();
    }
  });
});
