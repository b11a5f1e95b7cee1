import type { Clock } from './clock';
import { systemClock } from './clock';
import { HttpAuth, SourceHttpClient, SourceHttpClientOptions } from './client';

/** Options of {@link ClientCredentialsTokenProvider}. */
export interface ClientCredentialsOptions
  extends Pick<SourceHttpClientOptions, 'timeoutMs' | 'maxRetries' | 'backoff' | 'maxRetryWaitMs' | 'retryAfter' | 'random' | 'fetch'> {
  sourceId: string;
  /** Absolute URL of the token endpoint. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** OAuth2 scope (Microsoft identity: `<api>/.default`). */
  scope?: string;
  /** Send `grant_type=client_credentials` (default true; CrowdStrike does not need it). */
  sendGrantType?: boolean;
  /** Extra form fields (e.g. CrowdStrike `member_cid`). */
  extraParams?: Record<string, string>;
  /** Refresh this long before the token expires; default 60 s. */
  refreshBeforeExpiryMs?: number;
  clock?: Clock;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

function readToken(body: unknown): { accessToken: string; expiresIn?: number } {
  if (typeof body !== 'object' || body === null) throw new Error('token response is not an object');
  const { access_token: accessToken, expires_in: expiresIn } = body as Record<string, unknown>;
  if (typeof accessToken !== 'string' || !accessToken) throw new Error('token response has no access_token');
  const n = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn;
  return { accessToken, expiresIn: typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined };
}

/**
 * OAuth2 client-credentials token provider: caches the access token, refreshes
 * it shortly before it expires, shares one in-flight token request between
 * concurrent callers, and is invalidated by the HTTP client on a 401 (which
 * then retries once with a fresh token).
 */
export class ClientCredentialsTokenProvider implements HttpAuth {
  private readonly opts: ClientCredentialsOptions;
  private readonly http: SourceHttpClient;
  private readonly clock: Clock;
  private cached?: CachedToken;
  private inflight?: Promise<CachedToken>;

  constructor(options: ClientCredentialsOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.http = new SourceHttpClient({
      sourceId: options.sourceId,
      baseUrl: options.tokenUrl,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      backoff: options.backoff,
      maxRetryWaitMs: options.maxRetryWaitMs,
      retryAfter: options.retryAfter,
      random: options.random,
      fetch: options.fetch,
      clock: this.clock,
      secrets: [options.clientSecret],
    });
  }

  /** A valid access token, from the cache when it is not about to expire. */
  async getToken(signal?: AbortSignal): Promise<string> {
    const skew = this.opts.refreshBeforeExpiryMs ?? 60_000;
    if (this.cached && this.clock.now() < this.cached.expiresAt - skew) return this.cached.value;
    if (!this.inflight) {
      this.inflight = this.fetchToken(signal).finally(() => {
        this.inflight = undefined;
      });
    }
    const token = await this.inflight;
    this.cached = token;
    return token.value;
  }

  async headers(options: { signal?: AbortSignal }): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.getToken(options.signal)}` };
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async fetchToken(signal?: AbortSignal): Promise<CachedToken> {
    const form: Record<string, string> = {
      ...(this.opts.sendGrantType === false ? {} : { grant_type: 'client_credentials' }),
      client_id: this.opts.clientId,
      client_secret: this.opts.clientSecret,
      ...(this.opts.scope ? { scope: this.opts.scope } : {}),
      ...this.opts.extraParams,
    };
    // errors name the token endpoint and status; the secret is redacted by the client
    const { body } = await this.http.request({ method: 'POST', path: this.opts.tokenUrl, form, signal, auth: false }, readToken);
    const lifetimeMs = (body.expiresIn ?? 300) * 1000;
    return { value: body.accessToken, expiresAt: this.clock.now() + lifetimeMs };
  }
}
