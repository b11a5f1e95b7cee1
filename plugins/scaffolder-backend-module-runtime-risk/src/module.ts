import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import { runtimeRiskGateServiceRef } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { createRuntimeRiskGateAction } from './actions/gate';

/** Adds the `runtime-risk:gate` action to the scaffolder. */
export const scaffolderModuleRuntimeRisk = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'runtime-risk',
  register(reg) {
    reg.registerInit({
      deps: {
        scaffolder: scaffolderActionsExtensionPoint,
        gate: runtimeRiskGateServiceRef,
        config: coreServices.rootConfig,
      },
      async init({ scaffolder, gate, config }) {
        scaffolder.addActions(
          createRuntimeRiskGateAction({ gate, portalBaseUrl: config.getOptionalString('app.baseUrl') }),
        );
      },
    });
  },
});
