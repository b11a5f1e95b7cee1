/**
 * Fake vendor HTTP servers on loopback: the generic server, a fake OAuth2
 * client-credentials token issuer and fault injection. The vendor modules'
 * fakes build on it (their `testUtils` entry points). Exported from this
 * package's `testUtils` entry point, not from its index.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

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

export interface FakeServerOptions {
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
}

/** The route for a request: `METHOD /path` exactly, else the longest `METHOD /prefix/*` it is under. */
function findRoute(routes: Record<string, FakeRoute>, method: string, path: string): FakeRoute | undefined {
  const exact = routes[`${method} ${path}`];
  if (exact) return exact;
  const prefixes = Object.keys(routes)
    .filter(key => key.endsWith('/*') && `${method} ${path}`.startsWith(key.slice(0, -1)))
    .sort((a, b) => b.length - a.length);
  return prefixes.length ? routes[prefixes[0]] : undefined;
}

/**
 * Starts an HTTP server on 127.0.0.1 (port 0 unless given) answering
 * `METHOD /path` routes; a key ending in `/*` answers every path under it.
 */
export async function startFakeServer(routes: Record<string, FakeRoute>, options: FakeServerOptions = {}): Promise<FakeServer> {
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
      const route = findRoute(routes, fake.method, fake.path);
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
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests,
    calls: route => requests.filter(r => `${r.method} ${r.path}` === route),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close(err => (err ? reject(err) : resolve()));
      }),
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

