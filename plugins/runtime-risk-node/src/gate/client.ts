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
  RuntimeRiskApiClient,
  RuntimeRiskApiError,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/**
 * A non-2xx answer of the gate: the one error of -common's client
 * ({@link RuntimeRiskApiError}: `statusCode`, and `errorName`/message from the
 * Backstage error body, e.g. `InputError` (400), `AuthenticationError` (401),
 * `NotFoundError` (404)), under the name this package has always exported.
 */
export { RuntimeRiskApiError as RuntimeRiskGateError };

/** Options accepted by every {@link RuntimeRiskGateService} call. */
export interface RuntimeRiskGateRequestOptions {
  /** On whose behalf the gate is called: the decision records this principal. */
  credentials: BackstageCredentials;
  /** Aborts the HTTP call (e.g. a cancelled scaffolder task). */
  signal?: AbortSignal;
  /**
   * `Idempotency-Key` of `POST /v1/gate`: a repeated call with the same key (and
   * body) answers the decision of the first instead of recording another; send
   * one per attempt to deploy and reuse it on retries.
   */
  idempotencyKey?: string;
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

/**
 * Default {@link RuntimeRiskGateService}: discovery + a plugin request token on behalf
 * of the caller, with the one typed client of -common underneath; answers are checked
 * against GateDecisionSchema.
 */
export class RuntimeRiskGateClient implements RuntimeRiskGateService {
  private readonly auth: AuthService;
  private readonly client: RuntimeRiskApiClient;

  constructor(options: { discovery: DiscoveryService; auth: AuthService }) {
    const { discovery } = options;
    this.auth = options.auth;
    this.client = new RuntimeRiskApiClient({
      baseUrl: () => discovery.getBaseUrl(RUNTIME_RISK_PLUGIN_ID),
      errorFromResponse: (response, what) => RuntimeRiskApiError.fromResponse(response, `gate ${what}`),
    });
  }

  async evaluate(request: GateRequest, options: RuntimeRiskGateRequestOptions): Promise<GateDecision> {
    const call = await this.callOptions(options);
    return this.check('POST /v1/gate', await this.client.gate(request as Parameters<RuntimeRiskApiClient['gate']>[0], call));
  }

  async getDecision(decisionId: string, options: RuntimeRiskGateRequestOptions): Promise<GateDecision> {
    const call = await this.callOptions(options);
    return this.check(`GET /v1/decisions/${encodeURIComponent(decisionId)}`, await this.client.getDecision(decisionId, call));
  }

  private async callOptions(options: RuntimeRiskGateRequestOptions) {
    const { token } = await this.auth.getPluginRequestToken({
      onBehalfOf: options.credentials,
      targetPluginId: RUNTIME_RISK_PLUGIN_ID,
    });
    return {
      token,
      signal: options.signal,
      ...(options.idempotencyKey ? { headers: { 'Idempotency-Key': options.idempotencyKey } } : {}),
    };
  }

  private check(what: string, json: unknown): GateDecision {
    const parsed = GateDecisionSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `runtime-risk gate answered ${what} with an unexpected body: ` +
          `${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
      );
    }
    return parsed.data;
  }
}
