/**
 * Error raised by the shared HTTP layer. Its message names the source id, the
 * HTTP status (when there was a response) and the vendor's own message; it
 * never contains a credential (known secrets are redacted from vendor text).
 */
export class SourceHttpError extends Error {
  override readonly name = 'SourceHttpError';
  /** Id of the signal source instance (`crowdstrike`, `defender`, ...). */
  readonly sourceId: string;
  /** HTTP status, undefined for network errors and timeouts. */
  readonly status?: number;
  /** The vendor's error text as found in the response body, if any. */
  readonly vendorMessage?: string;
  /** True when retrying later may succeed (5xx, 429, network, timeout). */
  readonly retryable: boolean;

  constructor(options: {
    sourceId: string;
    message: string;
    status?: number;
    vendorMessage?: string;
    retryable?: boolean;
    cause?: unknown;
  }) {
    const parts = [`Source ${options.sourceId}`];
    if (options.status !== undefined) parts.push(`HTTP ${options.status}`);
    let message = `${parts.join(': ')}: ${options.message}`;
    if (options.vendorMessage) message += `: ${options.vendorMessage}`;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.sourceId = options.sourceId;
    this.status = options.status;
    this.vendorMessage = options.vendorMessage;
    this.retryable = options.retryable ?? false;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

function describeErrorEntry(e: unknown): string | undefined {
  if (typeof e === 'string') return str(e);
  if (!isRecord(e)) return undefined;
  const code = str(e.code) ?? (typeof e.code === 'number' ? String(e.code) : undefined);
  const text = str(e.message) ?? str(e.detail) ?? str(e.title);
  if (code && text) return `${code}: ${text}`;
  return text ?? code;
}

/**
 * Extracts the vendor's error message from a response body. Understands the
 * common shapes: `{ error: { code, message } }` (Microsoft), `{ errors: [{ code,
 * message }] }` (CrowdStrike) or `[{ code, title, detail }]` (SentinelOne),
 * OAuth2 `{ error, error_description }` and `{ message }`. Plain text is
 * returned shortened.
 */
export function extractVendorMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    const t = body.trim();
    return t ? t.slice(0, 300) : undefined;
  }
  if (!isRecord(body)) return undefined;
  if (isRecord(body.error)) return describeErrorEntry(body.error);
  if (Array.isArray(body.errors)) {
    const msgs = body.errors.map(describeErrorEntry).filter((m): m is string => !!m);
    if (msgs.length) return msgs.join('; ');
  }
  const oauthError = str(body.error);
  if (oauthError) {
    const desc = str(body.error_description);
    return desc ? `${oauthError}: ${desc}` : oauthError;
  }
  return str(body.message) ?? str(body.detail);
}

/** Replaces every occurrence of the given secrets in a text by `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}
