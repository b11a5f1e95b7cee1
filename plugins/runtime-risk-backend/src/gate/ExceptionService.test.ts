import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { ExceptionRecord } from '../store/types';
import { T0, approvedException, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { ExceptionService, SYSTEM_ACTOR } from './ExceptionService';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const exception = approvedException;

describe.each(databases.eachSupportedId())('ExceptionService.sweep on %p', databaseId => {
  it('expires exceptions and revokes those a newer signal put out of scope, for good', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, clock, policy, risk, auditor } = await createRiskServices(knex);
    const service = new ExceptionService({ store, risk, permissions: mockServices.permissions(), policy, auditor, clock });

    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('low-1', 'low', T0)], cursor: '1', at: iso(T0) });
    await store.insertException(exception('by-level', { maxLevel: 'moderate' }));
    await store.insertException(exception('by-signal', { signalIds: ['edr:low-1'] }));
    await store.insertException(exception('short', { expiresAt: iso(T0 + 30 * 60_000) }));
    await store.insertException(exception('pending', { status: 'pending', approvedBy: null, expiresAt: iso(T0 + 20 * 60_000) }));

    expect(await service.sweep()).toEqual({ expired: [], revoked: [] });

    // a critical detection arrives ten minutes later
    time.now = T0 + 10 * 60_000;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('crit-1', 'critical', time.now)], cursor: '2', at: iso(time.now) });
    const swept = await service.sweep();
    expect(swept.revoked.sort()).toEqual(['by-level', 'by-signal']);
    expect(swept.expired).toEqual([]);
    const byLevel = await service.get('by-level');
    expect(byLevel).toMatchObject({ status: 'revoked', decidedBy: SYSTEM_ACTOR });
    expect(byLevel.decisionComment).toContain('high');
    expect((await service.get('by-signal')).decisionComment).toContain('edr:crit-1');
    expect(auditor.createEvent).toHaveBeenCalledWith(expect.objectContaining({ eventId: 'exception-revoke' }));

    // the detection is resolved: the revoked exceptions stay revoked
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'memory',
      signals: [edrSignal('crit-1', 'critical', time.now, 'resolved')],
      cursor: '3',
      at: iso(time.now),
    });
    const active = await store.listActiveExceptions('component:default/payments', 'production', iso(time.now));
    expect(active.map(e => e.id)).toEqual(['short']);

    // time passes beyond the expiries
    time.now = T0 + 31 * 60_000;
    expect((await service.get('short')).status).toBe('expired');
    const later = await service.sweep();
    expect(later.expired.sort()).toEqual(['pending', 'short']);
    expect((await store.getException('short'))?.status).toBe('expired');
    expect(await service.sweep()).toEqual({ expired: [], revoked: [] });
  });
});
