import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Signal } from '@internal/plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from '../engine';
import { EntityIndexer } from '../correlation/EntityIndexer';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import type { ExceptionRecord } from '../store/types';
import { MemoryPullSource, component } from '../testUtils/fixtures';
import { ExceptionService, SYSTEM_ACTOR } from './ExceptionService';
import { RiskService } from './RiskService';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const T0 = Date.parse('2026-11-23T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

function signal(sourceId: string, severity: Signal['severity'], at: number, status: Signal['status'] = 'active'): Signal {
  return {
    id: `edr:${sourceId}`,
    source: 'edr',
    sourceId,
    kind: 'detection',
    severity,
    confidence: 1,
    status,
    title: sourceId,
    tactics: [],
    techniques: [],
    asset: { hostname: 'web-01', ips: [], macs: [] },
    firstSeenAt: iso(at),
    lastSeenAt: iso(at),
    fetchedAt: iso(at),
  };
}

function exception(id: string, overrides: Partial<ExceptionRecord>): ExceptionRecord {
  return {
    id,
    entityRef: 'component:default/payments',
    environment: 'production',
    reason: 'hotfix',
    requestedBy: 'user:default/dev',
    status: 'approved',
    approvedBy: 'user:default/security',
    expiresAt: iso(T0 + 2 * 3600_000),
    signalIds: null,
    maxLevel: null,
    createdAt: iso(T0),
    ...overrides,
  };
}

describe.each(databases.eachSupportedId())('ExceptionService.sweep on %p', databaseId => {
  it('expires exceptions and revokes those a newer signal put out of scope, for good', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    let now = T0;
    const clock = () => new Date(now);
    const policy = compilePolicy(DEFAULT_POLICY_CONFIG);
    const indexer = new EntityIndexer({
      catalog: catalogServiceMock({ entities: [component('payments', { 'runtime-risk.io/hosts': 'web-01' })] }),
      auth: mockServices.auth(),
      store,
      logger: mockServices.logger.mock(),
      clock,
    });
    await indexer.rebuild();
    const edr = new MemoryPullSource('edr');
    const risk = new RiskService({ store, indexer, policy, sources: () => [{ source: edr, frequencyMs: 30_000 }], clock });
    const auditor = mockServices.auditor.mock();
    const service = new ExceptionService({ store, risk, permissions: mockServices.permissions(), policy, auditor, clock });

    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [signal('low-1', 'low', T0)], cursor: '1', at: iso(T0) });
    await store.insertException(exception('by-level', { maxLevel: 'moderate' }));
    await store.insertException(exception('by-signal', { signalIds: ['edr:low-1'] }));
    await store.insertException(exception('short', { expiresAt: iso(T0 + 30 * 60_000) }));
    await store.insertException(exception('pending', { status: 'pending', approvedBy: null, expiresAt: iso(T0 + 20 * 60_000) }));

    expect(await service.sweep()).toEqual({ expired: [], revoked: [] });

    // a critical detection arrives ten minutes later
    now = T0 + 10 * 60_000;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [signal('crit-1', 'critical', now)], cursor: '2', at: iso(now) });
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
      signals: [signal('crit-1', 'critical', now, 'resolved')],
      cursor: '3',
      at: iso(now),
    });
    const active = await store.listActiveExceptions('component:default/payments', 'production', iso(now));
    expect(active.map(e => e.id)).toEqual(['short']);

    // time passes beyond the expiries
    now = T0 + 31 * 60_000;
    expect((await service.get('short')).status).toBe('expired');
    const later = await service.sweep();
    expect(later.expired.sort()).toEqual(['pending', 'short']);
    expect((await store.getException('short'))?.status).toBe('expired');
    expect(await service.sweep()).toEqual({ expired: [], revoked: [] });
  });
});
