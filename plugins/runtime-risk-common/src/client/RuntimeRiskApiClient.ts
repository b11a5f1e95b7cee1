import type { components, operations } from '../generated/openapi';
import { operationRoutes } from '../generated/routes';

/** The operations of the runtime-risk API, by operationId (generated from openapi.yaml). */
export type RuntimeRiskOperationId = keyof typeof operationRoutes & keyof operations;
/** A component schema of the runtime-risk API (generated from openapi.yaml). */
export type RuntimeRiskSchema<Name extends keyof components['schemas']> = components['schemas'][Name];

type Params<Op> = Op extends { parameters: infer P } ? P : never;
/** Query parameters of an operation. */
export type OperationQuery<K extends RuntimeRiskOperationId> = NonNullable<Params<operations[K]> extends { query?: infer Q } ? Q : never>;
/** Path parameters of an operation. */
export type OperationPath<K extends RuntimeRiskOperationId> = Params<operations[K]> extends { path: infer P } ? P : never;
/** JSON request body of an operation. */
export type OperationBody<K extends RuntimeRiskOperationId> = operations[K] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;
type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
/** JSON body of an operation's success answer (200, 201 or 202). */
export type OperationResult<K extends RuntimeRiskOperationId> = operations[K] extends { responses: infer R }
  ? JsonOf<R[Extract<keyof R, 200 | 201 | 202>]>
  : never;

/** What a call sends: path and query parameters, JSON body. */
export interface RuntimeRiskCall<K extends RuntimeRiskOperationId> {
  path?: OperationPath<K>;
  query?: OperationQuery<K>;
  body?: OperationBody<K>;
}

/** The part of a `fetch` Response the client reads. */
export interface RuntimeRiskFetchResponse {
  status: number;
  statusText?: string;
  text(): Promise<string>;
}

/** A `fetch`-like function (the global fetch, Backstage's fetchApi.fetch, a test double). */
export type RuntimeRiskFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<RuntimeRiskFetchResponse>;

export interface RuntimeRiskApiClientOptions {
  /** Base URL of the runtime-risk backend plugin, e.g. `https://backstage.example.com/api/runtime-risk`, or a function giving it (discovery). */
  baseUrl: string | (() => string | Promise<string>);
  /** `fetch` to use (default: the global fetch). Backstage's fetchApi.fetch adds the user's token itself. */
  fetch?: RuntimeRiskFetch;
  /** Backstage token sent as `Authorization: Bearer <token>`, or a function returning one. */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Turns a non-2xx answer into the error to throw (default {@link RuntimeRiskApiError.fromResponse}). */
  errorFromResponse?: (response: RuntimeRiskFetchResponse, what: string) => Promise<Error>;
}

/** Per-call options. */
export interface RuntimeRiskRequestOptions {
  /** Aborts the HTTP call. */
  signal?: AbortSignal;
  /** Token for this call only (e.g. a plugin request token on behalf of a user). */
  token?: string;
  /** Extra request headers for this call (e.g. `Idempotency-Key` of `POST /v1/gate`). */
  headers?: Record<string, string>;
}

/**
 * A non-2xx answer of the runtime-risk API. `errorName` and `serverMessage` come from the
 * Backstage error body (`{ error: { name, message } }`) when there is one, e.g.
 * `InputError` (400), `AuthenticationError` (401), `NotFoundError` (404).
 */
export class RuntimeRiskApiError extends Error {
  readonly statusCode: number;
  readonly errorName: string;
  /** The server's own message, when the body was a Backstage error body. */
  readonly serverMessage?: string;
  /** The parsed JSON body, when there was one. */
  readonly body?: unknown;
  /** The raw body text (first 300 characters). */
  readonly text: string;

  constructor(
    statusCode: number,
    errorName: string,
    message: string,
    details: { serverMessage?: string; body?: unknown; text?: string } = {},
  ) {
    super(message);
    this.name = 'RuntimeRiskApiError';
    this.statusCode = statusCode;
    this.errorName = errorName;
    this.serverMessage = details.serverMessage;
    this.body = details.body;
    this.text = details.text ?? '';
  }

  /** Reads a failed answer; `what` names the call (e.g. `POST /v1/gate`) in the message. */
  static async fromResponse(response: RuntimeRiskFetchResponse, what: string): Promise<RuntimeRiskApiError> {
    const text = await response.text();
    let errorName = `HTTP ${response.status}`;
    let detail = text.slice(0, 300) || response.statusText || '';
    let serverMessage: string | undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
      const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
      if (typeof error === 'object' && error !== null) {
        const { name, message } = error as { name?: unknown; message?: unknown };
        if (typeof name === 'string') errorName = name;
        if (typeof message === 'string') detail = serverMessage = message;
      }
    } catch (e) {
      // Not JSON (a proxy's HTML error page): keep the raw text as the detail.
    }
    return new RuntimeRiskApiError(
      response.status,
      errorName,
      `runtime-risk ${what} failed with ${response.status} ${errorName}: ${detail}`,
      { serverMessage, body, text: text.slice(0, 300) },
    );
  }
}

/** A 2xx answer whose body is not JSON. */
export class RuntimeRiskInvalidResponseError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeRiskInvalidResponseError';
  }
}

/** Query parameters as a query string (no `?`), dropping undefined and empty values. */
export function toQueryString(query: unknown): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) value.forEach(v => params.append(key, String(v)));
    else params.set(key, String(value));
  }
  return params.toString();
}

/** A path template of the API with its parameters filled in (each one URI-encoded). */
export function fillPath(template: string, path: unknown): string {
  const values = (path ?? {}) as Record<string, unknown>;
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined || value === null || value === '') {
      throw new TypeError(`runtime-risk client: path parameter '${name}' of ${template} is required`);
    }
    return encodeURIComponent(String(value));
  });
}

/**
 * The one typed client of the runtime-risk API, generated types from
 * `openapi.yaml` underneath; used by the frontend (over discoveryApi + fetchApi),
 * the node library's gate service, the scaffolder action and the OpenFeature provider.
 */
export class RuntimeRiskApiClient {
  private readonly options: RuntimeRiskApiClientOptions;

  constructor(options: RuntimeRiskApiClientOptions) {
    this.options = options;
  }

  /** Calls one operation of the API by its operationId. */
  async request<K extends RuntimeRiskOperationId>(
    operation: K,
    call: RuntimeRiskCall<K> = {},
    options: RuntimeRiskRequestOptions = {},
  ): Promise<OperationResult<K>> {
    const route = operationRoutes[operation];
    const path = fillPath(route.path, call.path);
    const qs = toQueryString(call.query);
    const base = typeof this.options.baseUrl === 'function' ? await this.options.baseUrl() : this.options.baseUrl;
    const url = `${base.replace(/\/+$/, '')}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    const token =
      options.token ?? (typeof this.options.token === 'function' ? await this.options.token() : this.options.token);
    if (token) headers.Authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (call.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(call.body);
    }
    const fetchImpl: RuntimeRiskFetch = this.options.fetch ?? ((input, init) => fetch(input, init));
    const init: Parameters<RuntimeRiskFetch>[1] = { method: route.method, headers };
    if (body !== undefined) init.body = body;
    if (options.signal) init.signal = options.signal;
    const response = await fetchImpl(url, init);
    const what = `${route.method} ${path}`;
    if (response.status < 200 || response.status > 299) {
      const toError = this.options.errorFromResponse ?? RuntimeRiskApiError.fromResponse;
      throw await toError(response, what);
    }
    const text = await response.text();
    if (response.status === 204 || text === '') return undefined as OperationResult<K>;
    try {
      return JSON.parse(text) as OperationResult<K>;
    } catch (error) {
      throw new RuntimeRiskInvalidResponseError(
        response.status,
        `runtime-risk ${what} answered invalid JSON: ${(error as Error).message}`,
      );
    }
  }

  /** `POST /v1/gate`: evaluates and records a decision. */
  gate(body: OperationBody<'Gate'>, options?: RuntimeRiskRequestOptions) {
    return this.request('Gate', { body }, options);
  }
  /** `GET /v1/decisions/{id}`: a recorded decision and its approval status. */
  getDecision(id: string, options?: RuntimeRiskRequestOptions) {
    return this.request('GetDecision', { path: { id } }, options);
  }
  /** `GET /v1/decisions`: recorded decisions, newest first. */
  listDecisions(query: OperationQuery<'ListDecisions'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('ListDecisions', { query }, options);
  }
  /** `POST /v1/decisions/{id}/replay`: re-evaluates a recorded decision and compares. */
  replayDecision(id: string, options?: RuntimeRiskRequestOptions) {
    return this.request('ReplayDecision', { path: { id } }, options);
  }
  /** `POST /v1/decisions/{id}/approve`. */
  approveDecision(id: string, body: OperationBody<'ApproveDecision'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('ApproveDecision', { path: { id }, body }, options);
  }
  /** `POST /v1/decisions/{id}/reject`. */
  rejectDecision(id: string, body: OperationBody<'RejectDecision'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('RejectDecision', { path: { id }, body }, options);
  }
  /** `POST /v1/decisions/{id}/override`. */
  overrideDecision(id: string, body: OperationBody<'OverrideDecision'>, options?: RuntimeRiskRequestOptions) {
    return this.request('OverrideDecision', { path: { id }, body }, options);
  }
  /** `GET /v1/entities/{kind}/{namespace}/{name}/risk`: `{ items }` without an environment, one EntityRisk with one. */
  getEntityRisk(
    entity: OperationPath<'GetEntityRisk'>,
    query: OperationQuery<'GetEntityRisk'> = {},
    options?: RuntimeRiskRequestOptions,
  ) {
    return this.request('GetEntityRisk', { path: entity, query }, options);
  }
  /** `GET /v1/entities/{kind}/{namespace}/{name}/risk/history`: score snapshots (per environment, oldest first). */
  getEntityRiskHistory(
    entity: OperationPath<'GetEntityRiskHistory'>,
    query: OperationQuery<'GetEntityRiskHistory'> = {},
    options?: RuntimeRiskRequestOptions,
  ) {
    return this.request('GetEntityRiskHistory', { path: entity, query }, options);
  }
  /** `GET /v1/signals`. */
  listSignals(query: OperationQuery<'ListSignals'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('ListSignals', { query }, options);
  }
  /** `GET /v1/sources`: health of every signal source. */
  listSources(options?: RuntimeRiskRequestOptions) {
    return this.request('ListSources', {}, options);
  }
  /** `GET /v1/exceptions`. */
  listExceptions(query: OperationQuery<'ListExceptions'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('ListExceptions', { query }, options);
  }
  /** `POST /v1/exceptions`. */
  requestException(body: OperationBody<'RequestException'>, options?: RuntimeRiskRequestOptions) {
    return this.request('RequestException', { body }, options);
  }
  /** `GET /v1/exceptions/{id}`. */
  getException(id: string, options?: RuntimeRiskRequestOptions) {
    return this.request('GetException', { path: { id } }, options);
  }
  /** `POST /v1/exceptions/{id}/approve`. */
  approveException(id: string, body: OperationBody<'ApproveException'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('ApproveException', { path: { id }, body }, options);
  }
  /** `POST /v1/exceptions/{id}/reject`. */
  rejectException(id: string, body: OperationBody<'RejectException'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('RejectException', { path: { id }, body }, options);
  }
  /** `POST /v1/exceptions/{id}/revoke`. */
  revokeException(id: string, body: OperationBody<'RevokeException'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('RevokeException', { path: { id }, body }, options);
  }
  /** `GET /v1/analysis`: the read-only analysis (Argo Rollouts, OpenFeature); records nothing. */
  getAnalysis(query: OperationQuery<'GetAnalysis'>, options?: RuntimeRiskRequestOptions) {
    return this.request('GetAnalysis', { query }, options);
  }
  /** `GET /v1/audit/verify`. */
  verifyAuditLog(options?: RuntimeRiskRequestOptions) {
    return this.request('VerifyAuditLog', {}, options);
  }
  /** `GET /v1/audit/head`: `{seq, hash}` of the last record. */
  getAuditHead(options?: RuntimeRiskRequestOptions) {
    return this.request('GetAuditHead', {}, options);
  }
  /** `GET /v1/audit/records/{seq}`. */
  getAuditRecord(seq: number, options?: RuntimeRiskRequestOptions) {
    return this.request('GetAuditRecord', { path: { seq } }, options);
  }
  /** `GET /v1/coverage`. */
  getCoverage(query: OperationQuery<'GetCoverage'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('GetCoverage', { query }, options);
  }
  /** `GET /v1/policies`: the policy history, the active policy first. */
  listPolicies(options?: RuntimeRiskRequestOptions) {
    return this.request('ListPolicies', {}, options);
  }
  /** `GET /v1/policies/{hash}`: one policy of the history with its body. */
  getPolicy(hash: string, options?: RuntimeRiskRequestOptions) {
    return this.request('GetPolicy', { path: { hash } }, options);
  }
  /** `POST /v1/policy/backtest`: what a proposed policy would have decided on the recorded decisions of a window. */
  backtestPolicy(body: OperationBody<'BacktestPolicy'>, options?: RuntimeRiskRequestOptions) {
    return this.request('BacktestPolicy', { body }, options);
  }
  /** `GET /v1/summary`: the org summary of the entities the caller may read. */
  getSummary(query: OperationQuery<'GetSummary'> = {}, options?: RuntimeRiskRequestOptions) {
    return this.request('GetSummary', { query }, options);
  }
}
