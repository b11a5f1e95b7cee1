export { RuntimeRiskGateClient, RuntimeRiskGateError } from './client';
export type { RuntimeRiskGateService, RuntimeRiskGateRequestOptions } from './client';
export { runtimeRiskGateServiceRef } from './ref';
