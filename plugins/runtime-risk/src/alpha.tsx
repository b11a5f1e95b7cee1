import {
  ApiBlueprint,
  PageBlueprint,
  createFrontendPlugin,
  createRouteRef,
  createSubRouteRef,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/frontend-plugin-api';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import SecurityIcon from '@material-ui/icons/Security';
import { runtimeRiskApiRef } from './api/RuntimeRiskApi';
import { RuntimeRiskClient } from './api/RuntimeRiskClient';

/** Route of the org-wide risk page. */
export const runtimeRiskRootRouteRef = createRouteRef();
/** Route of a gate decision's page, `/runtime-risk/decisions/:id` (its approve / reject form). */
export const runtimeRiskDecisionRouteRef = createSubRouteRef({ parent: runtimeRiskRootRouteRef, path: '/decisions/:id' });
/** Route of the "What if" page, `/runtime-risk/what-if` (a proposed policy replayed over recorded decisions). */
export const runtimeRiskWhatIfRouteRef = createSubRouteRef({ parent: runtimeRiskRootRouteRef, path: '/what-if' });

const runtimeRiskApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: runtimeRiskApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) => new RuntimeRiskClient({ discoveryApi, fetchApi }),
    }),
});

/** Overview card on component pages. */
const entityRiskCard = EntityCardBlueprint.make({
  name: 'risk',
  params: {
    // an info card sits at the top of the side column: visible without scrolling
    type: 'info',
    filter: { kind: 'component' },
    loader: () => import('./components/EntityRiskCard').then(m => <m.EntityRiskCard />),
  },
});

/** "Runtime risk" tab on component pages. */
const entityRiskContent = EntityContentBlueprint.make({
  name: 'risk',
  params: {
    path: '/runtime-risk',
    title: 'Runtime risk',
    filter: { kind: 'component' },
    loader: () => import('./components/EntityRiskContent').then(m => <m.EntityRiskContent />),
  },
});

/** Org page at /runtime-risk (held deploys, and each decision's page at decisions/:id); the app's nav lists it through its title and icon. */
const runtimeRiskPage = PageBlueprint.make({
  params: {
    path: '/runtime-risk',
    title: 'Runtime risk',
    icon: <SecurityIcon />,
    routeRef: runtimeRiskRootRouteRef,
    loader: () => import('./components/RuntimeRiskPage').then(m => <m.RuntimeRiskPageContent />),
  },
});

/** The Runtime Risk plugin for the new frontend system. */
export default createFrontendPlugin({
  pluginId: 'runtime-risk',
  title: 'Runtime risk',
  icon: <SecurityIcon />,
  routes: { root: runtimeRiskRootRouteRef, decision: runtimeRiskDecisionRouteRef, whatIf: runtimeRiskWhatIfRouteRef },
  extensions: [runtimeRiskApi, entityRiskCard, entityRiskContent, runtimeRiskPage],
});
