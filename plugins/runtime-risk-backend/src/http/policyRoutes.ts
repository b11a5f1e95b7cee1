import express from 'express';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { InputError, NotFoundError } from '@backstage/errors';
import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import { EntityRefSchema, runtimeRiskPolicyReadPermission } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { compilePolicy, type CompiledPolicy } from '../engine';
import { backtest } from '../gate/BacktestService';
import type { RiskService } from '../gate/RiskService';
import type { RuntimeRiskStore } from '../store/types';
import type { Access } from './access';
import { parseInput } from './input';

/** Content types under which `POST /v1/policy/backtest` takes the policy as YAML text (the rest in the query). */
export const YAML_CONTENT_TYPES = ['text/yaml', 'application/yaml', 'application/x-yaml', 'text/x-yaml'];

const BacktestBodySchema = z
  .object({
    policy: z.record(z.string(), z.unknown(), { error: 'must be an object (the runtimeRisk.policy value)' }).optional(),
    policyYaml: z.string({ error: 'must be a string (YAML text)' }).max(200_000).optional(),
    since: z.string({ error: 'required: an ISO 8601 date-time or a duration such as 7d' }).min(1, { message: 'must not be empty' }),
    until: z.string({ error: 'must be a string' }).min(1, { message: 'must not be empty' }).optional(),
    environment: z.string({ error: 'must be a string' }).min(1, { message: 'must not be empty' }).optional(),
    entityRef: EntityRefSchema.optional(),
    limit: z
      .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: 'must be an integer from 1 to 500' })
      .pipe(z.number().int().min(1, { message: 'must be from 1 to 500' }).max(500, { message: 'must be from 1 to 500' }))
      .optional(),
    cursor: z.string({ error: 'must be a string' }).min(1).optional(),
  })
  .strict();

const DURATION = /^(\d+)\s*(m|min|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** An ISO 8601 date-time, or a duration (`7d`, `12h`, `30m`, `2w`) before `base`; 400 naming `field` otherwise. */
export function windowTime(value: string, field: string, base: number): number {
  const d = DURATION.exec(value.trim());
  if (d) return base - Number(d[1]) * UNIT_MS[d[2]];
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw new InputError(`${field}: '${value}' is neither an ISO 8601 date-time nor a duration such as 7d, 12h or 30m`);
  return t;
}

/** The proposed policy of a backtest (object or YAML text), compiled; 400 naming the field at fault. */
export function proposedPolicy(body: { policy?: Record<string, unknown>; policyYaml?: string }): CompiledPolicy {
  if ((body.policy === undefined) === (body.policyYaml === undefined)) {
    throw new InputError('policy: give the proposed policy as either `policy` (an object) or `policyYaml` (YAML text)');
  }
  let value: unknown = body.policy;
  let field = 'policy';
  if (body.policyYaml !== undefined) {
    field = 'policyYaml';
    try {
      value = parseYaml(body.policyYaml, { prettyErrors: true });
    } catch (e) {
      throw new InputError(`policyYaml: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InputError('policyYaml: must be a YAML mapping (the runtimeRisk.policy value)');
    }
  }
  // an app-config excerpt: the policy under runtimeRisk.policy
  const wrapped = (value as { runtimeRisk?: { policy?: unknown } }).runtimeRisk?.policy;
  const prefix = wrapped !== undefined ? `${field}.runtimeRisk.policy` : field;
  try {
    return compilePolicy(wrapped ?? value, prefix);
  } catch (e) {
    throw new InputError((e as Error).message.replace(/Invalid config at /g, ''));
  }
}

function encodeOffset(offset: number): string {
  return Buffer.from(JSON.stringify({ changed: offset }), 'utf8').toString('base64url');
}
function decodeOffset(cursor: string): number {
  try {
    const v = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { changed?: unknown }).changed;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  } catch {
    // reported below
  }
  throw new InputError('cursor: not a cursor returned by this API');
}

export interface PolicyRouteOptions {
  httpAuth: HttpAuthService;
  store: Pick<RuntimeRiskStore, 'listPolicies' | 'getPolicy' | 'scanDecisions' | 'getDecisionReasons'>;
  risk: RiskService;
  /** Plugin permissions (`runtime-risk.policy.read`) and entity visibility (batched). */
  access: () => Access;
  clock?: () => Date;
}

/**
 * `GET /v1/policies`, `GET /v1/policies/:hash` (the policy history) and
 * `POST /v1/policy/backtest` on the OpenAPI-validated router; the YAML form of
 * the backtest (`Content-Type: text/yaml`) goes through {@link addYamlBacktestRoute}.
 */
export function addPolicyRoutes(router: express.Router, options: PolicyRouteOptions): void {
  const { httpAuth, store, risk } = options;
  const requirePolicyRead = (credentials: BackstageCredentials) => options.access().require(credentials, runtimeRiskPolicyReadPermission);
  const credentialsOf = (req: express.Request) => httpAuth.credentials(req, { allow: ['user', 'service'] });

  router.get('/v1/policies', async (req, res) => {
    await requirePolicyRead(await credentialsOf(req));
    const items = await store.listPolicies();
    res.json({ items: items.map(p => ({ ...p, active: p.hash === risk.policy.hash })) });
  });

  router.get('/v1/policies/:hash', async (req, res) => {
    await requirePolicyRead(await credentialsOf(req));
    const policy = await store.getPolicy(req.params.hash);
    if (!policy) throw new NotFoundError(`hash: no policy '${req.params.hash}' in the policy history`);
    res.json({ ...policy, active: policy.hash === risk.policy.hash });
  });

  router.post('/v1/policy/backtest', async (req, res) => {
    res.json(await runBacktest(await credentialsOf(req), req.body ?? {}, options));
  });
}

async function runBacktest(credentials: BackstageCredentials, input: unknown, options: PolicyRouteOptions) {
  const body = parseInput(BacktestBodySchema, input, 'body');
  const policy = proposedPolicy(body);
  const now = (options.clock?.() ?? new Date()).getTime();
  const until = body.until !== undefined ? windowTime(body.until, 'until', now) : now;
  const since = windowTime(body.since, 'since', until);
  if (!(since < until)) throw new InputError(`since: must be before until (${new Date(until).toISOString()})`);
  const offset = body.cursor !== undefined ? decodeOffset(body.cursor) : 0;
  const limit = body.limit ?? 50;
  await options.access().require(credentials, runtimeRiskPolicyReadPermission);
  const result = await backtest(options.store, {
    policy,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    environment: body.environment,
    entityRef: body.entityRef,
    offset,
    limit,
    readable: refs => options.access().readable(credentials, refs),
  });
  if (offset + result.changedDecisions.items.length < result.changedDecisions.totalCount) {
    result.changedDecisions.nextCursor = encodeOffset(offset + result.changedDecisions.items.length);
  }
  return result;
}

const yamlBody = express.text({ type: YAML_CONTENT_TYPES, limit: '1mb' });

/**
 * `POST /v1/policy/backtest` with the policy as the body (`Content-Type:
 * text/yaml`), the window and filters in the query. Registered on the outer
 * router, before the OpenAPI-validated one (which takes JSON bodies only);
 * other content types pass through to it.
 */
export function addYamlBacktestRoute(router: express.Router, options: PolicyRouteOptions): void {
  // a middleware, not a second route: the OpenAPI document lists the route once (the JSON one)
  router.use('/v1/policy/backtest', (req, res, next) => {
    if (req.method !== 'POST' || req.path !== '/' || !req.is(YAML_CONTENT_TYPES)) {
      next();
      return;
    }
    yamlBody(req, res, err => {
      if (err) {
        next(err);
        return;
      }
      const query: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
      if (query.policy !== undefined || query.policyYaml !== undefined) {
        next(new InputError('policy: with a YAML body the policy is the body; give the other fields as query parameters'));
        return;
      }
      options.httpAuth
        .credentials(req, { allow: ['user', 'service'] })
        .then(credentials => runBacktest(credentials, { ...query, policyYaml: typeof req.body === 'string' ? req.body : '' }, options))
        .then(result => res.json(result), next);
    });
  });
}
