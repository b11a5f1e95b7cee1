import { z } from 'zod';
import { DecisionSchema, ReasonSchema, RiskLevelSchema, type Decision } from './gate';

/**
 * Phases of an Argo Rollouts analysis measurement, as answered by
 * `GET /v1/analysis` (the read-only, Web-metric-provider-friendly view of the gate).
 */
export const ANALYSIS_PHASES = ['Successful', 'Failed', 'Inconclusive'] as const;
export const AnalysisPhaseSchema = z.enum(ANALYSIS_PHASES);
export type AnalysisPhase = z.infer<typeof AnalysisPhaseSchema>;

/**
 * The analysis phase of a gate decision: `proceed` -> Successful, `block` -> Failed,
 * `approval_required` -> Inconclusive (Argo pauses the rollout for a human).
 * A failure mode answered `proceed_with_warning` is already `proceed` (its reason says why).
 */
export function analysisPhase(decision: Decision): AnalysisPhase {
  switch (decision) {
    case 'proceed':
      return 'Successful';
    case 'block':
      return 'Failed';
    case 'approval_required':
      return 'Inconclusive';
    default: {
      const never: never = decision;
      throw new Error(`unknown decision '${String(never)}'`);
    }
  }
}

/** The answer of `GET /v1/analysis?entityRef=&environment=` (nothing is recorded). */
export const AnalysisResultSchema = z.object({
  phase: AnalysisPhaseSchema,
  entityRef: z.string(),
  environment: z.string(),
  decision: DecisionSchema,
  riskLevel: RiskLevelSchema,
  score: z.number().nullable(),
  reasons: z.array(ReasonSchema),
  policy: z.object({ id: z.string(), hash: z.string() }),
  evaluatedAt: z.string(),
});
export type AnalysisResult = z.infer<typeof AnalysisResultSchema>;
