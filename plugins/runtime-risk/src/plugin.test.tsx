import './testing/configure';
import { waitFor, screen, within } from '@testing-library/react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { catalogApiRef, EntityProvider, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import type { Entity } from '@backstage/catalog-model';
import {
  EntityRuntimeRiskCard,
  EntityRuntimeRiskContent,
  RuntimeRiskPage,
  runtimeRiskApiRef,
  runtimeRiskPlugin,
} from './index';
import { Route, Routes } from 'react-router-dom';
import { FakeRuntimeRiskServer } from './testing/fakeRuntimeRiskServer';
import { makeRisk } from './testing/fixtures';

const entity: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'payments-api', namespace: 'default' },
  spec: { type: 'service', owner: 'team-payments', system: 'payments' },
};

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.risks.set('component:default/payments-api', [
    makeRisk({ riskLevel: 'high', score: 97, decision: 'block', reasons: [{ code: 'signal_active', message: 'critical detection on pay-01', signalIds: [] }] }),
  ]);
});
afterEach(async () => {
  await server.stop();
});

const mountedRoutes = { '/catalog/:namespace/:kind/:name': entityRouteRef };

describe('legacy plugin exports', () => {
  it('is the runtime-risk plugin with its API factory', () => {
    expect(runtimeRiskPlugin.getId()).toBe('runtime-risk');
    expect([...runtimeRiskPlugin.getApis()].map(f => f.api.id)).toEqual([runtimeRiskApiRef.id]);
  });

  it('renders EntityRuntimeRiskCard and EntityRuntimeRiskContent in a legacy app', async () => {
    await renderInTestApp(
      <TestApiProvider apis={[[runtimeRiskApiRef, server.client()]]}>
        <EntityProvider entity={entity}>
          <EntityRuntimeRiskCard />
          <Routes>
            <Route path="/runtime-risk" element={<EntityRuntimeRiskContent />} />
          </Routes>
        </EntityProvider>
      </TestApiProvider>,
      { mountedRoutes, routeEntries: ['/runtime-risk'] },
    );
    const section = await screen.findByRole('region', { name: 'production risk' });
    expect(within(section).getByText('block')).toBeInTheDocument();
    expect(within(section).getByText('critical detection on pay-01')).toBeInTheDocument();
    expect(await screen.findByRole('form', { name: 'exception request' }, { timeout: 15_000 })).toBeInTheDocument();
  });

  it('renders RuntimeRiskPage with its header', async () => {
    await renderInTestApp(
      <TestApiProvider
        apis={[
          [runtimeRiskApiRef, server.client()],
          [catalogApiRef, catalogApiMock({ entities: [entity] })],
        ]}
      >
        <Routes>
          <Route path="/runtime-risk" element={<RuntimeRiskPage />} />
        </Routes>
      </TestApiProvider>,
      { mountedRoutes, routeEntries: ['/runtime-risk'] },
    );
    expect(await screen.findByRole('heading', { name: 'Runtime risk' })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText('Services ranked by risk (1)')).toBeInTheDocument());
  });
});
