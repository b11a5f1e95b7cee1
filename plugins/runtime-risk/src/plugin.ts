import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { runtimeRiskApiRef } from './api/RuntimeRiskApi';
import { RuntimeRiskClient } from './api/RuntimeRiskClient';
import { decisionRouteRef, entityContentRouteRef, rootRouteRef, whatIfRouteRef } from './routes';

/** The Runtime Risk frontend plugin for apps on the legacy frontend system. */
export const runtimeRiskPlugin = createPlugin({
  id: 'runtime-risk',
  apis: [
    createApiFactory({
      api: runtimeRiskApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) => new RuntimeRiskClient({ discoveryApi, fetchApi }),
    }),
  ],
  routes: { root: rootRouteRef, entityContent: entityContentRouteRef, decision: decisionRouteRef, whatIf: whatIfRouteRef },
});

/** Org page: every service ranked by runtime risk, held deploys, and each decision's page at `decisions/:id`. Mount at `/runtime-risk`. */
export const RuntimeRiskPage = runtimeRiskPlugin.provide(
  createRoutableExtension({
    name: 'RuntimeRiskPage',
    component: () => import('./components/RuntimeRiskPage').then(m => m.RuntimeRiskPage),
    mountPoint: rootRouteRef,
  }),
);

/** Entity page tab with signals, hosts, decision history, chart and exception requests. */
export const EntityRuntimeRiskContent = runtimeRiskPlugin.provide(
  createRoutableExtension({
    name: 'EntityRuntimeRiskContent',
    component: () => import('./components/EntityRiskContent').then(m => m.EntityRiskContent),
    mountPoint: entityContentRouteRef,
  }),
);

/** Overview card: what the gate would answer now, per environment, and why. */
export const EntityRuntimeRiskCard = runtimeRiskPlugin.provide(
  createComponentExtension({
    name: 'EntityRuntimeRiskCard',
    component: {
      lazy: () => import('./components/EntityRiskCard').then(m => m.EntityRiskCard),
    },
  }),
);
