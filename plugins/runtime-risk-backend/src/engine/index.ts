/**
 * The pure, deterministic scoring and policy engine of the Runtime Risk backend.
 * No I/O and no clock: `evaluate` uses only `input.now`.
 */
export {
  DEFAULT_POLICY_CONFIG,
  ENGINE_ALGORITHM,
  POLICY_CONFIG_KEY,
  policyCanonicalJson,
  compilePolicy,
  readPolicyConfig,
  policyConfigValue,
  type CompiledPolicy,
} from './policy';
export {
  ScoreUnavailableError,
  levelFor,
  roundScore,
  scoreSignals,
  signalScore,
  type Contribution,
  INCIDENT_WINDOW_MS,
  groupIncidents,
  sameIncident,
  type EngineIndicators,
  type IncidentMatch,
  type EngineSignal,
} from './score';
export {
  evaluate,
  failureDecision,
  stricter,
  type AppliedFailureMode,
  type EngineException,
  type EngineSource,
  type Evaluation,
  type EvaluationInput,
} from './evaluate';
export { sourceDataAtMs, sourceStaleness, staleEnvironments } from './freshness';
