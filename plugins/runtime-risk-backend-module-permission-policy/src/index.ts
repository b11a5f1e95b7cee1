/**
 * The Runtime Risk permission policy: approver groups approve, owners request
 * exceptions for their entities, admin groups read sources, coverage and audit;
 * configured from `runtimeRisk.permissionPolicy`.
 *
 * @packageDocumentation
 */
export { runtimeRiskPermissionPolicyModule as default } from './module';
export { RuntimeRiskPermissionPolicy, runtimeRiskPolicyDecision, readPolicyConfig, POLICY_CONFIG_KEY } from './policy';
export type { RuntimeRiskPolicyConfig } from './policy';
