import type { IncomingMessage } from 'node:http';
import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import { InputError, NotFoundError } from '@backstage/errors';
import { GateDecision, GateRequestSchema, ParsedGateRequest } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { scenarioDecision, type GateScenario } from '@internal/runtime-risk-test-harness';

export type StandInScenario = GateScenario;

/** Shared state of the stand-in gate: scenarios in, recorded calls and decisions out. */
export class StandInGateState {
  readonly scenarios = new Map<string, StandInScenario>();
  readonly decisions = new Map<string, GateDecision>();
  readonly calls: { method: string; path: string; principal: string; body?: ParsedGateRequest; idempotencyKey?: string }[] = [];
  /** Idempotency keys seen by the gate route -> the body and decision of their first call (as the real gate). */
  readonly keys = new Map<string, { body: string; decisionId: string }>();
  /** Record the next N gate decisions, then answer 503 (the answer is lost to the caller). */
  failAfterRecord = 0;
  /** Called on each GET of a decision (approvals happen here); returns the number of polls so far. */
  onPoll: ((decision: GateDecision, polls: number) => void) | undefined;
  polls = 0;
  failNextPolls = 0;

  reset() {
    this.scenarios.clear();
    this.decisions.clear();
    this.calls.length = 0;
    this.onPoll = undefined;
    this.polls = 0;
    this.failNextPolls = 0;
    this.keys.clear();
    this.failAfterRecord = 0;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`body is not JSON: ${(e as Error).message}`);
  }
}

/**
 * A stand-in `runtime-risk` backend plugin serving the documented gate API
 * (`POST /v1/gate`, `GET /v1/decisions/:id`) inside a test backend: real
 * httpRouter, real httpAuth (401 without credentials), the default error
 * handler (InputError -> 400, NotFoundError -> 404), answers validated with the
 * shared GateDecisionSchema. The scenario per entity is set by the test.
 */
export function createStandInGatePlugin(state: StandInGateState) {
  return createBackendPlugin({
    pluginId: 'runtime-risk',
    register(env) {
      env.registerInit({
        deps: { http: coreServices.httpRouter, httpAuth: coreServices.httpAuth },
        async init({ http, httpAuth }) {
          http.use((req, res, next) => {
            const handle = async () => {
              const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
              const principal =
                credentials.principal.type === 'user'
                  ? credentials.principal.userEntityRef
                  : credentials.principal.type === 'service'
                    ? credentials.principal.subject
                    : 'none';
              if (req.method === 'POST' && req.path === '/v1/gate') {
                const parsed = GateRequestSchema.safeParse(await readJson(req));
                if (!parsed.success) {
                  const issue = parsed.error.issues[0];
                  throw new InputError(`${issue.path.join('.') || 'body'}: ${issue.message}`);
                }
                const request = parsed.data;
                const idempotencyKey = req.header('idempotency-key');
                state.calls.push({ method: 'POST', path: req.path, principal, body: request, idempotencyKey });
                const seen = idempotencyKey ? state.keys.get(idempotencyKey) : undefined;
                if (seen) {
                  if (seen.body !== JSON.stringify(request)) {
                    res.status(422).json({ error: { name: 'Error', message: `Idempotency-Key: '${idempotencyKey}' was used with a different request body` } });
                    return;
                  }
                  res.status(200).json(state.decisions.get(seen.decisionId));
                  return;
                }
                const scenario = state.scenarios.get(request.entityRef);
                if (!scenario) throw new NotFoundError(`entity '${request.entityRef}' not found in the catalog`);
                const decision = scenarioDecision(request, scenario);
                state.decisions.set(decision.decisionId, decision);
                if (idempotencyKey) state.keys.set(idempotencyKey, { body: JSON.stringify(request), decisionId: decision.decisionId });
                if (state.failAfterRecord > 0) {
                  state.failAfterRecord--;
                  res.status(503).json({ error: { name: 'ServiceUnavailableError', message: 'restarting' } });
                  return;
                }
                res.status(200).json(decision);
                return;
              }
              const match = /^\/v1\/decisions\/([^/]+)$/.exec(req.path);
              if (req.method === 'GET' && match) {
                state.calls.push({ method: 'GET', path: req.path, principal });
                const id = decodeURIComponent(match[1]);
                const decision = state.decisions.get(id);
                if (!decision) throw new NotFoundError(`no decision ${id}`);
                state.polls++;
                if (state.failNextPolls > 0) {
                  state.failNextPolls--;
                  res.status(503).json({ error: { name: 'ServiceUnavailableError', message: 'restarting' } });
                  return;
                }
                state.onPoll?.(decision, state.polls);
                res.status(200).json(state.decisions.get(id));
                return;
              }
              throw new NotFoundError(`no route ${req.method} ${req.path}`);
            };
            handle().catch(next);
          });
        },
      });
    },
  });
}
