/**
 * Test-only signal sources for the backend's own tests, so they name no vendor
 * module: a module that registers given sources through the extension point,
 * and a signed push source reading JSON or NDJSON (what a webhook-style module
 * does), to drive the push route end to end.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createBackendModule } from '@backstage/backend-plugin-api';
import { SignalInputSchema, type SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import {
  runtimeRiskSignalSourcesExtensionPoint,
  type PushSignalSource,
  type SignalSource,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** A runtime-risk module `moduleId` that adds `sources` through `runtimeRiskSignalSourcesExtensionPoint`. */
export function signalSourcesModule(moduleId: string, sources: SignalSource[]) {
  return createBackendModule({
    pluginId: 'runtime-risk',
    moduleId,
    register(env) {
      env.registerInit({
        deps: { extension: runtimeRiskSignalSourcesExtensionPoint },
        async init({ extension }) {
          extension.addSignalSource(...sources);
        },
      });
    },
  });
}

export const SIGNATURE_HEADER = 'x-runtime-risk-signature';
export const TIMESTAMP_HEADER = 'x-runtime-risk-timestamp';

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. */
export function signWebhookBody(secret: string, rawBody: Buffer | string, timestamp: string | number): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A push source `id` (type `webhook`) that accepts a request signed with
 * {@link signWebhookBody} in {@link SIGNATURE_HEADER} over the
 * {@link TIMESTAMP_HEADER} value and the raw body, and reads `{ signals: [...] }`,
 * an array of signals, or NDJSON text (one signal per line). Every signal is
 * checked with `SignalInputSchema`; the first bad line or field is named in the
 * error (the backend answers 400). With `replayGuard` it gives the backend its
 * signature as the replay key (what the webhook module does).
 */
export function signedPushSource(options: { id: string; secret: string; replayGuard?: boolean }): PushSignalSource {
  return {
    id: options.id,
    type: 'webhook',
    mode: 'push',
    // with `replayGuard`, as the webhook module: the signature is the replay key, kept for 5 minutes
    ...(options.replayGuard
      ? {
          replayKey({ headers }: { headers: Record<string, string | string[] | undefined> }) {
            const given = header(headers, SIGNATURE_HEADER);
            return given ? { key: given, expiresAt: Date.now() + 300_000 } : undefined;
          },
        }
      : {}),
    verify({ rawBody, headers }) {
      const given = header(headers, SIGNATURE_HEADER);
      const timestamp = header(headers, TIMESTAMP_HEADER);
      if (!given || !timestamp) return false;
      const expected = Buffer.from(signWebhookBody(options.secret, rawBody, timestamp));
      const actual = Buffer.from(given);
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    },
    parse(body) {
      const items = signalItems(body);
      return items.map((item, i) => {
        const parsed = SignalInputSchema.safeParse(item);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new Error(`signals[${i}].${issue.path.map(String).join('.')}: ${issue.message}`);
        }
        return item as SignalInput;
      });
    },
  };
}

function signalItems(body: unknown): unknown[] {
  if (typeof body === 'string') {
    return body
      .split('\n')
      .map((line, i) => ({ line: line.trim(), n: i + 1 }))
      .filter(l => l.line)
      .map(({ line, n }) => {
        try {
          return JSON.parse(line) as unknown;
        } catch (e) {
          throw new Error(`body: line ${n} is not valid JSON (${(e as Error).message})`);
        }
      });
  }
  if (Array.isArray(body)) return body;
  const signals = (body as { signals?: unknown } | null)?.signals;
  if (!Array.isArray(signals)) throw new Error('signals: must be an array of signals');
  return signals;
}
