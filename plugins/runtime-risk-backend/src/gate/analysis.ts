import { analysisPhase, type AnalysisResult, type EntityRisk } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/**
 * The analysis answer of an entity's current risk: the gate decision mapped to an
 * Argo Rollouts measurement phase (see {@link analysisPhase}), with the reasons.
 */
export function toAnalysisResult(risk: EntityRisk): AnalysisResult {
  return {
    phase: analysisPhase(risk.decision),
    entityRef: risk.entityRef,
    environment: risk.environment,
    decision: risk.decision,
    riskLevel: risk.riskLevel,
    score: risk.score,
    reasons: risk.reasons,
    policy: { id: risk.policy.id, hash: risk.policy.hash },
    evaluatedAt: risk.evaluatedAt,
  };
}
