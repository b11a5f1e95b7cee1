import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { addConfiguredSources, runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { DefenderSignalSource } from './DefenderSignalSource';
import { readDefenderConfig } from './config';

/** Adds the Microsoft Defender for Endpoint signal source when `runtimeRisk.sources.defender` is configured. */
export const runtimeRiskModuleDefender = createBackendModule({
  pluginId: 'runtime-risk',
  moduleId: 'defender',
  register(env) {
    env.registerInit({
      deps: {
        sources: runtimeRiskSignalSourcesExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ sources, config, logger }) {
        addConfiguredSources({
          name: 'defender',
          sources,
          config,
          logger,
          read: readDefenderConfig,
          create: options => new DefenderSignalSource(options),
        });
      },
    });
  },
});
