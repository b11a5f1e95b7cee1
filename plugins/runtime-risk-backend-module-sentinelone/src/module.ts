import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { addConfiguredSources, runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { SentinelOneSignalSource } from './SentinelOneSignalSource';
import { readSentinelOneConfig } from './config';

/** Adds the SentinelOne signal source when `runtimeRisk.sources.sentinelone` is configured. */
export const runtimeRiskModuleSentinelOne = createBackendModule({
  pluginId: 'runtime-risk',
  moduleId: 'sentinelone',
  register(env) {
    env.registerInit({
      deps: {
        sources: runtimeRiskSignalSourcesExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ sources, config, logger }) {
        addConfiguredSources({
          name: 'sentinelone',
          sources,
          config,
          logger,
          read: readSentinelOneConfig,
          create: options => new SentinelOneSignalSource(options),
        });
      },
    });
  },
});
