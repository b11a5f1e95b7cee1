import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { addConfiguredSources, runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { WebhookSignalSource } from './WebhookSignalSource';
import { readWebhookConfig } from './config';

/**
 * Adds one push source per entry of `runtimeRisk.sources.webhook.sources`;
 * each receives `POST /api/runtime-risk/v1/signals/webhook/<id>`.
 */
export const runtimeRiskModuleWebhook = createBackendModule({
  pluginId: 'runtime-risk',
  moduleId: 'webhook',
  register(env) {
    env.registerInit({
      deps: {
        sources: runtimeRiskSignalSourcesExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ sources, config, logger }) {
        addConfiguredSources({
          name: 'webhook',
          sources,
          config,
          logger,
          read: readWebhookConfig,
          create: list => list.map(options => new WebhookSignalSource(options)),
        });
      },
    });
  },
});
