import type { RiskException } from '../api/RuntimeRiskApi';
import type {
  EntityRisk,
  EntitySourceHealth,
  GateDecision,
  Signal,
  SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

export function makeRisk(overrides: Partial<EntityRisk> = {}): EntityRisk {
  return {
    entityRef: 'component:default/payments-api',
    environment: 'production',
    riskLevel: 'low',
    score: 0,
    decision: 'proceed',
    reasons: [{ code: 'no_active_signals', message: 'no active signals on 2 hosts', signalIds: [] }],
    hosts: [
      { id: 'pay-01', matchedBy: 'annotation' },
      { id: 'pay-02', matchedBy: 'annotation' },
    ],
    signals: { count: 0, freshAt: minutesAgo(1), stale: false },
    policy: { id: 'default', hash: 'sha256:abc123' },
    evaluatedAt: new Date().toISOString(),
    sources: [makeEntitySource()],
    ...overrides,
  };
}

/** A source covering the entity, as its risk answer carries it (fresh by default). */
export function makeEntitySource(overrides: Partial<EntitySourceHealth> = {}): EntitySourceHealth {
  return {
    id: 'file',
    vendor: 'file',
    status: 'ok',
    lastSuccessAt: minutesAgo(1),
    newestDataAt: minutesAgo(1),
    dataAgeSeconds: 60,
    staleFor: [],
    ...overrides,
  };
}

export function makeSignal(overrides: Partial<Signal> = {}): Signal {
  return {
    id: 'file:det-1',
    source: 'file',
    sourceId: 'det-1',
    kind: 'detection',
    severity: 'critical',
    confidence: 0.95,
    status: 'active',
    title: 'Credential dumping via LSASS access',
    tactics: ['credential-access'],
    techniques: ['T1003.001'],
    asset: { hostname: 'pay-01', ips: ['10.0.1.11'], macs: [] },
    firstSeenAt: minutesAgo(120),
    lastSeenAt: minutesAgo(10),
    fetchedAt: minutesAgo(1),
    ...overrides,
  };
}

let decisionSeq = 0;
export function makeDecision(overrides: Partial<GateDecision> = {}): GateDecision {
  decisionSeq += 1;
  return {
    decisionId: `dec-${decisionSeq}`,
    entityRef: 'component:default/payments-api',
    environment: 'production',
    decision: 'block',
    riskLevel: 'high',
    score: 91.2,
    reasons: [
      { code: 'signal_active', message: 'critical: Credential dumping on pay-01', signalIds: ['file:det-1'] },
    ],
    hosts: [{ id: 'pay-01', matchedBy: 'annotation' }],
    signals: { count: 1, freshAt: minutesAgo(2), stale: false },
    policy: { id: 'default', hash: 'sha256:abc123' },
    dryRun: false,
    evaluatedAt: minutesAgo(30),
    ...overrides,
  };
}

export function makeSource(overrides: Partial<SourceHealth> = {}): SourceHealth {
  return {
    id: 'file',
    type: 'file',
    status: 'ok',
    lastSuccessAt: minutesAgo(1),
    lastAttemptAt: minutesAgo(1),
    consecutiveFailures: 0,
    lagSeconds: 60,
    ...overrides,
  };
}

export function makeException(overrides: Partial<RiskException> = {}): RiskException {
  return {
    id: 'exc-1',
    entityRef: 'component:default/payments-api',
    environment: 'production',
    reason: 'hotfix for INC-42',
    requestedBy: 'user:default/sam',
    status: 'pending',
    approvedBy: null,
    expiresAt: new Date(Date.now() + 24 * 3600_000).toISOString(),
    signalIds: null,
    createdAt: minutesAgo(5),
    ...overrides,
  };
}
