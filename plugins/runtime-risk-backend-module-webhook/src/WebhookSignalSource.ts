import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignalInputSchema, normalizeAsset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { ParsedSignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { PushSignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';

export const SIGNATURE_HEADER = 'x-runtime-risk-signature';
export const TIMESTAMP_HEADER = 'x-runtime-risk-timestamp';

export interface WebhookSourceOptions {
  /** Source id; the push URL is `POST /api/runtime-risk/v1/signals/webhook/<id>`. */
  id: string;
  /** Shared HMAC-SHA256 secret. */
  secret: string;
  /** Replay window for `X-Runtime-Risk-Timestamp`, seconds; default 300. */
  toleranceSeconds?: number;
  /** Require the timestamp header (and sign `<timestamp>.<body>`); default true. */
  requireTimestamp?: boolean;
  /** Largest accepted body, bytes; default 1 MiB. */
  maxBodyBytes?: number;
  /** Most signals in one push; default 1000. */
  maxSignals?: number;
  /** The sender's promised heartbeat interval, ms (`heartbeat`); absent: never stale for being quiet. */
  heartbeatMs?: number;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Computes the signature header value a sender must send:
 * `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, or over the raw
 * body alone when no timestamp is given.
 */
export function signWebhookBody(secret: string, rawBody: Buffer | string, timestamp?: string | number): string {
  const mac = createHmac('sha256', secret);
  if (timestamp !== undefined) mac.update(`${timestamp}.`);
  mac.update(rawBody);
  return `sha256=${mac.digest('hex')}`;
}

/** Describes a zod issue path as `signals[2].asset.ips[0]`. */
function fieldPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : `${acc}.${String(p)}`), prefix);
}

/**
 * A push source for signals already in the normalized `SignalInput` shape,
 * authenticated by an HMAC-SHA256 signature with a per-source secret and a
 * timestamp replay window.
 */
export class WebhookSignalSource implements PushSignalSource {
  readonly id: string;
  readonly type = 'webhook';
  readonly mode = 'push' as const;
  private readonly opts: WebhookSourceOptions;

  constructor(options: WebhookSourceOptions) {
    this.opts = options;
    this.id = options.id;
  }

  /** The sender's heartbeat interval, ms (the gate counts the source stale after missing it). */
  get heartbeatMs(): number | undefined {
    return this.opts.heartbeatMs;
  }

  /** Largest accepted body, bytes (the router answers 413 above it). */
  get maxBodyBytes(): number {
    return this.opts.maxBodyBytes ?? 1024 * 1024;
  }

  private now() {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * Throws (the backend answers 401 and logs the reason) unless the push is
   * signed and fresh. That it is new is the backend's check, in the database
   * with the delivery's signals ({@link replayKey}): a replay is refused by
   * every replica, and a delivery whose commit failed can be sent again.
   */
  verify({ rawBody, headers }: { rawBody: Buffer; headers: Record<string, string | string[] | undefined> }): boolean {
    const maxBytes = this.maxBodyBytes;
    if (rawBody.length > maxBytes) throw new Error(`body: ${rawBody.length} bytes is more than the ${maxBytes} allowed`);
    const given = header(headers, SIGNATURE_HEADER);
    if (!given) throw new Error(`signature: missing ${SIGNATURE_HEADER} header`);
    const timestamp = header(headers, TIMESTAMP_HEADER);
    const toleranceMs = (this.opts.toleranceSeconds ?? 300) * 1000;
    if (timestamp === undefined) {
      if (this.opts.requireTimestamp !== false) throw new Error(`timestamp: missing ${TIMESTAMP_HEADER} header`);
    } else {
      if (!/^\d{1,12}$/.test(timestamp)) throw new Error(`timestamp: ${TIMESTAMP_HEADER} must be unix seconds`);
      if (Math.abs(this.now() - Number(timestamp) * 1000) > toleranceMs) {
        throw new Error('timestamp: outside the replay window');
      }
    }
    const expected = Buffer.from(signWebhookBody(this.opts.secret, rawBody, timestamp));
    const actual = Buffer.from(given.trim());
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new Error('signature: does not match the body');
    }
    return true;
  }

  /**
   * The replay key of a verified delivery: its signature (which covers the
   * timestamp and the body), refused again until the replay window has passed
   * on both sides of the timestamp. The backend keeps it in the database, so
   * a delivery replayed to another replica is refused too.
   */
  replayKey({ headers }: { rawBody: Buffer; headers: Record<string, string | string[] | undefined> }): { key: string; expiresAt: number } | undefined {
    const given = header(headers, SIGNATURE_HEADER);
    if (!given) return undefined;
    const toleranceMs = (this.opts.toleranceSeconds ?? 300) * 1000;
    const timestamp = header(headers, TIMESTAMP_HEADER);
    // without a timestamp a signature never expires: keep it for a day
    const expiresAt = timestamp !== undefined && /^\d{1,12}$/.test(timestamp) ? Number(timestamp) * 1000 + toleranceMs + 1000 : this.now() + 24 * 3600_000;
    return { key: `${this.id}\n${given.trim()}`, expiresAt: Math.max(expiresAt, this.now() + 1000) };
  }

  /**
   * Accepts one signal, an array of signals, `{ signals: [...] }`, or NDJSON text
   * (one signal per line), in the normalized `SignalInput` shape. Throws an
   * Error naming the first bad field; nothing of a bad push is kept.
   */
  parse(body: unknown): ParsedSignalInput[] {
    const items = this.items(body);
    const max = this.opts.maxSignals ?? 1000;
    if (items.length > max) throw new Error(`signals: ${items.length} signals is more than the ${max} allowed in one push`);
    return items.map((item, i) => {
      const parsed = SignalInputSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(`${fieldPath(`signals[${i}]`, issue.path)}: ${issue.message}`);
      }
      return { ...parsed.data, asset: normalizeAsset(parsed.data.asset) };
    });
  }

  private items(body: unknown): unknown[] {
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      return String(body)
        .split('\n')
        .map((line, i) => ({ line: line.trim(), n: i + 1 }))
        .filter(l => l.line)
        .map(({ line, n }) => {
          try {
            return JSON.parse(line) as unknown;
          } catch (e) {
            throw new Error(`body: line ${n} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
          }
        });
    }
    if (Array.isArray(body)) return body;
    if (body && typeof body === 'object') {
      const rec = body as Record<string, unknown>;
      if ('signals' in rec) {
        if (!Array.isArray(rec.signals)) throw new Error('signals: must be an array');
        return rec.signals;
      }
      if ('sourceId' in rec) return [rec];
    }
    throw new Error('body: expected a signal, an array of signals, { signals: [...] } or NDJSON');
  }
}
