/**
 * Issue 18 part 4 against the real packages/backend (demo config, the real signals
 * backend): a browser-like WebSocket subscribed to `runtime-risk:<entityRef>` on
 * /api/signals gets one `{type: 'changed'}` after a signed webhook push on that
 * entity's host, and nothing on another entity's channel, well before any poll.
 */
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { DEMO_TOKEN, ROOT, startDemoBackend, waitFor, type RunningBackend } from './backendProcess';

/**
 * The `ws` client the signals backend itself depends on (resolved through it, no new dependency);
 * Node's built-in WebSocket never completed the handshake with this server here.
 */
type Socket = {
  on(event: 'open' | 'close', fn: () => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  on(event: 'message', fn: (data: unknown) => void): void;
  send(data: string): void;
  close(): void;
};
const WS = createRequire(
  require.resolve('@backstage/plugin-signals-backend', { paths: [resolve(ROOT, 'packages/backend')] }),
)('ws') as new (url: string) => Socket;

const SECRET = 'live-e2e-secret';
const PAYMENTS = 'runtime-risk:component:default/payments-api';
const LEDGER = 'runtime-risk:component:default/ledger-service';

let backend: RunningBackend;

beforeAll(async () => {
  backend = await startDemoBackend({ configFiles: ['e2e/app-config.live.yaml'] });
  // the demo index is built (payments-api known) before the push
  await waitFor(
    async () => {
      const r = await fetch(`${backend.baseUrl}/api/runtime-risk/v1/entities/component/default/payments-api/risk`, {
        headers: { authorization: `Bearer ${DEMO_TOKEN}` },
      });
      return r.status === 200 ? r : undefined;
    },
    150_000,
    'payments-api to be indexed',
  );
}, 200_000);
afterAll(async () => {
  await backend?.stop();
});

it('delivers one change message to a subscribed socket after a webhook push, none for another entity', async () => {
  const received: { channel: string; message: unknown }[] = [];
  // right after start-up the first handshakes may stay unanswered for a while: a new socket every 5 s
  const ws = await waitFor(
    () =>
      new Promise<Socket | undefined>(done => {
        const socket = new WS(`${backend.baseUrl.replace('http', 'ws')}/api/signals`);
        const t = setTimeout(() => {
          socket.close();
          done(undefined);
        }, 5000);
        socket.on('open', () => {
          clearTimeout(t);
          done(socket);
        });
        socket.on('error', () => {
          clearTimeout(t);
          done(undefined);
        });
      }),
    180_000,
    `a WebSocket to /api/signals\n${backend.logs().slice(-2000)}`,
  );
  ws.on('message', data => received.push(JSON.parse(String(data))));
  ws.send(JSON.stringify({ action: 'subscribe', channel: PAYMENTS }));
  ws.send(JSON.stringify({ action: 'subscribe', channel: LEDGER }));
  await new Promise(r => setTimeout(r, 500));
  received.length = 0;

  const now = new Date().toISOString();
  const body = JSON.stringify({
    signals: [
      { sourceId: `live-${Date.now()}`, severity: 'critical', confidence: 1, status: 'active', title: 'live e2e', asset: { hostname: 'pay-prod-01', ips: [], macs: [] }, firstSeenAt: now, lastSeenAt: now },
    ],
  });
  const ts = String(Math.floor(Date.now() / 1000));
  const signature = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`;
  const pushedAt = Date.now();
  const push = await fetch(`${backend.baseUrl}/api/runtime-risk/v1/signals/webhook/live`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-runtime-risk-timestamp': ts, 'x-runtime-risk-signature': signature },
    body,
  });
  expect(push.status).toBe(202);
  await waitFor(async () => (received.length ? true : undefined), 10_000, 'a change message');
  // well before the portal's 30 s poll
  expect(Date.now() - pushedAt).toBeLessThan(10_000);
  await new Promise(r => setTimeout(r, 1500));
  ws.close();
  expect(received).toEqual([{ channel: PAYMENTS, message: { type: 'changed' } }]);
}, 300_000);
