import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { component } from '../testUtils/fixtures';
import { EntityIndexer } from './EntityIndexer';
import { INDEX_LIMITS } from './indexBuilder';

/**
 * Issue 16 part 7: an entity whose annotations the index cannot store (a host
 * longer than its column, a NUL character) is left out of the rebuild with a
 * warning; every other entity is indexed.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('index rebuild with unstorable annotations on %p', databaseId => {
  it('skips only the entity with over-long or NUL annotations, with a warning', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    const logger = mockServices.logger.mock();
    const entities = [
      component('payments', { 'runtime-risk.io/hosts': 'web-01' }),
      component('huge', { 'runtime-risk.io/hosts': `web-02, ${'h'.repeat(INDEX_LIMITS.hostValue + 1)}` }),
      component('nul', { 'runtime-risk.io/hosts': 'web\u0000-03' }),
      component('checkout', { 'runtime-risk.io/hosts': 'app-01' }),
    ];
    const indexer = new EntityIndexer({ catalog: catalogServiceMock({ entities }), auth: mockServices.auth(), store, logger });
    expect(await indexer.rebuild()).toBe(2);
    expect((await store.getEntity('component:default/payments'))?.hosts.map(h => h.value)).toEqual(['web-01']);
    expect((await store.getEntity('component:default/checkout'))?.hosts.map(h => h.value)).toEqual(['app-01']);
    expect(await store.getEntity('component:default/huge')).toBeUndefined();
    expect(await store.getEntity('component:default/nul')).toBeUndefined();
    const warnings = (logger.warn as unknown as { mock: { calls: unknown[][] } }).mock.calls.map(c => String(c[0]));
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`component:default/huge: left out of the index: host 'h+…' is longer than ${INDEX_LIMITS.hostValue} characters`)),
        expect.stringMatching(/component:default\/nul: left out of the index: host .* holds a NUL character/),
      ]),
    );
    // on demand too: nothing stored, no error
    expect(await indexer.indexOne('component:default/huge')).toBeUndefined();
    expect(await indexer.indexOne('component:default/checkout')).toMatchObject({ entityRef: 'component:default/checkout' });
  });
});
