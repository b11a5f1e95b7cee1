/**
 * File signal source for Runtime Risk: reads normalized signals from a JSON or
 * NDJSON file (the demo's source, and a way to feed batch exports).
 *
 * @packageDocumentation
 */
export { runtimeRiskModuleFile as default } from './module';
export { FileSignalSource, parseSignalFile, resolveRelativeTime } from './FileSignalSource';
export type { FileSignalSourceOptions } from './FileSignalSource';
