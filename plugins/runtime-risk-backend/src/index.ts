/**
 * The Runtime Risk backend plugin: a deployment gate answering from stored EDR signals.
 *
 * @packageDocumentation
 */
export { runtimeRiskPlugin as default } from './plugin';
