import {
  ErrorCode,
  StandardResolutionReasons,
  type EvaluationContext,
  type FlagMetadata,
  type JsonValue,
  type Logger,
  type Provider,
  type ResolutionDetails,
} from '@openfeature/server-sdk';
import {
  AnalysisResultSchema,
  RuntimeRiskApiClient,
  RuntimeRiskApiError,
  RuntimeRiskInvalidResponseError,
  type AnalysisResult,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Boolean flag: true only when the gate would let this entity deploy to this environment now (`proceed`). */
export const DEPLOY_SAFE_FLAG = 'runtime-risk.deploy-safe';
/** Number flag: the entity's current risk score (0-100) in the environment. */
export const SCORE_FLAG = 'runtime-risk.score';
/** String flag: the gate decision (`proceed`, `approval_required` or `block`). */
export const DECISION_FLAG = 'runtime-risk.decision';

type FlagType = 'boolean' | 'number' | 'string';
const FLAG_TYPES: Record<string, FlagType> = {
  [DEPLOY_SAFE_FLAG]: 'boolean',
  [SCORE_FLAG]: 'number',
  [DECISION_FLAG]: 'string',
};

/** A `fetch` implementation (the global one by default). */
export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal }) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

export interface RuntimeRiskProviderOptions {
  /** Base URL of the runtime-risk backend plugin, e.g. `https://backstage.example.com/api/runtime-risk`. */
  baseUrl: string;
  /**
   * Backstage token sent as `Authorization: Bearer <token>` (e.g. an external-access
   * static token from `backend.auth.externalAccess`), or a function returning one.
   */
  token?: string | (() => string | Promise<string>);
  /** `fetch` to use (default: the global fetch). */
  fetch?: FetchLike;
  /** How long an answer is reused for the same entity and environment, in ms (default 15000; 0 disables). */
  cacheTtlMs?: number;
  /** Request timeout in ms (default 5000). */
  timeoutMs?: number;
  /** Environment used when the evaluation context has none. */
  defaultEnvironment?: string;
  /** Clock for the cache (tests). */
  now?: () => number;
}

/** Why an evaluation could not use the gate's answer; the caller gets its default value. */
class EvaluationFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

interface CacheEntry {
  at: number;
  result: AnalysisResult;
}

const MAX_CACHE_ENTRIES = 1000;

/**
 * OpenFeature server provider backed by the Runtime Risk gate's read-only analysis
 * endpoint (`GET /v1/analysis`). The evaluation context names the deployment target:
 * `entityRef` (or `targetingKey`) and `environment`.
 *
 * - `runtime-risk.deploy-safe` (boolean): true only for `proceed`; `approval_required`
 *   and `block` are false. Reason `TARGETING_MATCH` (or `CACHED`), variant = the decision.
 * - `runtime-risk.score` (number): the risk score; the default value when the score is
 *   unknown (an uncorrelated entity), with reason `DEFAULT`.
 * - `runtime-risk.decision` (string): the decision.
 *
 * Flag metadata carries `decision`, `riskLevel`, `score`, `phase`, `reasonCodes`,
 * `reasons` (JSON), `policyId`, `policyHash`, `evaluatedAt`. When the gate cannot be
 * reached or answers an error, the default value is returned with reason `ERROR` and
 * `ErrorCode.GENERAL` (`INVALID_CONTEXT` for an unknown entity or environment,
 * `PARSE_ERROR` for an answer that is not an analysis result). Nothing is recorded by
 * the backend; no token appears in error messages.
 */
export class RuntimeRiskProvider implements Provider {
  readonly metadata = { name: 'runtime-risk' } as const;
  readonly runsOn = 'server' as const;

  private readonly baseUrl: string;
  private readonly client: RuntimeRiskApiClient;
  private readonly cacheTtlMs: number;
  private readonly timeoutMs: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inFlight = new Map<string, Promise<AnalysisResult>>();

  constructor(private readonly options: RuntimeRiskProviderOptions) {
    if (!options.baseUrl) throw new Error('RuntimeRiskProvider: baseUrl is required');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const fetchImpl = options.fetch;
    this.client = new RuntimeRiskApiClient({
      baseUrl: this.baseUrl,
      fetch: fetchImpl
        ? (url, init) => fetchImpl(url, { method: init.method, headers: init.headers, signal: init.signal! })
        : undefined,
    });
    this.cacheTtlMs = Math.max(0, options.cacheTtlMs ?? 15_000);
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async resolveBooleanEvaluation(
    flagKey: string,
    defaultValue: boolean,
    context: EvaluationContext,
    logger?: Logger,
  ): Promise<ResolutionDetails<boolean>> {
    return this.resolve(flagKey, 'boolean', defaultValue, context, logger, result => ({
      value: result.decision === 'proceed',
      reason: StandardResolutionReasons.TARGETING_MATCH,
    }));
  }

  async resolveNumberEvaluation(
    flagKey: string,
    defaultValue: number,
    context: EvaluationContext,
    logger?: Logger,
  ): Promise<ResolutionDetails<number>> {
    return this.resolve(flagKey, 'number', defaultValue, context, logger, result =>
      result.score === null
        ? { value: defaultValue, reason: StandardResolutionReasons.DEFAULT }
        : { value: result.score, reason: StandardResolutionReasons.TARGETING_MATCH },
    );
  }

  async resolveStringEvaluation(
    flagKey: string,
    defaultValue: string,
    context: EvaluationContext,
    logger?: Logger,
  ): Promise<ResolutionDetails<string>> {
    return this.resolve(flagKey, 'string', defaultValue, context, logger, result => ({
      value: result.decision,
      reason: StandardResolutionReasons.TARGETING_MATCH,
    }));
  }

  async resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T): Promise<ResolutionDetails<T>> {
    return this.failed(flagKey, defaultValue, this.flagError(flagKey, 'object'));
  }

  /** Drops cached answers (e.g. after an exception was approved). */
  clearCache(): void {
    this.cache.clear();
  }

  async onClose(): Promise<void> {
    this.cache.clear();
  }

  private flagError(flagKey: string, type: FlagType | 'object'): EvaluationFailure {
    const known = FLAG_TYPES[flagKey];
    if (!known) {
      return new EvaluationFailure(
        ErrorCode.FLAG_NOT_FOUND,
        `flag '${flagKey}' is not provided by runtime-risk (known: ${Object.keys(FLAG_TYPES).join(', ')})`,
      );
    }
    return new EvaluationFailure(ErrorCode.TYPE_MISMATCH, `flag '${flagKey}' is a ${known} flag, not ${type}`);
  }

  private async resolve<T>(
    flagKey: string,
    type: FlagType,
    defaultValue: T,
    context: EvaluationContext,
    logger: Logger | undefined,
    answer: (result: AnalysisResult) => { value: T; reason: string },
  ): Promise<ResolutionDetails<T>> {
    if (FLAG_TYPES[flagKey] !== type) return this.failed(flagKey, defaultValue, this.flagError(flagKey, type));
    try {
      const { entityRef, environment } = this.target(context);
      const { result, cached } = await this.analysis(entityRef, environment);
      const { value, reason } = answer(result);
      return {
        value,
        variant: result.decision,
        reason: cached && reason === StandardResolutionReasons.TARGETING_MATCH ? StandardResolutionReasons.CACHED : reason,
        flagMetadata: metadataOf(result),
      };
    } catch (error) {
      const failure =
        error instanceof EvaluationFailure
          ? error
          : new EvaluationFailure(ErrorCode.GENERAL, `runtime-risk evaluation failed: ${(error as Error)?.message ?? String(error)}`);
      logger?.warn(`runtime-risk flag '${flagKey}': ${failure.message}`);
      return this.failed(flagKey, defaultValue, failure);
    }
  }

  private failed<T>(_flagKey: string, defaultValue: T, failure: EvaluationFailure): ResolutionDetails<T> {
    const flagMetadata: FlagMetadata = {};
    if (failure.httpStatus !== undefined) flagMetadata.httpStatus = failure.httpStatus;
    return {
      value: defaultValue,
      reason: StandardResolutionReasons.ERROR,
      errorCode: failure.code,
      errorMessage: failure.message,
      flagMetadata,
    };
  }

  private target(context: EvaluationContext): { entityRef: string; environment: string } {
    const entityRef = context.entityRef ?? context.targetingKey;
    const environment = context.environment ?? this.options.defaultEnvironment;
    if (typeof entityRef !== 'string' || entityRef.trim() === '') {
      throw new EvaluationFailure(ErrorCode.INVALID_CONTEXT, 'evaluation context: entityRef (or targetingKey) is required');
    }
    if (typeof environment !== 'string' || environment.trim() === '') {
      throw new EvaluationFailure(ErrorCode.INVALID_CONTEXT, 'evaluation context: environment is required');
    }
    return { entityRef: entityRef.trim(), environment: environment.trim() };
  }

  private async analysis(entityRef: string, environment: string): Promise<{ result: AnalysisResult; cached: boolean }> {
    const key = `${entityRef}\n${environment}`;
    const now = this.options.now?.() ?? Date.now();
    const hit = this.cache.get(key);
    if (hit && this.cacheTtlMs > 0 && now - hit.at < this.cacheTtlMs) return { result: hit.result, cached: true };
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.request(entityRef, environment).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const result = await pending;
    if (this.cacheTtlMs > 0) {
      this.cache.delete(key);
      this.cache.set(key, { at: now, result });
      if (this.cache.size > MAX_CACHE_ENTRIES) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
    }
    return { result, cached: false };
  }

  private async request(entityRef: string, environment: string): Promise<AnalysisResult> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    let body: unknown;
    try {
      body = await this.client.getAnalysis(
        { entityRef, environment },
        { signal: AbortSignal.timeout(this.timeoutMs), token: token || undefined },
      );
    } catch (error) {
      if (error instanceof RuntimeRiskApiError) {
        const status = error.statusCode;
        const detail = errorMessageOf(error);
        const code = status === 400 || status === 404 ? ErrorCode.INVALID_CONTEXT : ErrorCode.GENERAL;
        throw new EvaluationFailure(code, `runtime-risk gate answered HTTP ${status}${detail ? `: ${detail}` : ''}`, status);
      }
      if (error instanceof RuntimeRiskInvalidResponseError) {
        const why = error.message.replace(/^.* answered invalid JSON: /, '');
        throw new EvaluationFailure(ErrorCode.PARSE_ERROR, `runtime-risk gate answered invalid JSON: ${why}`, error.statusCode);
      }
      const cause = (error as { cause?: { code?: string } })?.cause?.code;
      throw new EvaluationFailure(
        ErrorCode.GENERAL,
        `runtime-risk gate unreachable at ${this.baseUrl}: ${(error as Error)?.message ?? String(error)}${cause ? ` (${cause})` : ''}`,
      );
    }
    const parsed = AnalysisResultSchema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(i => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; ');
      throw new EvaluationFailure(ErrorCode.PARSE_ERROR, `runtime-risk gate answered an unexpected body (${issues})`, 200);
    }
    return parsed.data;
  }
}

/** The Backstage error body's message of a failed answer, or an excerpt of its text. */
function errorMessageOf(error: RuntimeRiskApiError): string | undefined {
  const trimmed = error.text.trim();
  const excerpt = trimmed ? trimmed.slice(0, 200) : undefined;
  if (error.body === undefined) {
    // not a JSON error body (a proxy's HTML page, say): report an excerpt of the text
    return excerpt ? `${excerpt} (not JSON: SyntaxError)` : undefined;
  }
  const body = error.body as { error?: { name?: unknown; message?: unknown } } | null;
  const message = body?.error?.message;
  if (typeof message !== 'string') return excerpt;
  return typeof body?.error?.name === 'string' ? `${body.error.name}: ${message}` : message;
}

/** Flag metadata (flat scalars only, per the OpenFeature spec) of an analysis result. */
export function metadataOf(result: AnalysisResult): FlagMetadata {
  const metadata: FlagMetadata = {
    entityRef: result.entityRef,
    environment: result.environment,
    decision: result.decision,
    phase: result.phase,
    riskLevel: result.riskLevel,
    reasonCodes: result.reasons.map(r => r.code).join(','),
    reasons: JSON.stringify(result.reasons),
    policyId: result.policy.id,
    policyHash: result.policy.hash,
    evaluatedAt: result.evaluatedAt,
  };
  if (result.score !== null) metadata.score = result.score;
  return metadata;
}
