import { createRouteRef } from '@backstage/core-plugin-api';

/** Route of the org-wide risk page (legacy frontend system). */
export const rootRouteRef = createRouteRef({ id: 'runtime-risk' });
/** Route of the entity "Runtime risk" tab (legacy frontend system). */
export const entityContentRouteRef = createRouteRef({ id: 'runtime-risk:entity-content' });
