import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { T0, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { ExceptionService, SYSTEM_ACTOR } from './ExceptionService';
import { ApprovalService } from './ApprovalService';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('automatic changes in the decision log on %p', databaseId => {
  it('logs gate decisions, auto-revocation, exception expiry and approval expiry, and the chain verifies', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, clock, policy, risk, auditor } = await createRiskServices(knex);
    const permissions = mockServices.permissions();
    const exceptions = new ExceptionService({ store, risk, permissions, policy, auditor, clock });
    const approvals = new ApprovalService({ store, risk, permissions, auditor, clock });

    // a medium detection: approval_required (pending) in production
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('med-1', 'medium', T0)], cursor: '1', at: iso(T0) });
    const pending = await risk.gate(
      { entityRef: 'component:default/payments', environment: 'production', dryRun: false },
      { requestedBy: 'ci-gate' },
    );
    expect(pending).toMatchObject({ decision: 'approval_required', status: 'pending' });
    const base = { entityRef: 'component:default/payments', environment: 'production', reason: 'hotfix', requestedBy: 'user:default/dev', approvedBy: 'user:default/sec', signalIds: null, createdAt: iso(T0) };
    await store.insertException({ ...base, id: 'scoped', status: 'approved', expiresAt: iso(T0 + 6 * 3600_000), maxLevel: 'moderate' });
    await store.insertException({ ...base, id: 'short', status: 'approved', expiresAt: iso(T0 + 30 * 60_000), maxLevel: null });

    // a critical detection: the scoped exception is revoked automatically
    time.now = T0 + 10 * 60_000;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('crit-1', 'critical', time.now)], cursor: '2', at: iso(time.now) });
    expect((await exceptions.sweep()).revoked).toEqual(['scoped']);
    expect((await approvals.sweep()).expired).toEqual([]);

    // later: the short exception expires, and so does the unapproved decision (default approvalTtl 24 h)
    time.now = T0 + 25 * 3600_000;
    expect((await risk.getDecision(pending.decisionId)).status).toBe('expired');
    expect((await exceptions.sweep()).expired).toEqual(['short']);
    expect((await approvals.sweep()).expired).toEqual([pending.decisionId]);
    expect(await approvals.sweep()).toEqual({ expired: [] });
    expect(auditor.createEvent).toHaveBeenCalledWith(expect.objectContaining({ eventId: 'decision-expire' }));

    const records = await store.listAuditRecords({ limit: 100 });
    expect(records.map(r => [r.type, r.actor, r.subject])).toEqual([
      ['gate-decision', 'ci-gate', pending.decisionId],
      ['exception-create', 'user:default/dev', 'scoped'],
      ['exception-create', 'user:default/dev', 'short'],
      ['exception-auto-revoke', SYSTEM_ACTOR, 'scoped'],
      ['exception-expire', SYSTEM_ACTOR, 'short'],
      ['decision-expire', SYSTEM_ACTOR, pending.decisionId],
    ]);
    expect(records[3].payload.comment).toContain('high');
    expect(await store.verifyAuditLog()).toEqual({ ok: true, checked: 6, head: records[5].hash });
  });
});
