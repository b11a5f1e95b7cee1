import { createApiRef } from '@backstage/core-plugin-api';
import type {
  EntityRisk,
  GateDecision,
  ListResponse,
  Signal,
  SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Body of `POST /v1/exceptions`. */
export interface ExceptionRequest {
  entityRef: string;
  environment: string;
  reason: string;
  /** ISO 8601 date-time. */
  expiresAt: string;
  signalIds?: string[];
}

export const EXCEPTION_STATUSES = ['pending', 'approved', 'rejected', 'revoked', 'expired'] as const;
export type ExceptionStatus = (typeof EXCEPTION_STATUSES)[number];

/** An exception as the backend stores and serves it. */
export interface RiskException {
  id: string;
  entityRef: string;
  environment: string;
  reason: string;
  requestedBy: string;
  status: ExceptionStatus;
  approvedBy?: string | null;
  expiresAt: string;
  signalIds?: string[] | null;
  maxLevel?: string | null;
  createdAt?: string;
  decidedBy?: string | null;
  decidedAt?: string | null;
  decisionComment?: string | null;
}

export interface ExceptionQuery {
  entityRef?: string;
  environment?: string;
  status?: ExceptionStatus;
  limit?: number;
  cursor?: string;
}

export type ExceptionAction = 'approve' | 'reject' | 'revoke';

export interface SignalQuery {
  entityRef: string;
  environment?: string;
  limit?: number;
  cursor?: string;
}

export interface DecisionQuery {
  entityRef: string;
  environment?: string;
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
  getSignals(query: SignalQuery): Promise<ListResponse<Signal>>;
  getDecisions(query: DecisionQuery): Promise<ListResponse<GateDecision>>;
  getSources(): Promise<{ items: SourceHealth[] }>;
  requestException(request: ExceptionRequest): Promise<RiskException>;
  listExceptions(query: ExceptionQuery): Promise<ListResponse<RiskException>>;
  /** Approve, reject or revoke an exception (the backend checks who may). */
  decideException(id: string, action: ExceptionAction, comment?: string): Promise<RiskException>;
}

export const runtimeRiskApiRef = createApiRef<RuntimeRiskApi>({
  id: 'plugin.runtime-risk.service',
});
