/**
 * Scaffolder module adding the `runtime-risk:gate` action.
 *
 * @packageDocumentation
 */
export { scaffolderModuleRuntimeRisk as default } from './module';
export { createRuntimeRiskGateAction, RUNTIME_RISK_GATE_ACTION_ID } from './actions/gate';
export type { RuntimeRiskGateActionOptions } from './actions/gate';
