import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { addConfiguredSources, runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { CrowdStrikeSignalSource } from './CrowdStrikeSignalSource';
import { readCrowdStrikeConfig } from './config';

/** Adds the CrowdStrike Falcon signal source when `runtimeRisk.sources.crowdstrike` is configured. */
export const runtimeRiskModuleCrowdStrike = createBackendModule({
  pluginId: 'runtime-risk',
  moduleId: 'crowdstrike',
  register(env) {
    env.registerInit({
      deps: {
        sources: runtimeRiskSignalSourcesExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ sources, config, logger }) {
        addConfiguredSources({
          name: 'crowdstrike',
          sources,
          config,
          logger,
          read: readCrowdStrikeConfig,
          create: options => new CrowdStrikeSignalSource(options),
        });
      },
    });
  },
});
