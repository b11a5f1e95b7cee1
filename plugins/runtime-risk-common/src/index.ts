/**
 * Types, zod schemas and permissions shared by the Runtime Risk backend,
 * frontend, CLI and source modules.
 *
 * @packageDocumentation
 */
export * from './signal';
export * from './policy';
export * from './gate';
export * from './permissions';
export * from './exception';
export * from './duration';
export * from './client';
export type { paths as RuntimeRiskApiPaths, components as RuntimeRiskApiComponents, operations as RuntimeRiskApiOperations } from './generated/openapi';
export { operationRoutes as runtimeRiskOperationRoutes } from './generated/routes';
export { spec as runtimeRiskOpenApiSpec } from './generated/spec';

/** Annotation listing the hosts of an entity (all environments). */
export const ANNOTATION_HOSTS = 'runtime-risk.io/hosts';
/** Plugin id and HTTP base path. */
export const RUNTIME_RISK_PLUGIN_ID = 'runtime-risk';
export * from './analysis';
export * from './entityRef';
export * from './live';
