import { createPermission } from '@backstage/plugin-permission-common';

/** Request an exception for an entity; by default its owners may. */
export const runtimeRiskExceptionCreatePermission = createPermission({
  name: 'runtime-risk.exception.create',
  attributes: { action: 'create' },
  resourceType: 'catalog-entity',
});

/** Approve or reject an exception or a pending decision. */
export const runtimeRiskExceptionApprovePermission = createPermission({
  name: 'runtime-risk.exception.approve',
  attributes: { action: 'update' },
});

/** Override a gate decision. */
export const runtimeRiskDecisionOverridePermission = createPermission({
  name: 'runtime-risk.decision.override',
  attributes: { action: 'update' },
});

/** Read the policy configuration. */
export const runtimeRiskPolicyReadPermission = createPermission({
  name: 'runtime-risk.policy.read',
  attributes: { action: 'read' },
});

export const runtimeRiskPermissions = [
  runtimeRiskExceptionCreatePermission,
  runtimeRiskExceptionApprovePermission,
  runtimeRiskDecisionOverridePermission,
  runtimeRiskPolicyReadPermission,
];
