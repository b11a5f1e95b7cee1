/**
 * Microsoft Defender for Endpoint signal source for Runtime Risk.
 *
 * @packageDocumentation
 */
export { runtimeRiskModuleDefender as default } from './module';
