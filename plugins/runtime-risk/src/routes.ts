import { createRouteRef, createSubRouteRef } from '@backstage/core-plugin-api';

/** Route of the org-wide risk page (legacy frontend system). */
export const rootRouteRef = createRouteRef({ id: 'runtime-risk' });
/** A gate decision's page under the org page, `/runtime-risk/decisions/:id` (legacy frontend system). */
export const decisionRouteRef = createSubRouteRef({ id: 'runtime-risk:decision', parent: rootRouteRef, path: '/decisions/:id' });
/** The "What if" page under the org page, `/runtime-risk/what-if` (legacy frontend system). */
export const whatIfRouteRef = createSubRouteRef({ id: 'runtime-risk:what-if', parent: rootRouteRef, path: '/what-if' });
/** Route of the entity "Runtime risk" tab (legacy frontend system). */
export const entityContentRouteRef = createRouteRef({ id: 'runtime-risk:entity-content' });
