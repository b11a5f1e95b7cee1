import { createPermission } from '@backstage/plugin-permission-common';

/**
 * Ask the gate for a decision (`POST /v1/gate`). The only write a pipeline needs;
 * the entity must also be readable by the caller (`catalog.entity.read`).
 */
export const runtimeRiskGateEvaluatePermission = createPermission({
  name: 'runtime-risk.gate.evaluate',
  attributes: { action: 'create' },
});

/** Read gate decisions (`GET /v1/decisions`, `/v1/decisions/:id`, replay), on entities the caller may read. */
export const runtimeRiskDecisionReadPermission = createPermission({
  name: 'runtime-risk.decision.read',
  attributes: { action: 'read' },
});

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

/** Read the policy configuration (`GET /v1/policy`). */
export const runtimeRiskPolicyReadPermission = createPermission({
  name: 'runtime-risk.policy.read',
  attributes: { action: 'read' },
});

/**
 * Read what spans every entity: source health (`/v1/sources`), coverage
 * (`/v1/coverage`), signals not narrowed to an entity and the audit routes.
 */
export const runtimeRiskAdminReadPermission = createPermission({
  name: 'runtime-risk.admin.read',
  attributes: { action: 'read' },
});

/**
 * Decisions only a person takes: a service principal is refused them unless its
 * `backend.auth.externalAccess[].accessRestrictions` name the permission.
 */
export const runtimeRiskHumanPermissions = [
  runtimeRiskExceptionCreatePermission,
  runtimeRiskExceptionApprovePermission,
  runtimeRiskDecisionOverridePermission,
];

export const runtimeRiskPermissions = [
  runtimeRiskGateEvaluatePermission,
  runtimeRiskDecisionReadPermission,
  runtimeRiskExceptionCreatePermission,
  runtimeRiskExceptionApprovePermission,
  runtimeRiskDecisionOverridePermission,
  runtimeRiskPolicyReadPermission,
  runtimeRiskAdminReadPermission,
];
