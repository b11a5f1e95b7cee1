import { createBackendModule } from '@backstage/backend-plugin-api';
import {
  AuthorizeResult,
  isPermission,
  type PolicyDecision,
} from '@backstage/plugin-permission-common';
import type { PermissionPolicy, PolicyQuery, PolicyQueryUser } from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import {
  runtimeRiskDecisionOverridePermission,
  runtimeRiskExceptionApprovePermission,
  runtimeRiskExceptionCreatePermission,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** The group whose members approve runtime-risk exceptions and pending decisions. */
export const SECURITY_GROUP = 'group:default/security';

/**
 * Example permission policy for Runtime Risk:
 * - owners of an entity (and only they) may request an exception for it;
 * - members of the security group approve exceptions and override decisions
 *   (the plugin itself refuses self-approval whatever the policy says);
 * - everything else is allowed, as in a default Backstage demo.
 */
export class RuntimeRiskDemoPolicy implements PermissionPolicy {
  async handle(request: PolicyQuery, user?: PolicyQueryUser): Promise<PolicyDecision> {
    if (isPermission(request.permission, runtimeRiskExceptionCreatePermission)) {
      if (!user) return { result: AuthorizeResult.DENY };
      return createCatalogConditionalDecision(
        request.permission,
        catalogConditions.isEntityOwner({ claims: user.info.ownershipEntityRefs ?? [] }),
      );
    }
    if (
      isPermission(request.permission, runtimeRiskExceptionApprovePermission) ||
      isPermission(request.permission, runtimeRiskDecisionOverridePermission)
    ) {
      const refs = user?.info.ownershipEntityRefs ?? [];
      return { result: refs.includes(SECURITY_GROUP) ? AuthorizeResult.ALLOW : AuthorizeResult.DENY };
    }
    return { result: AuthorizeResult.ALLOW };
  }
}

export const runtimeRiskPermissionPolicyModule = createBackendModule({
  pluginId: 'permission',
  moduleId: 'runtime-risk-demo-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint },
      async init({ policy }) {
        policy.setPolicy(new RuntimeRiskDemoPolicy());
      },
    });
  },
});
