import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GateDecision, GateDecisionSchema, GateRequestSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { scenarioDecision, type GateScenario } from '@internal/runtime-risk-test-harness';

/** What the fake gate answers for one entity (it evaluates nothing, the test decides). */
export type FakeScenario = GateScenario;

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  idempotencyKey?: string;
  body?: unknown;
}

/**
 * A {@link FakeGateServer} for the enclosing `describe`: started before its
 * first test, stopped after its last, {@link FakeGateServer.reset} before each
 * test (before the suite's own `beforeEach`, which sets up its scenarios).
 */
export function fakeGateForSuite(token: string): FakeGateServer {
  const gate = new FakeGateServer(token);
  beforeAll(async () => {
    await gate.start();
  });
  afterAll(async () => {
    await gate.stop();
  });
  beforeEach(() => {
    gate.reset();
  });
  return gate;
}

/**
 * A loopback HTTP server that speaks the documented gate API
 * (`/api/runtime-risk/v1/gate`, `/v1/decisions/:id`, `/v1/audit/verify`):
 * Backstage error bodies, 401 without the right bearer token, 400 naming the
 * field from the shared `GateRequestSchema`, 404 for unknown entities, and
 * answers validated against the shared `GateDecisionSchema`.
 */
export class FakeGateServer {
  readonly requests: RecordedRequest[] = [];
  readonly decisions = new Map<string, GateDecision>();
  readonly scenarios = new Map<string, FakeScenario>();
  /** Answer the next N requests with 503 (a restarting backend). */
  failNext = 0;
  /** Answer every request with this status and a Backstage error body. */
  forceStatus: number | undefined;
  /** Answer 200 with an HTML page (URL pointing at the frontend instead of the backend). */
  answerHtml = false;
  /** Answer of `GET /v1/audit/verify`; undefined: the route does not exist (404). */
  audit:
    | { ok: boolean; checked: number; head?: string; brokenAt?: string | number; problem?: string; message?: string }
    | undefined = { ok: true, checked: 0, head: '0'.repeat(64) };
  /** Called on every GET of a decision, before it is answered (approvals happen here). */
  onPoll: ((decision: GateDecision, pollCount: number) => void) | undefined;
  /** Number of decision GETs answered so far. */
  polls = 0;
  /** Idempotency keys seen by the gate route: key -> the body it came with and its decision (as the real gate). */
  readonly keys = new Map<string, { body: string; decisionId: string }>();
  /** Record the next N gate decisions, then drop the connection without answering (a lost answer). */
  dropAfterRecord = 0;
  private server: http.Server | undefined;

  constructor(private readonly token: string) {}

  /** Back to a fresh server's state (no requests, decisions, scenarios, keys or faults; the default audit answer); keeps listening. */
  reset(): void {
    this.requests.length = 0;
    this.decisions.clear();
    this.scenarios.clear();
    this.keys.clear();
    this.failNext = 0;
    this.forceStatus = undefined;
    this.answerHtml = false;
    this.audit = { ok: true, checked: 0, head: '0'.repeat(64) };
    this.onPoll = undefined;
    this.polls = 0;
    this.dropAfterRecord = 0;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    if (!address) throw new Error('fake gate not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close(err => (err ? reject(err) : resolve())));
  }

  private send(res: http.ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private error(res: http.ServerResponse, status: number, name: string, message: string) {
    this.send(res, status, { error: { name, message }, request: { method: 'x', url: 'x' }, response: { statusCode: status } });
  }

  private handle(req: http.IncomingMessage, rawBody: string, res: http.ServerResponse) {
    const path = (req.url ?? '').split('?')[0];
    let body: unknown;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch (e) {
        this.error(res, 400, 'InputError', `body is not JSON: ${(e as Error).message}`);
        return;
      }
    }
    const idempotencyKey = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    this.requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, idempotencyKey, body });

    if (this.failNext > 0) {
      this.failNext--;
      this.error(res, 503, 'ServiceUnavailableError', 'backend starting');
      return;
    }
    if (this.forceStatus) {
      // Like a careless proxy, echo the request's Authorization header in the error.
      this.error(res, this.forceStatus, 'Error', `forced failure (authorization: ${req.headers.authorization})`);
      return;
    }
    if (this.answerHtml) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html><body>Backstage</body></html>');
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.error(res, 401, 'AuthenticationError', 'Missing or invalid credentials');
      return;
    }
    const prefix = '/api/runtime-risk';
    if (!path.startsWith(`${prefix}/`)) {
      this.error(res, 404, 'NotFoundError', `no route ${path}`);
      return;
    }
    const route = path.slice(prefix.length);

    if (req.method === 'POST' && route === '/v1/gate') {
      const parsed = GateRequestSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        this.error(res, 400, 'InputError', `${issue.path.join('.') || 'body'}: ${issue.message}`);
        return;
      }
      const request = parsed.data;
      const seen = idempotencyKey !== undefined ? this.keys.get(idempotencyKey) : undefined;
      if (seen) {
        if (seen.body !== JSON.stringify(request)) {
          this.error(res, 422, 'Error', `Idempotency-Key: '${idempotencyKey}' was used with a different request body`);
          return;
        }
        res.setHeader('Idempotent-Replayed', 'true');
        this.send(res, 200, this.decisions.get(seen.decisionId));
        return;
      }
      const scenario = this.scenarios.get(request.entityRef);
      if (!scenario) {
        this.error(res, 404, 'NotFoundError', `entity '${request.entityRef}' not found in the catalog`);
        return;
      }
      const decision = scenarioDecision(request, scenario);
      this.decisions.set(decision.decisionId, decision);
      if (idempotencyKey !== undefined) this.keys.set(idempotencyKey, { body: JSON.stringify(request), decisionId: decision.decisionId });
      if (this.dropAfterRecord > 0) {
        this.dropAfterRecord--;
        req.socket.destroy();
        return;
      }
      this.send(res, 200, decision);
      return;
    }
    const match = /^\/v1\/decisions\/([^/]+)$/.exec(route);
    if (req.method === 'GET' && match) {
      const decision = this.decisions.get(decodeURIComponent(match[1]));
      if (!decision) {
        this.error(res, 404, 'NotFoundError', `no decision ${match[1]}`);
        return;
      }
      this.polls++;
      this.onPoll?.(decision, this.polls);
      this.send(res, 200, GateDecisionSchema.parse(this.decisions.get(decision.decisionId)));
      return;
    }
    if (req.method === 'GET' && route === '/v1/audit/verify' && this.audit) {
      this.send(res, 200, this.audit);
      return;
    }
    this.error(res, 404, 'NotFoundError', `no route ${req.method} ${route}`);
  }
}
