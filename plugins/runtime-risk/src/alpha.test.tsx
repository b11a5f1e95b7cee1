import './testing/configure';
import { screen, waitFor } from '@testing-library/react';
import {
  createExtensionTester,
  renderInTestApp,
} from '@backstage/frontend-test-utils';
import { ApiBlueprint, coreExtensionData } from '@backstage/frontend-plugin-api';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import { catalogApiRef, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import type { Entity } from '@backstage/catalog-model';
import runtimeRiskPlugin from './alpha';
import { runtimeRiskApiRef } from './api/RuntimeRiskApi';
import { RuntimeRiskClient } from './api/RuntimeRiskClient';
import { FakeRuntimeRiskServer } from './testing/fakeRuntimeRiskServer';
import { makeRisk } from './testing/fixtures';

const component: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'payments-api', namespace: 'default' },
  spec: { type: 'service', owner: 'team-payments', system: 'payments' },
};
const group: Entity = { apiVersion: 'backstage.io/v1alpha1', kind: 'Group', metadata: { name: 'team-payments' }, spec: {} };

function matches(filter: ((e: Entity) => boolean) | undefined, expression: string | undefined, e: Entity) {
  if (filter) return filter(e);
  // expressions are evaluated by the catalog page; ours only names the kind
  return expression === undefined || expression.toLowerCase().includes(e.kind.toLowerCase());
}

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.risks.set('component:default/payments-api', [makeRisk({ riskLevel: 'high', score: 97, decision: 'block' })]);
});
afterEach(async () => {
  await server.stop();
});

describe('runtime-risk plugin (new frontend system)', () => {
  it('provides the entity tab at runtime-risk for components only', () => {
    const tester = createExtensionTester(runtimeRiskPlugin.getExtension('entity-content:runtime-risk/risk'));
    expect(tester.get(coreExtensionData.routePath)).toBe('/runtime-risk');
    expect(tester.get(EntityContentBlueprint.dataRefs.title)).toBe('Runtime risk');
    const fn = tester.get(EntityContentBlueprint.dataRefs.filterFunction);
    const expr = tester.get(EntityContentBlueprint.dataRefs.filterExpression);
    expect(matches(fn, expr, component)).toBe(true);
    expect(matches(fn, expr, group)).toBe(false);
  });

  it('provides the overview card for components only', () => {
    const tester = createExtensionTester(runtimeRiskPlugin.getExtension('entity-card:runtime-risk/risk'));
    const fn = tester.get(EntityCardBlueprint.dataRefs.filterFunction);
    const expr = tester.get(EntityCardBlueprint.dataRefs.filterExpression);
    expect(matches(fn, expr, component)).toBe(true);
    expect(matches(fn, expr, group)).toBe(false);
  });

  it('mounts the org page at /runtime-risk and renders the ranking through its API extension', async () => {
    const tester = createExtensionTester(runtimeRiskPlugin.getExtension('page:runtime-risk'), {
      apis: [
        [runtimeRiskApiRef, server.client()],
        [catalogApiRef, catalogApiMock({ entities: [component] })],
      ],
    });
    expect(tester.get(coreExtensionData.routePath)).toBe('/runtime-risk');
    renderInTestApp(tester.reactElement(), {
      apis: [
        [runtimeRiskApiRef, server.client()],
        [catalogApiRef, catalogApiMock({ entities: [component] })],
      ],
      mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef },
    });
    await waitFor(() => expect(screen.getByText('Services ranked by risk (1)')).toBeInTheDocument());
    await waitFor(() => expect(screen.getByText('block')).toBeInTheDocument());
  });

  it('registers an API factory that builds a working client from discovery and fetch', async () => {
    const tester = createExtensionTester(runtimeRiskPlugin.getExtension('api:runtime-risk'));
    const factory = tester.get(ApiBlueprint.dataRefs.factory);
    expect(factory.api.id).toBe(runtimeRiskApiRef.id);
    expect(Object.values(factory.deps).map(d => d.id).sort()).toEqual(['core.discovery', 'core.fetch']);
    const asked: string[] = [];
    const client = factory.factory({
      discoveryApi: {
        getBaseUrl: async (pluginId: string) => {
          asked.push(pluginId);
          return server.url;
        },
      },
      fetchApi: { fetch: globalThis.fetch },
    }) as RuntimeRiskClient;
    expect(client).toBeInstanceOf(RuntimeRiskClient);
    const [risk] = await client.getEntityRisk('component:default/payments-api');
    expect(risk.decision).toBe('block');
    expect(asked).toEqual(['runtime-risk']);
  });
});
