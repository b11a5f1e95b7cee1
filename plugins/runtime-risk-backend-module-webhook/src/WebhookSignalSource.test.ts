import { startTestBackend } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { registeredSources } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import { isPushSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSignalSource, signWebhookBody } from './WebhookSignalSource';
import { readWebhookConfig } from './config';
import webhookModule from './index';

const SECRET = 'a-long-webhook-secret-value';
const NOW = Date.parse('2026-01-01T12:00:00Z');
const TS = String(NOW / 1000);

const signal = (id: string, extra: Record<string, unknown> = {}) => ({
  sourceId: id,
  severity: 'high',
  title: `Pushed ${id}`,
  asset: { hostname: 'Web-01.Prod.Example.com', macs: ['0242AC110002'], ips: ['10.0.0.1'] },
  firstSeenAt: '2026-01-01T11:00:00Z',
  lastSeenAt: '2026-01-01T11:30:00Z',
  ...extra,
});

function source(extra: Partial<ConstructorParameters<typeof WebhookSignalSource>[0]> = {}) {
  return new WebhookSignalSource({ id: 'custom', secret: SECRET, now: () => NOW, ...extra });
}

function push(body: unknown, opts: { secret?: string; ts?: string | null; sig?: string } = {}) {
  const rawBody = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const ts = opts.ts === null ? undefined : opts.ts ?? TS;
  const headers: Record<string, string> = {};
  if (ts !== undefined) headers[TIMESTAMP_HEADER] = ts;
  headers[SIGNATURE_HEADER] = opts.sig ?? signWebhookBody(opts.secret ?? SECRET, rawBody, ts);
  return { rawBody, headers };
}

describe('WebhookSignalSource.verify', () => {
  it('accepts a valid signature over timestamp and body', () => {
    expect(source().verify(push({ signals: [signal('a')] }))).toBe(true);
  });

  it('rejects a wrong secret, a missing signature and a tampered body', () => {
    expect(() => source().verify(push([signal('a')], { secret: 'other-secret' }))).toThrow('signature: does not match the body');
    const { rawBody, headers } = push([signal('a')]);
    expect(() => source().verify({ rawBody, headers: { [TIMESTAMP_HEADER]: TS } })).toThrow(`signature: missing ${SIGNATURE_HEADER}`);
    const tampered = Buffer.from(rawBody.toString().replace('"high"', '"low"'));
    expect(() => source().verify({ rawBody: tampered, headers })).toThrow('signature: does not match the body');
    expect(() => source().verify({ rawBody, headers: { ...headers, [SIGNATURE_HEADER]: 'sha256=abc' } })).toThrow('does not match');
  });

  it('rejects a signature made for another timestamp, stale timestamps and replays', () => {
    const { rawBody, headers } = push([signal('a')]);
    expect(() => source().verify({ rawBody, headers: { ...headers, [TIMESTAMP_HEADER]: String(Number(TS) + 1) } })).toThrow('does not match');
    const stale = String(Number(TS) - 301);
    expect(() => source().verify(push([signal('a')], { ts: stale }))).toThrow('timestamp: outside the replay window');
    expect(() => source().verify(push([signal('a')], { ts: 'yesterday' }))).toThrow('timestamp: x-runtime-risk-timestamp must be unix seconds');
    // a replay verifies (the backend refuses it by its replay key, kept in the database)
    const s = source();
    const once = push([signal('replay')]);
    expect(s.verify(once)).toBe(true);
    expect(s.verify(once)).toBe(true);
    const key = s.replayKey(once);
    expect(key?.key).toContain(String(once.headers[SIGNATURE_HEADER]));
    // kept until the timestamp is outside the window (300 s after it), whatever the clock says now
    expect(key?.expiresAt).toBe(Number(TS) * 1000 + 301_000);
    expect(source({ requireTimestamp: false }).replayKey(push([signal('a')], { ts: null }))?.expiresAt).toBe(NOW + 24 * 3600_000);
  });

  it('requires the timestamp unless configured otherwise', () => {
    const bodyOnly = push([signal('a')], { ts: null });
    expect(() => source().verify(bodyOnly)).toThrow(`timestamp: missing ${TIMESTAMP_HEADER}`);
    expect(source({ requireTimestamp: false }).verify(bodyOnly)).toBe(true);
  });

  it('rejects an oversized body', () => {
    expect(() => source({ maxBodyBytes: 100 }).verify(push([signal('a'), signal('b')]))).toThrow(/^body: \d+ bytes is more than the 100 allowed$/);
  });
});

describe('WebhookSignalSource.parse', () => {
  it('accepts one signal, an array, {signals} and NDJSON, normalized', () => {
    const s = source();
    const one = s.parse(signal('a'));
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({
      sourceId: 'a',
      confidence: 1,
      status: 'active',
      kind: 'detection',
      asset: { hostname: 'web-01', fqdn: 'web-01.prod.example.com', macs: ['02:42:ac:11:00:02'] },
    });
    expect(s.parse([signal('a'), signal('b', { confidence: 0.4 })]).map(x => x.confidence)).toEqual([1, 0.4]);
    expect(s.parse({ signals: [signal('c')] }).map(x => x.sourceId)).toEqual(['c']);
    const ndjson = `${JSON.stringify(signal('d'))}\n\n${JSON.stringify(signal('e'))}\n`;
    expect(s.parse(ndjson).map(x => x.sourceId)).toEqual(['d', 'e']);
  });

  it('names the bad field', () => {
    const s = source();
    expect(() => s.parse({ signals: [signal('a'), signal('b', { severity: 'apocalyptic' })] })).toThrow(/^signals\[1\]\.severity: /);
    expect(() => s.parse([signal('a', { asset: { ips: [7] } })])).toThrow(/^signals\[0\]\.asset\.ips\[0\]: /);
    expect(() => s.parse({ items: [] })).toThrow('body: expected a signal, an array of signals, { signals: [...] } or NDJSON');
    expect(() => s.parse({ signals: 'x' })).toThrow('signals: must be an array');
    expect(() => s.parse(`${JSON.stringify(signal('a'))}\n{oops`)).toThrow(/^body: line 2 is not valid JSON/);
    expect(() => source({ maxSignals: 1 }).parse([signal('a'), signal('b')])).toThrow('signals: 2 signals is more than the 1 allowed in one push');
  });
});

describe('webhook config and module', () => {
  const read = (webhook: JsonObject) => readWebhookConfig(new ConfigReader({ runtimeRisk: { sources: { webhook } } }));

  it('reads sources and fails naming the key', () => {
    expect(read({ toleranceSeconds: 60, sources: [{ id: 'custom', secret: 's' }] })).toEqual([
      expect.objectContaining({ id: 'custom', secret: 's', toleranceSeconds: 60 }),
    ]);
    expect(() => read({ sources: [{ id: 'ok', secret: 's' }, { id: 'x' }] })).toThrow(/runtimeRisk\.sources\.webhook\.sources\[1\]\.secret/);
    expect(() => read({ sources: [{ id: 'a/b', secret: 's' }] })).toThrow("Invalid config at 'runtimeRisk.sources.webhook.sources[0].id'");
    expect(() => read({ sources: [{ id: 'a', secret: 's' }, { id: 'a', secret: 't' }] })).toThrow("duplicate id 'a'");
  });

  it.each<[unknown, number | undefined]>([
    [undefined, undefined],
    ['15m', 15 * 60_000],
    ['1h30m', 90 * 60_000],
    [90, 90_000],
    [{ minutes: 5 }, 5 * 60_000],
    ['PT10M', 10 * 60_000],
  ])('reads heartbeat %j as %s ms', (heartbeat, ms) => {
    const entry = heartbeat === undefined ? { id: 'a', secret: 's' } : { id: 'a', secret: 's', heartbeat };
    const [options] = read({ sources: [entry as JsonObject] })!;
    expect(options.heartbeatMs).toBe(ms);
    expect(new WebhookSignalSource(options).heartbeatMs).toBe(ms);
  });

  it('fails naming the heartbeat key when it is not a duration', () => {
    expect(() => read({ sources: [{ id: 'a', secret: 's', heartbeat: 'soon' }] })).toThrow(
      "Invalid config at 'runtimeRisk.sources.webhook.sources[0].heartbeat'",
    );
    expect(() => read({ sources: [{ id: 'a', secret: 's', heartbeat: 0 }] })).toThrow('must be longer than zero');
  });

  it('registers one push source per entry, and stays idle without config', async () => {
    const sources = await registeredSources(webhookModule, {
      runtimeRisk: { sources: { webhook: { sources: [{ id: 'custom', secret: SECRET }, { id: 'ci', secret: 'other' }] } } },
    }, startTestBackend);
    expect(sources.map(s => [s.id, s.type, isPushSource(s)])).toEqual([
      ['custom', 'webhook', true],
      ['ci', 'webhook', true],
    ]);
    expect(await registeredSources(webhookModule, {}, startTestBackend)).toEqual([]);
  });
});
