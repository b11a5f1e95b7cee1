/**
 * OpenFeature server provider exposing Runtime Risk as feature flags:
 * `runtime-risk.deploy-safe` (boolean), `runtime-risk.score` (number) and
 * `runtime-risk.decision` (string), per entity and environment, answered by the
 * gate's read-only `GET /v1/analysis` endpoint.
 *
 * @packageDocumentation
 */
export {
  RuntimeRiskProvider,
  DEPLOY_SAFE_FLAG,
  SCORE_FLAG,
  DECISION_FLAG,
  metadataOf,
  type RuntimeRiskProviderOptions,
  type FetchLike,
} from './provider';
