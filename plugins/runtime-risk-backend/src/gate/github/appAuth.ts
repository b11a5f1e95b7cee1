import { createHmac, sign, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Headers of every call to the GitHub REST API. */
export const GITHUB_API_HEADERS = {
  Accept: 'application/vnd.github+json',
  'X-GitHub-Api-Version': '2022-11-28',
  'User-Agent': 'backstage-runtime-risk',
} as const;

/** Longest a call to GitHub may take. */
export const GITHUB_TIMEOUT_MS = 10_000;

/**
 * True when `header` (`X-Hub-Signature-256`, `sha256=<hex>`) is the HMAC-SHA256
 * of `rawBody` under `secret`; compared in constant time.
 */
export function verifyGithubSignature(rawBody: Buffer, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * The GitHub App's JWT (RS256): `iat` 60 s in the past (clock drift), `exp`
 * 9 minutes ahead (GitHub allows at most 10), `iss` the App ID.
 */
export function createAppJwt(appId: string, privateKey: KeyObject, now: Date = new Date()): string {
  const iat = Math.floor(now.getTime() / 1000) - 60;
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ iat, exp: iat + 60 + 9 * 60, iss: appId }));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), privateKey);
  return `${header}.${payload}.${base64url(signature)}`;
}

/** An error of a call to GitHub; `retryable` for 5xx, 429, 401 (token) and network failures. */
export class GithubCallError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'GithubCallError';
  }
}

/** GitHub's `message` of an error response, cut short (never a token: GitHub does not echo them). */
async function errorText(res: Response): Promise<string> {
  try {
    const text = await res.text();
    try {
      const message = (JSON.parse(text) as { message?: unknown }).message;
      if (typeof message === 'string') return message.slice(0, 300);
    } catch {
      // not JSON
    }
    return text.slice(0, 300);
  } catch {
    return '';
  }
}

export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** The reason of a failed GitHub response as a {@link GithubCallError}. */
export async function responseError(what: string, res: Response): Promise<GithubCallError> {
  const text = await errorText(res);
  return new GithubCallError(`${what}: GitHub answered ${res.status}${text ? ` (${text})` : ''}`, res.status, isRetryableStatus(res.status) || res.status === 401);
}

/**
 * Installation access tokens of one GitHub App: a JWT signed with the App's
 * private key buys a token at `POST /app/installations/{id}/access_tokens`; each
 * token is reused until 5 minutes before its `expires_at`. Concurrent callers
 * share one request.
 */
export class GithubAppAuth {
  private readonly tokens = new Map<string, { token: string; renewAtMs: number }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly options: {
      appId: string;
      privateKey: KeyObject;
      apiBaseUrl: string;
      clock?: () => Date;
    },
  ) {}

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  /** Forgets the cached token (GitHub refused it). */
  invalidate(installationId: string): void {
    this.tokens.delete(installationId);
  }

  async installationToken(installationId: string): Promise<string> {
    const cached = this.tokens.get(installationId);
    if (cached && cached.renewAtMs > this.now().getTime()) return cached.token;
    const running = this.inflight.get(installationId);
    if (running) return running;
    const request = this.requestToken(installationId).finally(() => this.inflight.delete(installationId));
    this.inflight.set(installationId, request);
    return request;
  }

  private async requestToken(installationId: string): Promise<string> {
    if (!/^\d+$/.test(installationId)) throw new GithubCallError(`installation id '${installationId}' is not a number`, undefined, false);
    const url = `${this.options.apiBaseUrl}/app/installations/${installationId}/access_tokens`;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { ...GITHUB_API_HEADERS, Authorization: `Bearer ${createAppJwt(this.options.appId, this.options.privateKey, this.now())}` },
        signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS),
      });
    } catch (e) {
      throw new GithubCallError(`installation token: ${(e as Error).message}`, undefined, true);
    }
    if (res.status !== 201 && res.status !== 200) throw await responseError('installation token', res);
    const body = (await res.json()) as { token?: unknown; expires_at?: unknown };
    if (typeof body.token !== 'string' || !body.token) throw new GithubCallError('installation token: no token in the answer', res.status, true);
    const expiresMs = typeof body.expires_at === 'string' ? Date.parse(body.expires_at) : NaN;
    // GitHub's tokens live one hour; renew 5 minutes early (at once if the expiry is unreadable or near)
    const renewAtMs = Number.isFinite(expiresMs) ? expiresMs - 5 * 60_000 : 0;
    this.tokens.set(installationId, { token: body.token, renewAtMs });
    return body.token;
  }
}
