/**
 * SentinelOne signal source for Runtime Risk.
 *
 * @packageDocumentation
 */
export { runtimeRiskModuleSentinelOne as default } from './module';
