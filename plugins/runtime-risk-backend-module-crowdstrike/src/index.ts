/**
 * CrowdStrike Falcon signal source for Runtime Risk.
 *
 * @packageDocumentation
 */
export { runtimeRiskModuleCrowdStrike as default } from './module';
