import type {
  AuthService,
  BackstageCredentials,
  DiscoveryService,
} from '@backstage/backend-plugin-api';
import {
  GateDecision,
  GateDecisionSchema,
  GateRequest,
  RUNTIME_RISK_PLUGIN_ID,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/**
 * A non-2xx answer of the gate. `errorName` and `message` come from the
 * Backstage error body (`{ error: { name, message } }`) when there is one,
 * e.g. `InputError` (400), `AuthenticationError` (401), `NotFoundError` (404).
 */
export class RuntimeRiskGateError extends Error {
  readonly statusCode: number;
  readonly errorName: string;

  constructor(statusCode: number, errorName: string, message: string) {
    super(message);
    this.name = 'RuntimeRiskGateError';
    this.statusCode = statusCode;
    this.errorName = errorName;
  }

  static async fromResponse(response: Response, what: string): Promise<RuntimeRiskGateError> {
    const text = await response.text();
    let errorName = `HTTP ${response.status}`;
    let detail = text.slice(0, 300) || response.statusText;
    try {
      const body: unknown = JSON.parse(text);
      const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
      if (typeof error === 'object' && error !== null) {
        const { name, message } = error as { name?: unknown; message?: unknown };
        if (typeof name === 'string') errorName = name;
        if (typeof message === 'string') detail = message;
      }
    } catch (e) {
      // Not JSON (a proxy's HTML error page): keep the raw text as the detail.
    }
    return new RuntimeRiskGateError(
      response.status,
      errorName,
      `runtime-risk gate ${what} failed with ${response.status} ${errorName}: ${detail}`,
    );
  }
}

/** Options accepted by every {@link RuntimeRiskGateService} call. */
export interface RuntimeRiskGateRequestOptions {
  /** On whose behalf the gate is called: the decision records this principal. */
  credentials: BackstageCredentials;
  /** Aborts the HTTP call (e.g. a cancelled scaffolder task). */
  signal?: AbortSignal;
}

/**
 * Calls the runtime-risk gate from another backend plugin (scaffolder, a custom
 * deployment plugin).
 *
 * It is an HTTP client on purpose: in the new backend system each plugin is
 * isolated (its own services, database and router), and the runtime-risk plugin
 * may run on a different backend instance than its caller. The standard
 * plugin-to-plugin path is therefore discovery + a plugin request token issued
 * on behalf of the original caller, the same way `catalogServiceRef` from
 * `@backstage/plugin-catalog-node` reaches the catalog. The gate then applies
 * exactly the same validation, policy, audit and permission checks as for CI.
 */
export interface RuntimeRiskGateService {
  /** `POST /v1/gate`: evaluates and records a decision. */
  evaluate(request: GateRequest, options: RuntimeRiskGateRequestOptions): Promise<GateDecision>;
  /** `GET /v1/decisions/:id`: the current state of a recorded decision (approval status). */
  getDecision(decisionId: string, options: RuntimeRiskGateRequestOptions): Promise<GateDecision>;
}

/** Default {@link RuntimeRiskGateService}: discovery + plugin request tokens + fetch. */
export class RuntimeRiskGateClient implements RuntimeRiskGateService {
  private readonly discovery: DiscoveryService;
  private readonly auth: AuthService;

  constructor(options: { discovery: DiscoveryService; auth: AuthService }) {
    this.discovery = options.discovery;
    this.auth = options.auth;
  }

  async evaluate(request: GateRequest, options: RuntimeRiskGateRequestOptions): Promise<GateDecision> {
    return this.call('POST', '/v1/gate', options, request);
  }

  async getDecision(decisionId: string, options: RuntimeRiskGateRequestOptions): Promise<GateDecision> {
    return this.call('GET', `/v1/decisions/${encodeURIComponent(decisionId)}`, options);
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    options: RuntimeRiskGateRequestOptions,
    body?: unknown,
  ): Promise<GateDecision> {
    const baseUrl = await this.discovery.getBaseUrl(RUNTIME_RISK_PLUGIN_ID);
    const { token } = await this.auth.getPluginRequestToken({
      onBehalfOf: options.credentials,
      targetPluginId: RUNTIME_RISK_PLUGIN_ID,
    });
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
    if (!response.ok) {
      throw await RuntimeRiskGateError.fromResponse(response, `${method} ${path}`);
    }
    const json: unknown = await response.json();
    const parsed = GateDecisionSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `runtime-risk gate answered ${method} ${path} with an unexpected body: ` +
          `${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
      );
    }
    return parsed.data;
  }
}
