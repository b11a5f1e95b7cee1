import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { RuntimeRiskPermissionPolicy, readPolicyConfig } from './policy';

/**
 * The permission policy for Runtime Risk, configured from
 * `runtimeRisk.permissionPolicy` (approver groups, owners request exceptions).
 * A backend has one policy: add this module instead of another policy module.
 */
export const runtimeRiskPermissionPolicyModule = createBackendModule({
  pluginId: 'permission',
  moduleId: 'runtime-risk-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint, config: coreServices.rootConfig, logger: coreServices.logger },
      async init({ policy, config, logger }) {
        const settings = readPolicyConfig(config);
        policy.setPolicy(new RuntimeRiskPermissionPolicy(settings));
        logger.info(
          `runtime-risk permission policy: approvers ${settings.approverGroups.join(', ')}; entity reads ${settings.restrictEntityReads ? 'restricted to owners and listed groups' : 'open'}`,
        );
      },
    });
  },
});
