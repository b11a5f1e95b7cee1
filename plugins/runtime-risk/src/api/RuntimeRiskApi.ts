import { createApiRef } from '@backstage/core-plugin-api';
import type { RuntimeRiskSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type {
  DecisionStatus,
  EntityRisk,
  EntityRiskHistory,
  ExceptionAction,
  ExceptionRequest,
  ExceptionStatus,
  GateDecision,
  ListResponse,
  RiskException,
  Signal,
  SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

// Exception shapes and status lists live once, in -common (re-exported here under their old names).
export { EXCEPTION_STATUSES } from '@runtime-risk/backstage-plugin-runtime-risk-common';
export type {
  ExceptionAction,
  ExceptionRequest,
  ExceptionStatus,
  RiskException,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

export interface ExceptionQuery {
  entityRef?: string;
  environment?: string;
  status?: ExceptionStatus;
  limit?: number;
  cursor?: string;
}

/** What a reviewer does with a pending decision. */
export type DecisionAction = 'approve' | 'reject';

export interface SignalQuery {
  entityRef: string;
  environment?: string;
  limit?: number;
  cursor?: string;
}

export interface DecisionQuery {
  /** One entity's decisions; without it, every entity the caller may read. */
  entityRef?: string;
  environment?: string;
  /** `pending`: awaiting approval (the review queue). */
  status?: DecisionStatus;
  /** Page size (the backend allows up to 100). */
  limit?: number;
  cursor?: string;
}

/** Client of the runtime-risk backend (`/api/runtime-risk`). */
export interface RuntimeRiskApi {
  /** Risk of one entity in every environment of the policy. */
  getEntityRisk(entityRef: string): Promise<EntityRisk[]>;
  /** Risk of one entity in one environment. */
  getEntityRiskIn(entityRef: string, environment: string): Promise<EntityRisk>;
  /** Score snapshots of one entity over the last `days` (default 7), every environment unless one is named. */
  getEntityRiskHistory(entityRef: string, options?: { environment?: string; days?: number }): Promise<EntityRiskHistory>;
  getSignals(query: SignalQuery): Promise<ListResponse<Signal>>;
  getDecisions(query: DecisionQuery): Promise<ListResponse<GateDecision>>;
  /** One recorded decision with its approval state and the signals the gate saw. */
  getDecision(id: string): Promise<GateDecision>;
  /** Approve or reject a pending decision (the backend checks who may; never the requester). */
  decideDecision(id: string, action: DecisionAction, comment: string): Promise<GateDecision>;
  getSources(): Promise<{ items: SourceHealth[] }>;
  requestException(request: ExceptionRequest): Promise<RiskException>;
  listExceptions(query: ExceptionQuery): Promise<ListResponse<RiskException>>;
  /** The org summary of the entities the caller may read (`GET /v1/summary`). */
  getSummary(query?: { environment?: string; limit?: number; days?: number }): Promise<OrgSummary>;
  /** Replays the recorded decisions of a window under a proposed policy; nothing is recorded. */
  backtestPolicy(request: BacktestRequest): Promise<BacktestResult>;
  /** The policy history, the active policy first (`GET /v1/policies`). */
  listPolicies(): Promise<{ items: PolicySummary[] }>;
  /** One policy of the history with its body (`GET /v1/policies/:hash`). */
  getPolicy(hash: string): Promise<StoredPolicy>;
  /** Approve, reject or revoke an exception (the backend checks who may). */
  decideException(id: string, action: ExceptionAction, comment?: string): Promise<RiskException>;
}

/** `GET /v1/summary`: the org page in one call (generated from openapi.yaml). */
export type OrgSummary = RuntimeRiskSchema<'OrgSummary'>;
/** One row of the summary's ranking. */
export type SummaryEntity = RuntimeRiskSchema<'SummaryEntity'>;
/** `POST /v1/policy/backtest` request and answer. */
export type BacktestRequest = RuntimeRiskSchema<'BacktestRequest'>;
export type BacktestResult = RuntimeRiskSchema<'BacktestResult'>;
/** A policy of the history (`GET /v1/policies`), and with its body (`GET /v1/policies/:hash`). */
export type PolicySummary = RuntimeRiskSchema<'PolicySummary'>;
export type StoredPolicy = RuntimeRiskSchema<'StoredPolicy'>;

export const runtimeRiskApiRef = createApiRef<RuntimeRiskApi>({
  id: 'plugin.runtime-risk.service',
});
