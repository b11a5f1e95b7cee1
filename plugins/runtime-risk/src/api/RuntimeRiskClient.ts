import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import { ResponseError } from '@backstage/errors';
import {
  RUNTIME_RISK_PLUGIN_ID,
  RuntimeRiskApiClient,
  type EntityRisk,
  type EntityRiskHistory,
  type GateDecision,
  type ListResponse,
  type RuntimeRiskFetch,
  type Signal,
  type SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type {
  BacktestRequest,
  BacktestResult,
  DecisionAction,
  DecisionQuery,
  ExceptionAction,
  ExceptionQuery,
  ExceptionRequest,
  OrgSummary,
  PolicySummary,
  RiskException,
  RuntimeRiskApi,
  SignalQuery,
  StoredPolicy,
} from './RuntimeRiskApi';

/**
 * Talks to the runtime-risk backend through the app's discovery and fetch APIs, with
 * the one typed client of -common underneath (generated from the backend's openapi.yaml).
 */
export class RuntimeRiskClient implements RuntimeRiskApi {
  private readonly client: RuntimeRiskApiClient;

  constructor(options: {
    discoveryApi: Pick<DiscoveryApi, 'getBaseUrl'>;
    fetchApi: Pick<FetchApi, 'fetch'>;
  }) {
    const { discoveryApi, fetchApi } = options;
    this.client = new RuntimeRiskApiClient({
      baseUrl: () => discoveryApi.getBaseUrl(RUNTIME_RISK_PLUGIN_ID),
      // fetchApi adds the signed-in user's token itself
      fetch: ((url, init) => fetchApi.fetch(url, init)) as RuntimeRiskFetch,
      // a ResponseError, as every Backstage frontend client throws (serverMessage reads it)
      errorFromResponse: response => ResponseError.fromResponse(response as Response),
    });
  }

  async getEntityRisk(entityRef: string): Promise<EntityRisk[]> {
    const body = (await this.client.getEntityRisk(this.entityPath(entityRef))) as { items: EntityRisk[] } | EntityRisk;
    // Without `environment` the backend answers `{ items }`; accept a single object too.
    if ('items' in body && Array.isArray(body.items)) return body.items;
    return [body as EntityRisk];
  }

  async getEntityRiskIn(entityRef: string, environment: string): Promise<EntityRisk> {
    return (await this.client.getEntityRisk(this.entityPath(entityRef), { environment })) as EntityRisk;
  }

  async getEntityRiskHistory(entityRef: string, options: { environment?: string; days?: number } = {}): Promise<EntityRiskHistory> {
    const { environment, days } = options;
    return (await this.client.getEntityRiskHistory(this.entityPath(entityRef), { environment, days })) as EntityRiskHistory;
  }

  async getSignals(query: SignalQuery): Promise<ListResponse<Signal>> {
    const { entityRef, environment, limit, cursor } = query;
    return (await this.client.listSignals({ entityRef, environment, limit, cursor })) as unknown as ListResponse<Signal>;
  }

  async getDecisions(query: DecisionQuery): Promise<ListResponse<GateDecision>> {
    const { entityRef, environment, status, limit, cursor } = query;
    return (await this.client.listDecisions({ entityRef, environment, status, limit, cursor })) as ListResponse<GateDecision>;
  }

  async getDecision(id: string): Promise<GateDecision> {
    return (await this.client.getDecision(id)) as GateDecision;
  }

  async decideDecision(id: string, action: DecisionAction, comment: string): Promise<GateDecision> {
    const answer =
      action === 'approve'
        ? await this.client.approveDecision(id, { comment })
        : await this.client.rejectDecision(id, { comment });
    return answer as GateDecision;
  }

  async getSources(): Promise<{ items: SourceHealth[] }> {
    return (await this.client.listSources()) as { items: SourceHealth[] };
  }

  async requestException(request: ExceptionRequest): Promise<RiskException> {
    return (await this.client.requestException(request)) as RiskException;
  }

  async listExceptions(query: ExceptionQuery): Promise<ListResponse<RiskException>> {
    const { entityRef, environment, status, limit, cursor } = query;
    return (await this.client.listExceptions({ entityRef, environment, status, limit, cursor })) as ListResponse<RiskException>;
  }

  async decideException(id: string, action: ExceptionAction, comment?: string): Promise<RiskException> {
    const body = comment ? { comment } : {};
    const answer =
      action === 'approve'
        ? await this.client.approveException(id, body)
        : action === 'reject'
          ? await this.client.rejectException(id, body)
          : await this.client.revokeException(id, body);
    return answer as RiskException;
  }

  async getSummary(query: { environment?: string; limit?: number; days?: number } = {}): Promise<OrgSummary> {
    return (await this.client.getSummary(query)) as OrgSummary;
  }

  async backtestPolicy(request: BacktestRequest): Promise<BacktestResult> {
    return (await this.client.backtestPolicy(request)) as BacktestResult;
  }

  async listPolicies(): Promise<{ items: PolicySummary[] }> {
    return (await this.client.listPolicies()) as { items: PolicySummary[] };
  }

  async getPolicy(hash: string): Promise<StoredPolicy> {
    return (await this.client.getPolicy(hash)) as StoredPolicy;
  }

  private entityPath(entityRef: string): { kind: string; namespace: string; name: string } {
    const { kind, namespace, name } = parseEntityRef(entityRef, {
      defaultKind: 'component',
      defaultNamespace: 'default',
    });
    return { kind: kind.toLowerCase(), namespace, name };
  }
}

/** The message the server gave for a failed request, or the error's own message. */
export function serverMessage(error: unknown): string {
  if (isResponseError(error)) {
    const cause = error.body?.error?.message;
    return cause ? `${cause} (HTTP ${error.statusCode})` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** True for a `ResponseError` from any copy of @backstage/errors. */
export function isResponseError(error: unknown): error is ResponseError {
  return (
    error instanceof Error &&
    error.name === 'ResponseError' &&
    typeof (error as Partial<ResponseError>).statusCode === 'number'
  );
}
