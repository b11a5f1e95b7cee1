import { coreServices, createServiceFactory, createServiceRef } from '@backstage/backend-plugin-api';
import { RuntimeRiskGateClient, RuntimeRiskGateService } from './client';

/**
 * Service through which other backend plugins call the runtime-risk gate.
 *
 * @example
 * ```ts
 * env.registerInit({
 *   deps: { gate: runtimeRiskGateServiceRef },
 *   async init({ gate }) {
 *     const d = await gate.evaluate({ entityRef, environment }, { credentials });
 *   },
 * });
 * ```
 */
export const runtimeRiskGateServiceRef = createServiceRef<RuntimeRiskGateService>({
  id: 'runtime-risk.gate',
  scope: 'plugin',
  defaultFactory: async service =>
    createServiceFactory({
      service,
      deps: { discovery: coreServices.discovery, auth: coreServices.auth },
      async factory({ discovery, auth }) {
        return new RuntimeRiskGateClient({ discovery, auth });
      },
    }),
});
