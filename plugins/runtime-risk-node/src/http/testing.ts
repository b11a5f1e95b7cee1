/**
 * Test helpers for source adapters: a fake vendor HTTP server on loopback, a
 * fake OAuth2 token issuer, a fast clock, and a way to see what a module
 * registers through the extension point. Test-only: not exported from the
 * package index; import `@internal/plugin-runtime-risk-node/src/http/testing`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { createBackendPlugin } from '@backstage/backend-plugin-api';
import type { BackendFeature } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { runtimeRiskSignalSourcesExtensionPoint } from '../extensions';
import type { SignalSource } from '../source';
import type { Clock } from './clock';
import { SourceHttpError } from './errors';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  /** JSON body. */
  json?: unknown;
  /** Raw body (e.g. malformed JSON). */
  body?: string;
}

export type FakeRoute = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeServer {
  url: string;
  /** Every request received, in order. */
  requests: FakeRequest[];
  /** Requests received on one route key (`GET /path`). */
  calls(route: string): FakeRequest[];
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 (port 0) answering `METHOD /path` routes. */
export async function startFakeServer(routes: Record<string, FakeRoute>): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c as Buffer));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const fake: FakeRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(fake);
      const route = routes[`${fake.method} ${fake.path}`];
      let reply: FakeReply;
      try {
        reply = route ? await route(fake) : { status: 404, json: { error: { code: 'NotFound', message: `no route ${fake.path}` } } };
      } catch (e) {
        reply = { status: 599, body: `fake server route failed: ${e instanceof Error ? e.message : String(e)}` };
      }
      const body = reply.body ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
      res.writeHead(reply.status ?? 200, {
        'content-type': reply.body !== undefined ? 'text/plain' : 'application/json',
        ...reply.headers,
      });
      res.end(body);
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    calls: route => requests.filter(r => `${r.method} ${r.path}` === route),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close(err => (err ? reject(err) : resolve()));
      }),
  };
}

/** A clock whose sleeps return at once and advance its time; `sleeps` records them. */
export function fakeClock(start = Date.parse('2026-01-01T00:00:00Z')): Clock & { sleeps: number[]; advance(ms: number): void } {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async ms => {
      sleeps.push(ms);
      t += ms;
    },
    advance: ms => {
      t += ms;
    },
  };
}

/**
 * A fake OAuth2 client-credentials token endpoint. Issues `tok-1`, `tok-2`, ...;
 * `authorized` accepts only the newest token unless it was revoked.
 */
export interface FakeTokenIssuer {
  /** Tokens issued so far. */
  issued: number;
  /** Set true to make the current token invalid (the next request gets 401). */
  revoked: boolean;
  /** Forms posted to the token endpoint. */
  forms: URLSearchParams[];
  route: FakeRoute;
  authorized(req: FakeRequest): boolean;
}

export function fakeTokenIssuer(options: { expiresIn?: number; status?: number; clientId: string; clientSecret: string }): FakeTokenIssuer {
  const issuer: FakeTokenIssuer = {
    issued: 0,
    revoked: false,
    forms: [] as URLSearchParams[],
    route: (req: FakeRequest) => {
      const form = new URLSearchParams(req.body);
      issuer.forms.push(form);
      if (form.get('client_id') !== options.clientId || form.get('client_secret') !== options.clientSecret) {
        return { status: 401, json: { error: 'invalid_client', error_description: 'client authentication failed' } };
      }
      issuer.issued++;
      issuer.revoked = false;
      return {
        status: options.status ?? 200,
        json: { access_token: `tok-${issuer.issued}`, token_type: 'bearer', expires_in: options.expiresIn ?? 1799 },
      };
    },
    authorized(req: FakeRequest): boolean {
      return !issuer.revoked && issuer.issued > 0 && req.headers.authorization === `Bearer tok-${issuer.issued}`;
    },
  };
  return issuer;
}

/**
 * Starts a test backend with `feature` and a stand-in runtime-risk plugin that
 * provides the extension point; returns what the module registered.
 */
export async function registeredSources(feature: BackendFeature, config: JsonObject): Promise<SignalSource[]> {
  const sources: SignalSource[] = [];
  const host = createBackendPlugin({
    pluginId: 'runtime-risk',
    register(env) {
      env.registerExtensionPoint(runtimeRiskSignalSourcesExtensionPoint, {
        addSignalSource: (...s) => {
          sources.push(...s);
        },
      });
      env.registerInit({ deps: {}, async init() {} });
    },
  });
  const backend = await startTestBackend({
    features: [host, feature, mockServices.rootConfig.factory({ data: config })],
  });
  await backend.stop();
  return sources;
}

/** Awaits a promise that must reject with a {@link SourceHttpError} and returns the error. */
export async function sourceError(promise: Promise<unknown>): Promise<SourceHttpError> {
  const outcome = await promise.then(
    value => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a SourceHttpError, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof SourceHttpError)) throw outcome.error;
  return outcome.error;
}

/**
 * Wraps fake vendor routes: requests that are not `authorized` get the
 * vendor's `unauthorized` reply; otherwise queued `faults` (429, 5xx,
 * malformed bodies) are answered first, one per request, then the handler.
 */
export function vendorRoutes(options: { authorized(req: FakeRequest): boolean; unauthorized: FakeReply }) {
  const faults: FakeReply[] = [];
  const guard =
    (handler: (req: FakeRequest) => FakeReply): FakeRoute =>
    req =>
      options.authorized(req) ? faults.shift() ?? handler(req) : options.unauthorized;
  return { faults, guard };
}

/**
 * Runs `fetch` three times: normally, after the token was revoked (expects a
 * refresh on 401), and after `lifetimeMs` (expects a refresh before expiry).
 * Returns the issuer's token count after each run.
 */
export async function tokenCountsOverLifecycle(
  fetch: () => Promise<unknown>,
  issuer: FakeTokenIssuer,
  clock: { advance(ms: number): void },
  lifetimeMs: number,
): Promise<number[]> {
  const counts: number[] = [];
  await fetch();
  counts.push(issuer.issued);
  issuer.revoked = true;
  await fetch();
  counts.push(issuer.issued);
  clock.advance(lifetimeMs);
  await fetch();
  counts.push(issuer.issued);
  return counts;
}
