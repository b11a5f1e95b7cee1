import { randomUUID } from 'node:crypto';
import {
  GateDecisionSchema,
  type Decision,
  type GateDecision,
  type ParsedGateRequest,
  type Reason,
  type RiskLevel,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** What a stand-in gate answers for one entity (it evaluates nothing, the test decides). */
export interface GateScenario {
  decision: Decision;
  riskLevel: RiskLevel;
  score: number | null;
  reasons: Reason[];
}

/**
 * The GateDecision a stand-in gate answers for `request` under `scenario`,
 * validated with the shared GateDecisionSchema: a dry run proceeds with a
 * `dry_run` reason and `wouldHaveBeen`; approval_required is pending; the
 * signal count is the number of `signal_active` reasons.
 */
export function scenarioDecision(request: ParsedGateRequest, scenario: GateScenario): GateDecision {
  const enforced: Decision = request.dryRun ? 'proceed' : scenario.decision;
  return GateDecisionSchema.parse({
    decisionId: randomUUID(),
    entityRef: request.entityRef,
    environment: request.environment,
    decision: enforced,
    riskLevel: scenario.riskLevel,
    score: scenario.score,
    reasons: request.dryRun
      ? [...scenario.reasons, { code: 'dry_run', message: 'dry run: not enforced', signalIds: [] }]
      : scenario.reasons,
    hosts: [{ id: 'web-01', matchedBy: 'annotation' }],
    signals: {
      count: scenario.reasons.filter(r => r.code === 'signal_active').length,
      freshAt: new Date().toISOString(),
      stale: false,
    },
    policy: { id: 'default', hash: 'sha256:0123456789abcdef' },
    dryRun: request.dryRun,
    wouldHaveBeen: request.dryRun ? scenario.decision : undefined,
    status: enforced === 'approval_required' ? 'pending' : 'final',
    evaluatedAt: new Date().toISOString(),
  });
}

/**
 * Adds to `scenarios` the three entities the stand-in gate tests name:
 * component:default/quiet proceeds (low, score 0, no active signals),
 * component:default/payments blocks (high, 97.3, with `paymentsReasons`) and
 * component:default/checkout needs approval (moderate, 41.5, a medium detection).
 */
export function addStandardScenarios(scenarios: Map<string, GateScenario>, paymentsReasons: Reason[]): void {
  scenarios.set('component:default/quiet', {
    decision: 'proceed',
    riskLevel: 'low',
    score: 0,
    reasons: [{ code: 'no_active_signals', message: 'no active signals on 1 host', signalIds: [] }],
  });
  scenarios.set('component:default/payments', { decision: 'block', riskLevel: 'high', score: 97.3, reasons: paymentsReasons });
  scenarios.set('component:default/checkout', {
    decision: 'approval_required',
    riskLevel: 'moderate',
    score: 41.5,
    reasons: [{ code: 'signal_active', message: 'medium detection on web-01', signalIds: ['defender:da-9'] }],
  });
}
