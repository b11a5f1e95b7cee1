import { TestDatabases } from '@backstage/backend-test-utils';
import type { RuntimeRiskStore } from '../store/types';
import { T0, approvedException, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { SummaryService } from './SummaryService';

/**
 * The org summary's snapshot (issue 17 part 5): evaluated again after its TTL,
 * at the new time, reading the store again only when the data version moved.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const PAYMENTS = 'component:default/payments';

describe.each(databases.eachSupportedId())('SummaryService on %p', databaseId => {
  it('evaluates again at the new time without reading the signals again while nothing was written; reads again after a write', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, risk } = await createRiskServices(knex);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('c1', 'critical', T0)], cursor: '1', at: iso(T0) });
    // an exception that turns the block into proceed for one hour
    await store.insertException(approvedException('ex-1', { expiresAt: iso(T0 + 3600_000) }));
    let signalReads = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'findSignalHeadsByIdentifiers') {
          return (values: string[]) => {
            signalReads++;
            return target.findSignalHeadsByIdentifiers(values);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    }) as RuntimeRiskStore;
    const service = new SummaryService({ store: counting, risk, clock: () => new Date(time.now), ttlMs: 1_000 });
    const production = async () => {
      const body = await service.summary({ environment: 'production', limit: 10, days: 1, readable: async refs => new Set(refs), fresh: true });
      return body.topRisky.find(r => r.entityRef === PAYMENTS)!;
    };

    expect(await production()).toMatchObject({ decision: 'proceed', riskLevel: 'high' });
    expect(signalReads).toBe(1);

    // two hours later, nothing written: the exception has expired and the critical signal has decayed
    const before = (await production()).score!;
    time.now = T0 + 2 * 3600_000;
    const later = await production();
    expect(later).toMatchObject({ decision: 'block' });
    expect(later.score!).toBeLessThan(before);
    expect(signalReads).toBe(1);

    // a write (the signal resolved): read again
    time.now += 2_000;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('c1', 'critical', T0, 'resolved')], cursor: '2', at: iso(time.now) });
    expect(await production()).toMatchObject({ decision: 'proceed', riskLevel: 'low', score: 0 });
    expect(signalReads).toBe(2);
  });
});
