import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  EntityRisk,
  GateDecision,
  RiskSnapshot,
  Signal,
  SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { RuntimeRiskClient } from '../api/RuntimeRiskClient';
import type { RiskException } from '../api/RuntimeRiskApi';

/** One request the fake backend received. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export interface FakeReply {
  status: number;
  body: unknown;
}

export type FakeHandler = (req: RecordedRequest) => FakeReply | undefined;

/**
 * A real HTTP server on loopback that speaks the runtime-risk API shapes, so the
 * components are tested through the real `RuntimeRiskClient` (discovery + fetch).
 * Errors use Backstage's JSON error body, as the backend's error handler sends them.
 */
export class FakeRuntimeRiskServer {
  readonly requests: RecordedRequest[] = [];
  /** Risk per entity ref; the value is the list of environments. */
  risks = new Map<string, EntityRisk[]>();
  signals = new Map<string, Signal[]>();
  decisions = new Map<string, GateDecision[]>();
  sources: SourceHealth[] = [];
  /** Score snapshots per entity ref (`GET .../risk/history`), oldest first. */
  history = new Map<string, RiskSnapshot[]>();
  exceptions: RiskException[] = [];
  /** Overrides checked before the default routes. */
  handlers: FakeHandler[] = [];
  private server?: http.Server;
  private baseUrl = '';

  /** Base URL of the fake plugin, as discovery would give it. */
  get url(): string {
    return this.baseUrl;
  }

  static error(status: number, name: string, message: string): FakeReply {
    return {
      status,
      body: {
        error: { name, message },
        request: { method: 'GET', url: '/' },
        response: { statusCode: status },
      },
    };
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = undefined;
        if (text) {
          try {
            body = JSON.parse(text);
          } catch (e) {
            body = text;
          }
        }
        const recorded: RecordedRequest = {
          method: req.method ?? 'GET',
          path: url.pathname.replace(/^\/api\/runtime-risk/, ''),
          query: url.searchParams,
          body,
        };
        this.requests.push(recorded);
        const reply = this.route(recorded);
        res.writeHead(reply.status, {
          'content-type': 'application/json; charset=utf-8',
          'access-control-allow-origin': '*',
        });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}/api/runtime-risk`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A real client pointed at this server. */
  client(): RuntimeRiskClient {
    return new RuntimeRiskClient({
      discoveryApi: { getBaseUrl: async () => this.baseUrl },
      fetchApi: { fetch: (input, init) => globalThis.fetch(input, init) },
    });
  }

  /** The answer of `POST /v1/policy/backtest` for a request body. */
  backtest?: (body: Record<string, unknown>) => unknown;

  /** `GET /v1/summary` from {@link risks}, as the backend builds it (owner and system unknown to the fake). */
  private summary(query: URLSearchParams): unknown {
    const env = query.get('environment');
    const limit = Number(query.get('limit') ?? 100);
    const rows = [...this.risks.values()].flat().filter(r => !env || r.environment === env);
    const environments = env ? [env] : [...new Set(rows.map(r => r.environment))].sort();
    const ranked = [...rows].sort((a, b) => (b.score ?? -1) - (a.score ?? -1) || a.entityRef.localeCompare(b.entityRef));
    const uncorrelated = (r: EntityRisk) => r.reasons.some(x => x.code === 'uncorrelated');
    return {
      generatedAt: new Date().toISOString(),
      environments,
      entities: {
        total: new Set(rows.map(r => r.entityRef)).size,
        correlated: new Set(rows.filter(r => !uncorrelated(r)).map(r => r.entityRef)).size,
      },
      counts: environments.map(e => {
        const of = rows.filter(r => r.environment === e);
        const count = <K extends string>(keys: K[], get: (r: EntityRisk) => string) =>
          Object.fromEntries(keys.map(k => [k, of.filter(r => get(r) === k).length]));
        return {
          environment: e,
          byLevel: count(['low', 'moderate', 'high', 'unknown'], r => r.riskLevel),
          byDecision: count(['proceed', 'approval_required', 'block'], r => r.decision),
        };
      }),
      topRisky: ranked.slice(0, limit).map(r => ({
        entityRef: r.entityRef,
        name: r.entityRef.split('/').pop(),
        owner: null,
        system: null,
        environment: r.environment,
        riskLevel: r.riskLevel,
        score: r.score,
        decision: r.decision,
        reasons: r.reasons,
      })),
      topRiskyTotal: ranked.length,
      uncorrelated: [],
      shadow: { since: new Date().toISOString(), buckets: this.shadowBuckets },
      pending: { totalCount: 0, items: [] },
    };
  }

  /** The policy history (`GET /v1/policies`), the active one first. */
  policies: { hash: string; id: string; firstActiveAt: string; periods: { from: string; until: string | null }[]; active: boolean; body: Record<string, unknown> }[] = [];

  /** Shadow-mode buckets the summary answers. */
  shadowBuckets: { start: string; total: number; wouldHaveBlocked: number; wouldHaveRequiredApproval: number }[] = [];

  private findDecision(id: string): GateDecision | undefined {
    return [...this.decisions.values()].flat().find(d => d.decisionId === id);
  }

  private route(req: RecordedRequest): FakeReply {
    for (const h of this.handlers) {
      const r = h(req);
      if (r) return r;
    }
    const risk = req.path.match(/^\/v1\/entities\/([^/]+)\/([^/]+)\/([^/]+)\/risk$/);
    if (req.method === 'GET' && risk) {
      const ref = `${decodeURIComponent(risk[1])}:${decodeURIComponent(risk[2])}/${decodeURIComponent(
        risk[3],
      )}`.toLowerCase();
      const items = this.risks.get(ref);
      if (!items) return FakeRuntimeRiskServer.error(404, 'NotFoundError', `entity ${ref} not found`);
      const env = req.query.get('environment');
      if (env) {
        const one = items.find(i => i.environment === env);
        return one
          ? { status: 200, body: one }
          : FakeRuntimeRiskServer.error(400, 'InputError', `environment: unknown environment '${env}'`);
      }
      return { status: 200, body: { items } };
    }
    const history = req.path.match(/^\/v1\/entities\/([^/]+)\/([^/]+)\/([^/]+)\/risk\/history$/);
    if (req.method === 'GET' && history) {
      const ref = `${decodeURIComponent(history[1])}:${decodeURIComponent(history[2])}/${decodeURIComponent(history[3])}`.toLowerCase();
      if (!this.risks.has(ref)) return FakeRuntimeRiskServer.error(404, 'NotFoundError', `entityRef: no entity '${ref}' in the catalog`);
      const days = Number(req.query.get('days') ?? 7);
      const env = req.query.get('environment');
      const since = new Date(Date.now() - days * 24 * 3600_000).toISOString();
      const items = (this.history.get(ref) ?? []).filter(s => s.at >= since && (!env || s.environment === env));
      return { status: 200, body: { entityRef: ref, since, items } };
    }
    if (req.method === 'GET' && req.path === '/v1/signals') {
      const ref = req.query.get('entityRef') ?? '';
      const items = this.signals.get(ref) ?? [];
      return { status: 200, body: { items, totalCount: items.length } };
    }
    if (req.method === 'GET' && req.path === '/v1/decisions') {
      const ref = req.query.get('entityRef');
      const env = req.query.get('environment');
      const status = req.query.get('status');
      const all = (ref !== null ? this.decisions.get(ref) ?? [] : [...this.decisions.values()].flat()).filter(
        d => (!env || d.environment === env) && (!status || d.status === status),
      );
      // pages like the backend: default 20, at most 100, opaque cursor
      const limit = Math.min(Number(req.query.get('limit') ?? 20), 100);
      const offset = Number(req.query.get('cursor') ?? 0);
      const items = all.slice(offset, offset + limit);
      const body: { items: GateDecision[]; totalCount: number; nextCursor?: string } = {
        items,
        totalCount: all.length,
      };
      if (offset + items.length < all.length) body.nextCursor = String(offset + items.length);
      return { status: 200, body };
    }
    const oneDecision = req.path.match(/^\/v1\/decisions\/([^/]+)$/);
    if (req.method === 'GET' && oneDecision) {
      const found = this.findDecision(decodeURIComponent(oneDecision[1]));
      return found ? { status: 200, body: found } : FakeRuntimeRiskServer.error(404, 'NotFoundError', `no decision '${oneDecision[1]}'`);
    }
    const review = req.path.match(/^\/v1\/decisions\/([^/]+)\/(approve|reject)$/);
    if (req.method === 'POST' && review) {
      const found = this.findDecision(decodeURIComponent(review[1]));
      if (!found) return FakeRuntimeRiskServer.error(404, 'NotFoundError', `no decision '${review[1]}'`);
      if (found.status !== 'pending') {
        return FakeRuntimeRiskServer.error(409, 'ConflictError', `decision '${found.decisionId}' is ${found.status}; cannot ${review[2]} it`);
      }
      const approve = review[2] === 'approve';
      const comment = (req.body as { comment?: string } | undefined)?.comment;
      found.status = approve ? 'approved' : 'rejected';
      found.decision = approve ? 'proceed' : 'block';
      found.reasons = [
        ...found.reasons,
        {
          code: approve ? 'approval_granted' : 'approval_rejected',
          message: `${approve ? 'approved' : 'rejected'} by user:default/approver${comment ? `: ${comment}` : ''}`,
          signalIds: [],
        },
      ];
      found.approval = {
        ...(found.approval ?? { expiresAt: new Date(Date.now() + 3600_000).toISOString() }),
        decidedBy: 'user:default/approver',
        decidedAt: new Date().toISOString(),
        ...(comment !== undefined ? { comment } : {}),
      };
      return { status: 200, body: found };
    }
    if (req.method === 'GET' && req.path === '/v1/summary') {
      return { status: 200, body: this.summary(req.query) };
    }
    if (req.method === 'GET' && req.path === '/v1/policies') {
      return { status: 200, body: { items: this.policies.map(({ body: _b, ...p }) => p) } };
    }
    const policy = req.path.match(/^\/v1\/policies\/([^/]+)$/);
    if (req.method === 'GET' && policy) {
      const found = this.policies.find(p => p.hash === decodeURIComponent(policy[1]));
      return found ? { status: 200, body: found } : FakeRuntimeRiskServer.error(404, 'NotFoundError', `hash: no policy '${policy[1]}'`);
    }
    if (req.method === 'POST' && req.path === '/v1/policy/backtest') {
      return this.backtest ? { status: 200, body: this.backtest(req.body as Record<string, unknown>) } : FakeRuntimeRiskServer.error(404, 'NotFoundError', 'no backtest set');
    }
    if (req.method === 'GET' && req.path === '/v1/sources') {
      return { status: 200, body: { items: this.sources } };
    }
    if (req.method === 'GET' && req.path === '/v1/exceptions') {
      const ref = req.query.get('entityRef');
      const status = req.query.get('status');
      const items = this.exceptions.filter(
        e => (!ref || e.entityRef === ref) && (!status || e.status === status),
      );
      return { status: 200, body: { items, totalCount: items.length } };
    }
    const decide = req.path.match(/^\/v1\/exceptions\/([^/]+)\/(approve|reject|revoke)$/);
    if (req.method === 'POST' && decide) {
      const found = this.exceptions.find(e => e.id === decodeURIComponent(decide[1]));
      if (!found) return FakeRuntimeRiskServer.error(404, 'NotFoundError', `exception ${decide[1]} not found`);
      found.status = ({ approve: 'approved', reject: 'rejected', revoke: 'revoked' } as const)[
        decide[2] as 'approve' | 'reject' | 'revoke'
      ];
      found.decidedBy = 'user:default/approver';
      return { status: 200, body: found };
    }
    return FakeRuntimeRiskServer.error(404, 'NotFoundError', `no route for ${req.method} ${req.path}`);
  }
}
