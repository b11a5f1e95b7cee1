/**
 * Runtime Risk frontend plugin: entity risk card, entity risk tab and org risk page.
 * The new frontend system plugin is the default export of `@runtime-risk/backstage-plugin-runtime-risk/alpha`.
 *
 * @packageDocumentation
 */
export {
  runtimeRiskPlugin,
  RuntimeRiskPage,
  EntityRuntimeRiskCard,
  EntityRuntimeRiskContent,
} from './plugin';
export { runtimeRiskApiRef } from './api/RuntimeRiskApi';
export type {
  RuntimeRiskApi,
  ExceptionRequest,
  RiskException,
  ExceptionQuery,
  ExceptionAction,
  ExceptionStatus,
  SignalQuery,
  DecisionQuery,
  DecisionAction,
} from './api/RuntimeRiskApi';
export { RuntimeRiskClient } from './api/RuntimeRiskClient';
