import { Clock, systemClock } from './clock';
import { SourceHttpError, extractVendorMessage, redactSecrets } from './errors';
import { RetryAfterParser, retryAfterHeader } from './retryAfter';

/** Supplies request headers that authenticate against a vendor API. */
export interface HttpAuth {
  /** Headers to add to each request (e.g. `Authorization`). */
  headers(options: { signal?: AbortSignal }): Promise<Record<string, string>>;
  /** Drops cached credentials; when present, a 401 is retried once after calling it. */
  invalidate?(): void;
}

/** Static header auth, e.g. `Authorization: ApiToken <token>`. Never retried on 401. */
export function staticHeaderAuth(headers: Record<string, string>): HttpAuth {
  return { headers: async () => ({ ...headers }) };
}

/** Options of {@link SourceHttpClient}. */
export interface SourceHttpClientOptions {
  /** Source instance id, named in every error. */
  sourceId: string;
  /** Base URL; request paths are appended to it (its own path is kept). */
  baseUrl: string;
  auth?: HttpAuth;
  /** Per-request timeout (each attempt), default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt on 5xx, 429 and network errors; default 3. */
  maxRetries?: number;
  /** Exponential backoff: first delay and cap, defaults 500 ms and 20 s; jittered to 50-100 %. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** The longest wait honoured from a vendor's retry header, default 60 s. */
  maxRetryWaitMs?: number;
  /** Reads the vendor's retry header on 429/503; default `Retry-After`. */
  retryAfter?: RetryAfterParser;
  /** Secrets that must never appear in an error message. */
  secrets?: string[];
  /** Headers added to every request. */
  headers?: Record<string, string>;
  clock?: Clock;
  /** Random source in [0, 1) for jitter. */
  random?: () => number;
  fetch?: typeof fetch;
}

export type QueryValue = string | number | boolean | undefined | null | Array<string | number>;

/** One request of {@link SourceHttpClient}. */
export interface SourceHttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path relative to the base URL, or an absolute http(s) URL. */
  path: string;
  /** Query parameters; arrays repeat the key, undefined/null are left out. */
  query?: Record<string, QueryValue>;
  /** JSON body. */
  json?: unknown;
  /** `application/x-www-form-urlencoded` body. */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Set false to skip the client's auth (e.g. the token request itself). */
  auth?: boolean;
}

/** A successful response with its parsed JSON body. */
export interface SourceHttpResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Builds a URL from a base (keeping its path) and a relative path plus query. */
export function buildUrl(baseUrl: string, path: string, query?: Record<string, QueryValue>): URL {
  const url = /^https?:\/\//i.test(path)
    ? new URL(path)
    : new URL(`${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) v.forEach(item => url.searchParams.append(k, String(item)));
    else url.searchParams.append(k, String(v));
  }
  return url;
}

/** Parses an error body as JSON; a non-JSON body is returned as its text. */
function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The HTTP client every source adapter uses: per-attempt timeout, retries with
 * jittered exponential backoff on 5xx and network errors, 429 honouring the
 * vendor's retry header (capped), one retry on 401 after refreshing the
 * credentials, JSON parsing, and {@link SourceHttpError}s that name the source,
 * the status and the vendor's message.
 */
export class SourceHttpClient {
  readonly sourceId: string;
  readonly baseUrl: string;
  private readonly opts: SourceHttpClientOptions;
  private readonly clock: Clock;

  constructor(options: SourceHttpClientOptions) {
    this.opts = options;
    this.sourceId = options.sourceId;
    this.baseUrl = options.baseUrl;
    this.clock = options.clock ?? systemClock;
  }

  /** Sends a request and parses the JSON body; `parse` validates its shape. */
  async request<T = unknown>(
    req: SourceHttpRequest,
    parse?: (body: unknown) => T,
  ): Promise<SourceHttpResponse<T>> {
    const { response, text } = await this.send(req);
    const where = `${req.method ?? 'GET'} ${buildUrl(this.baseUrl, req.path).pathname}`;
    let body: unknown;
    try {
      body = text.trim() === '' ? undefined : JSON.parse(text);
    } catch (e) {
      throw this.error({ status: response.status, message: `malformed JSON in response to ${where}`, cause: e });
    }
    if (!parse) return { status: response.status, headers: response.headers, body: body as T };
    try {
      return { status: response.status, headers: response.headers, body: parse(body) };
    } catch (e) {
      throw this.error({
        status: response.status,
        message: `unexpected response shape from ${where}: ${errorMessage(e)}`,
        cause: e,
      });
    }
  }

  /** GET returning the parsed body. */
  async get<T = unknown>(path: string, query?: Record<string, QueryValue>, parse?: (b: unknown) => T, signal?: AbortSignal): Promise<T> {
    return (await this.request({ method: 'GET', path, query, signal }, parse)).body;
  }

  /** POST with a JSON body returning the parsed body. */
  async post<T = unknown>(path: string, json: unknown, parse?: (b: unknown) => T, signal?: AbortSignal): Promise<T> {
    return (await this.request({ method: 'POST', path, json, signal }, parse)).body;
  }

  /** A cheap GET for `healthCheck()`: ok, or the error message (never a secret). */
  async probe(path: string, query?: Record<string, QueryValue>): Promise<{ ok: boolean; message?: string }> {
    try {
      await this.get(path, query);
      return { ok: true };
    } catch (e) {
      return { ok: false, message: errorMessage(e) };
    }
  }

  private error(o: { status?: number; message: string; vendorMessage?: string; retryable?: boolean; cause?: unknown }) {
    const secrets = this.opts.secrets ?? [];
    return new SourceHttpError({
      sourceId: this.sourceId,
      status: o.status,
      message: redactSecrets(o.message, secrets),
      vendorMessage: o.vendorMessage ? redactSecrets(o.vendorMessage, secrets) : undefined,
      retryable: o.retryable,
      cause: o.cause,
    });
  }

  private backoffMs(attempt: number): number {
    const initial = this.opts.backoff?.initialMs ?? 500;
    const max = this.opts.backoff?.maxMs ?? 20_000;
    const base = Math.min(max, initial * 2 ** attempt);
    const random = this.opts.random ?? Math.random;
    return Math.round(base * (0.5 + random() / 2));
  }

  private async attempt(req: SourceHttpRequest): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.opts.headers, ...req.headers };
    if (req.auth !== false && this.opts.auth) {
      Object.assign(headers, await this.opts.auth.headers({ signal: req.signal }));
    }
    let body: string | undefined;
    if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    } else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const doFetch = this.opts.fetch ?? fetch;
    return doFetch(buildUrl(this.baseUrl, req.path, req.query), {
      method: req.method ?? 'GET',
      headers,
      body,
      signal,
    });
  }

  private async send(req: SourceHttpRequest): Promise<{ response: Response; text: string }> {
    const maxRetries = this.opts.maxRetries ?? 3;
    const maxWait = this.opts.maxRetryWaitMs ?? 60_000;
    const retryAfter = this.opts.retryAfter ?? retryAfterHeader();
    const where = `${req.method ?? 'GET'} ${buildUrl(this.baseUrl, req.path).pathname}`;
    let retries = 0;
    let authRetried = false;
    for (;;) {
      let response: Response;
      let text: string;
      try {
        response = await this.attempt(req);
        text = await response.text();
      } catch (e) {
        if (e instanceof SourceHttpError) throw e; // from the auth provider
        if (req.signal?.aborted) {
          throw this.error({ message: `request ${where} aborted`, cause: e });
        }
        const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
        const message = timedOut ? `request ${where} timed out` : `network error on ${where}: ${errorMessage(e)}`;
        if (retries >= maxRetries) throw this.error({ message, retryable: true, cause: e });
        await this.clock.sleep(this.backoffMs(retries++), req.signal);
        continue;
      }
      if (response.ok) return { response, text };

      const status = response.status;
      if (status === 401 && !authRetried && req.auth !== false && this.opts.auth?.invalidate) {
        authRetried = true;
        this.opts.auth.invalidate();
        continue;
      }
      const retryable = status === 429 || status >= 500;
      if (retryable && retries < maxRetries) {
        const vendorWait = status === 429 || status === 503 ? retryAfter(response.headers, this.clock.now()) : undefined;
        const wait = Math.min(maxWait, vendorWait ?? this.backoffMs(retries));
        retries++;
        await this.clock.sleep(wait, req.signal);
        continue;
      }
      throw this.error({
        status,
        message: `${where} failed${retryable ? ` after ${retries + 1} attempts` : ''}`,
        vendorMessage: extractVendorMessage(parseJsonOrText(text)),
        retryable,
      });
    }
  }
}
