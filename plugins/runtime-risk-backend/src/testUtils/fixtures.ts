import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Entity } from '@backstage/catalog-model';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { PullSignalSource, PushSignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';

export function component(name: string, annotations: Record<string, string> = {}): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: 'default', annotations },
    spec: { type: 'service', lifecycle: 'production', owner: 'team-a', system: 'shop' },
  };
}

/** A pull source serving pages from memory; `failWith` makes the next fetches throw. */
export class MemoryPullSource implements PullSignalSource {
  readonly mode = 'pull' as const;
  readonly type = 'memory';
  pages: { signals: unknown[]; hasMore?: boolean; rejected?: number }[] = [];
  failWith: Error | undefined;
  cursorsSeen: (string | null)[] = [];

  constructor(readonly id: string) {}

  async fetch({ cursor }: { cursor: string | null }) {
    this.cursorsSeen.push(cursor);
    if (this.failWith) throw this.failWith;
    const index = cursor === null ? 0 : Number(cursor);
    const page = this.pages[index];
    if (!page) return { signals: [], cursor };
    return {
      signals: page.signals as SignalInput[],
      cursor: String(index + 1),
      hasMore: page.hasMore,
      rejected: page.rejected,
    };
  }
}

/** A {@link MemoryPullSource} `edr` whose one page is a critical signal `crit-1` on host web-01. */
export function criticalEdrSource(): MemoryPullSource {
  const edr = new MemoryPullSource('edr');
  edr.pages = [{ signals: [signalInput('crit-1', { hostname: 'web-01', severity: 'critical' })] }];
  return edr;
}

export const PUSH_SECRET = 'test-push-secret';

export function sign(body: string, secret = PUSH_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A push source verifying `x-signature: sha256=<hmac>` over the raw body. */
export const testPushSource: PushSignalSource = {
  id: 'hooks',
  type: 'webhook',
  mode: 'push',
  verify({ rawBody, headers }) {
    const given = headers['x-signature'];
    if (typeof given !== 'string') return false;
    const expected = Buffer.from(`sha256=${createHmac('sha256', PUSH_SECRET).update(rawBody).digest('hex')}`);
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  },
  parse(body) {
    const signals = (body as { signals?: unknown })?.signals;
    if (!Array.isArray(signals)) throw new Error('signals: must be an array of signals');
    return signals as SignalInput[];
  },
};

export function signalInput(sourceId: string, overrides: Partial<SignalInput> & { hostname?: string } = {}): SignalInput {
  const { hostname, ...rest } = overrides;
  const now = new Date().toISOString();
  return {
    sourceId,
    severity: 'critical',
    confidence: 1,
    status: 'active',
    title: `detection ${sourceId}`,
    asset: { hostname: hostname ?? 'web-01.prod.example.com', ips: [], macs: [] },
    firstSeenAt: now,
    lastSeenAt: now,
    ...rest,
  };
}
