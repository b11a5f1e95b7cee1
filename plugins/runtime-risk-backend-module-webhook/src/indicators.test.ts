import { WebhookSignalSource } from './WebhookSignalSource';

/** Issue 15 part 5: pushed signals may carry indicators; a malformed one is refused naming the field. */
const SHA = '0f'.repeat(32);
const signal = (extra: Record<string, unknown> = {}) => ({
  sourceId: 'p1',
  severity: 'high',
  title: 'Pushed',
  asset: { hostname: 'web-01' },
  firstSeenAt: '2026-01-01T11:00:00Z',
  lastSeenAt: '2026-01-01T11:30:00Z',
  ...extra,
});
const source = () => new WebhookSignalSource({ id: 'custom', secret: 'a-long-webhook-secret-value', now: () => Date.parse('2026-01-01T12:00:00Z') });

describe('WebhookSignalSource indicators', () => {
  it('accepts indicators (SHA-256 lower-cased)', () => {
    const [parsed] = source().parse({
      signals: [signal({ indicators: { sha256: SHA.toUpperCase(), filePath: '/tmp/x', processName: 'x', commandLine: 'x --run' } })],
    });
    expect(parsed.indicators).toEqual({ sha256: SHA, filePath: '/tmp/x', processName: 'x', commandLine: 'x --run' });
    expect(source().parse({ signals: [signal()] })[0].indicators).toBeUndefined();
  });

  it.each([
    [{ sha256: 'abc' }, 'signals[0].indicators.sha256'],
    [{ commandLine: 42 }, 'signals[0].indicators.commandLine'],
    [{ processName: '' }, 'signals[0].indicators.processName'],
    [{ md5: 'abc' }, 'signals[0].indicators'],
  ])('refuses %j naming %s', (indicators, field) => {
    expect(() => source().parse({ signals: [signal({ indicators })] })).toThrow(field);
  });
});
