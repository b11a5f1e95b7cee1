import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { parseEntityRef } from '@backstage/catalog-model';
import { ResponseError } from '@backstage/errors';
import type {
  EntityRisk,
  GateDecision,
  ListResponse,
  Signal,
  SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type {
  DecisionQuery,
  ExceptionAction,
  ExceptionQuery,
  ExceptionRequest,
  RiskException,
  RuntimeRiskApi,
  SignalQuery,
} from './RuntimeRiskApi';

/** Talks to the runtime-risk backend through the app's discovery and fetch APIs. */
export class RuntimeRiskClient implements RuntimeRiskApi {
  private readonly discoveryApi: Pick<DiscoveryApi, 'getBaseUrl'>;
  private readonly fetchApi: Pick<FetchApi, 'fetch'>;

  constructor(options: {
    discoveryApi: Pick<DiscoveryApi, 'getBaseUrl'>;
    fetchApi: Pick<FetchApi, 'fetch'>;
  }) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
  }

  async getEntityRisk(entityRef: string): Promise<EntityRisk[]> {
    const body = await this.get<{ items: EntityRisk[] } | EntityRisk>(this.riskPath(entityRef));
    // Without `environment` the backend answers `{ items }`; accept a single object too.
    if ('items' in body && Array.isArray(body.items)) return body.items;
    return [body as EntityRisk];
  }

  async getEntityRiskIn(entityRef: string, environment: string): Promise<EntityRisk> {
    return this.get<EntityRisk>(this.riskPath(entityRef), { environment });
  }

  async getSignals(query: SignalQuery): Promise<ListResponse<Signal>> {
    return this.get<ListResponse<Signal>>('/v1/signals', {
      entityRef: query.entityRef,
      environment: query.environment,
      limit: query.limit === undefined ? undefined : String(query.limit),
      cursor: query.cursor,
    });
  }

  async getDecisions(query: DecisionQuery): Promise<ListResponse<GateDecision>> {
    return this.get<ListResponse<GateDecision>>('/v1/decisions', {
      entityRef: query.entityRef,
      environment: query.environment,
      limit: query.limit === undefined ? undefined : String(query.limit),
      cursor: query.cursor,
    });
  }

  async getSources(): Promise<{ items: SourceHealth[] }> {
    return this.get<{ items: SourceHealth[] }>('/v1/sources');
  }

  async requestException(request: ExceptionRequest): Promise<RiskException> {
    return this.post<RiskException>('/v1/exceptions', request);
  }

  async listExceptions(query: ExceptionQuery): Promise<ListResponse<RiskException>> {
    return this.get<ListResponse<RiskException>>('/v1/exceptions', {
      entityRef: query.entityRef,
      environment: query.environment,
      status: query.status,
      limit: query.limit === undefined ? undefined : String(query.limit),
      cursor: query.cursor,
    });
  }

  async decideException(id: string, action: ExceptionAction, comment?: string): Promise<RiskException> {
    return this.post<RiskException>(
      `/v1/exceptions/${encodeURIComponent(id)}/${action}`,
      comment ? { comment } : {},
    );
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    const baseUrl = await this.discoveryApi.getBaseUrl('runtime-risk');
    const response = await this.fetchApi.fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await ResponseError.fromResponse(response);
    return (await response.json()) as T;
  }

  private riskPath(entityRef: string): string {
    const { kind, namespace, name } = parseEntityRef(entityRef, {
      defaultKind: 'component',
      defaultNamespace: 'default',
    });
    return `/v1/entities/${encodeURIComponent(kind.toLowerCase())}/${encodeURIComponent(
      namespace,
    )}/${encodeURIComponent(name)}/risk`;
  }

  private async get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    const baseUrl = await this.discoveryApi.getBaseUrl('runtime-risk');
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') params.set(key, value);
    }
    const qs = params.toString();
    const response = await this.fetchApi.fetch(`${baseUrl}${path}${qs ? `?${qs}` : ''}`);
    if (!response.ok) throw await ResponseError.fromResponse(response);
    return (await response.json()) as T;
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
