import express from 'express';
import Router from 'express-promise-router';
import { createValidatedOpenApiRouter } from '@backstage/backend-openapi-utils';
import { z } from 'zod';
import { InputError, NotFoundError } from '@backstage/errors';
import type {
  AuditorService,
  BackstageCredentials,
  HttpAuthService,
  LoggerService,
} from '@backstage/backend-plugin-api';
import {
  DecisionStatusSchema,
  EntityRefSchema,
  GateRequestSchema,
  SignalStatusSchema,
  runtimeRiskAdminReadPermission,
  runtimeRiskDecisionReadPermission,
  runtimeRiskGateEvaluatePermission,
  type Signal,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { RiskService } from '../gate/RiskService';
import type { RegisteredSource } from '../ingest/sources';
import type { RuntimeRiskStore } from '../store/types';
import { decodeDecisionCursor } from '../store/DatabaseDecisionStore';
import {
  PayloadTooLargeError,
  maxBodyBytesOf,
  pushSourceOf,
  receiveHeartbeat,
  receivePush,
  type PushRequest,
} from '../ingest/pushReceiver';
import { candidateIdentifiers } from '../correlate/identifiers';
import { loadOpenApiSpec } from '../schema/openapi';
import { audited } from './audited';
import { Access } from './access';
import { parseInput } from './input';
import { addApprovalRoutes } from './approvalRoutes';
import { addAuditRoutes } from './auditRoutes';
import type { ApprovalService } from '../gate/ApprovalService';
import { askGate } from '../gate/askGate';
import { parseIdempotencyKey, type IdempotentGate } from '../gate/idempotency';
import type { RequesterResolver } from '../gate/requester';
import { addAnalysisRoute } from './analysisRoutes';
import { addCoverageRoutes } from './coverageRoutes';
import { addHistoryRoutes } from './historyRoutes';
import type { ScoreHistoryStore } from '../store/DatabaseScoreHistoryStore';
import { addPolicyRoutes, addYamlBacktestRoute } from './policyRoutes';
import { addSummaryRoute } from './summaryRoutes';
import { memoizeOpenApiRouteMatching } from './routeMatchCache';
import { addActivePolicyRoute } from './activePolicyRoute';
import { addGithubRoutes } from './githubRoutes';
import type { GithubDeploymentProtection } from '../gate/github/DeploymentProtection';
import {
  ExceptionDecisionSchema,
  ExceptionRequestSchema,
  principalRef,
  type ExceptionService,
} from '../gate/ExceptionService';

/** Path prefix of the HMAC-signed push route that is reachable without Backstage credentials. */
export const WEBHOOK_PATH_PREFIX = '/v1/signals/webhook';

/** Hard cap on a webhook body whatever the source allows; bigger bodies are refused (413) while being read. */
export const WEBHOOK_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Raw body parsers by limit (one per push source limit). */
const rawParsers = new Map<number, express.RequestHandler>();
/**
 * Reads a push body only up to the source's limit, before any other work (the
 * HMAC included): 404 for an unknown source without reading the body, 413 at
 * once when `Content-Length` says it is too large, else `express.raw` stops
 * reading at the limit (413 naming it).
 */
const rawWebhookBody =
  (sources: () => RegisteredSource[]): express.RequestHandler =>
  (req, res, next) => {
    let limit: number;
    try {
      limit = Math.min(maxBodyBytesOf(pushSourceOf(sources(), req.params.source)), WEBHOOK_MAX_BODY_BYTES);
    } catch (e) {
      next(e);
      return;
    }
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new PayloadTooLargeError(`body: more than the ${limit} bytes allowed by source '${req.params.source}'`);
    if (Number.isFinite(declared) && declared > limit) {
      // answered without reading the body; the connection is closed so the rest is never read
      res.setHeader('Connection', 'close');
      next(new PayloadTooLargeError(`body: ${declared} bytes is more than the ${limit} allowed by source '${req.params.source}'`));
      return;
    }
    let parse = rawParsers.get(limit);
    if (!parse) rawParsers.set(limit, (parse = express.raw({ type: () => true, limit })));
    parse(req, res, (err?: unknown) => next((err as { type?: unknown } | undefined)?.type === 'entity.too.large' ? tooLarge() : err));
  };

/**
 * A signed push route (a delivery or a heartbeat of a push source): the raw body
 * within the source's limit (`rawWebhookBody`), handed with the headers to
 * `receive`, which verifies the signature and claims the delivery (ingest/pushReceiver);
 * 202 with what it answers.
 */
function addSignedPushRoute(
  router: express.Router,
  path: string,
  receive: (request: PushRequest) => Promise<object>,
  options: Pick<RouterOptions, 'sources' | 'store' | 'logger' | 'clock'>,
): void {
  router.post(path, rawWebhookBody(options.sources), async (req, res) => {
    const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result = await receive({
      sourceId: req.params.source,
      sources: options.sources(),
      rawBody,
      headers: req.headers,
      store: options.store,
      logger: options.logger,
      clock: options.clock,
    });
    res.status(202).json(result);
  });
}

export interface RouterOptions {
  httpAuth: HttpAuthService;
  auditor: AuditorService;
  logger: LoggerService;
  store: RuntimeRiskStore;
  risk: RiskService;
  exceptions: ExceptionService;
  sources: () => RegisteredSource[];
  clock?: () => Date;
  /** Approval, rejection and override of decisions (gate/ApprovalService). */
  approvals?: ApprovalService;
  /** Plugin permissions and entity visibility (see `Access`); absent only where routes are listed but never called. */
  access?: Access;
  /** Score snapshots for `GET /v1/entities/.../risk/history` (written by gate/ScoreHistory). */
  history?: ScoreHistoryStore;
  /** The GitHub deployment protection rule (`runtimeRisk.integrations.github`); absent: its webhook answers 404. */
  github?: GithubDeploymentProtection;
  /** Idempotency keys of `POST /v1/gate` (gate/idempotency). */
  idempotency?: IdempotentGate;
  /** Resolves a gate request's `requestedBy` to a User entity (gate/requester). */
  requesters?: RequesterResolver;
}

/** The 404 of an entity that is unknown, or that the caller may not read in the catalog (the same answer). */
export const unknownEntity = (entityRef: string) => new NotFoundError(`entityRef: no entity '${entityRef}' in the catalog`);

/** A single query value: repeated parameters and nested objects are rejected. */
const queryString = z.string({ error: 'must be given once, as a string' });

const limitSchema = (max: number, def: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: `must be an integer from 1 to ${max}` })
    .pipe(z.number().int().min(1, { message: `must be from 1 to ${max}` }).max(max, { message: `must be from 1 to ${max}` }))
    .optional()
    .transform(v => v ?? def);

const DecisionsQuerySchema = z
  .object({
    entityRef: EntityRefSchema.optional(),
    environment: queryString.min(1).optional(),
    status: DecisionStatusSchema.optional(),
    limit: limitSchema(100, 20),
    cursor: queryString.min(1).optional(),
  })
  .strict();

const SignalsQuerySchema = z
  .object({
    entityRef: EntityRefSchema.optional(),
    environment: queryString.min(1).optional(),
    status: SignalStatusSchema.optional(),
    limit: limitSchema(500, 50),
    cursor: queryString.min(1).optional(),
  })
  .strict();

const ExceptionsQuerySchema = z
  .object({
    entityRef: EntityRefSchema.optional(),
    environment: queryString.min(1).optional(),
    status: z.enum(['pending', 'approved', 'rejected', 'revoked', 'expired']).optional(),
    limit: limitSchema(100, 20),
    cursor: queryString.min(1).optional(),
  })
  .strict();

const RiskQuerySchema = z.object({ environment: queryString.min(1).optional() }).strict();

function encodeOffset(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64url');
}
function decodeOffset(cursor: string): number {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const offset = (parsed as { offset?: unknown })?.offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch (e) {
    throw new InputError(`cursor: not a cursor returned by this API (${(e as Error).message})`);
  }
  throw new InputError('cursor: not a cursor returned by this API');
}

/** The HTTP API of the runtime-risk backend (see `src/schema/openapi.yaml`). */
export async function createRouter(options: RouterOptions): Promise<express.Router> {
  const { httpAuth, auditor, logger, store, risk, exceptions } = options;
  const router = Router();
  const access = () => {
    if (!options.access) throw new Error('runtime-risk: access checks are not set up');
    return options.access;
  };
  /** 404 (as for an unknown entity) unless the caller may read `entityRef` in the catalog. */
  const assertReadable = async (credentials: BackstageCredentials, entityRef: string) => {
    if (!(await access().canRead(credentials, entityRef))) throw unknownEntity(entityRef);
  };
  /** The entities of `all` the caller may not read, in one batched check. */
  const hiddenOf = async (credentials: BackstageCredentials, all: string[]) => {
    const readable = await access().readable(credentials, all);
    return all.filter(ref => !readable.has(ref));
  };
  /** The decision `id` if the caller may read its entity; 404 like an unknown decision otherwise. */
  const readableDecision = async (credentials: BackstageCredentials, id: string) => {
    const record = await store.getDecision(id);
    if (!record || !(await access().canRead(credentials, record.entityRef))) throw new NotFoundError(`no decision '${id}'`);
    return record;
  };
  /** The exception `id` if the caller may read its entity; 404 like an unknown exception otherwise. */
  const readableException = async (credentials: BackstageCredentials, id: string) => {
    const record = await exceptions.get(id);
    if (!(await access().canRead(credentials, record.entityRef))) throw new NotFoundError(`no exception '${id}'`);
    return record;
  };

  const requireCredentials = (req: express.Request) => httpAuth.credentials(req, { allow: ['user', 'service'] });

  // Push sources. Registered before the JSON body parser: the HMAC is computed over
  // the raw bytes. Vendors cannot hold Backstage tokens, so this one path is reachable
  // without credentials (see the auth policy in plugin.ts); the source's `verify`
  // (HMAC over the raw body) is its authentication.
  addSignedPushRoute(router, `${WEBHOOK_PATH_PREFIX}/:source/heartbeat`, receiveHeartbeat, options);
  addSignedPushRoute(router, `${WEBHOOK_PATH_PREFIX}/:source`, receivePush, options);

  // GitHub App webhook: raw body, authenticated by X-Hub-Signature-256 (auth policy in plugin.ts)
  addGithubRoutes(router, { github: options.github, logger });

  // Every other route: JSON body, requests validated against src/schema/openapi.yaml,
  // then by zod (which names the field, resolves entity refs and defaults).
  // The spec is read at run time (no generated types), so handlers type their input through zod.
  memoizeOpenApiRouteMatching(); // the validator recompiles every route pattern per request otherwise
  const api = createValidatedOpenApiRouter(loadOpenApiSpec() as unknown as Parameters<typeof createValidatedOpenApiRouter>[0], {
    middleware: [express.json({ limit: '1mb' })],
  }) as unknown as express.Router;
  // policy history and backtest (issue 17 parts 3-4); the YAML-bodied backtest before the JSON-only validated router
  const policyRoutes = { httpAuth, store, risk, access, clock: options.clock };
  addYamlBacktestRoute(router, policyRoutes);
  router.use(api);
  addPolicyRoutes(api, policyRoutes);
  addSummaryRoute(api, policyRoutes);
  addActivePolicyRoute(api, { httpAuth, risk, access });

  api.post('/v1/gate', async (req, res) => {
    const credentials = await requireCredentials(req);
    const request = parseInput(GateRequestSchema, req.body ?? {}, 'body');
    const idempotencyKey = parseIdempotencyKey(req.headers['idempotency-key']);
    const { answer, replayed } = await audited(
      auditor,
      {
        eventId: 'gate-decision',
        severityLevel: 'medium',
        request: req,
        meta: { entityRef: request.entityRef, environment: request.environment, dryRun: request.dryRun },
      },
      async () => {
        await access().require(credentials, runtimeRiskGateEvaluatePermission);
        await assertReadable(credentials, request.entityRef);
        return askGate({ risk, idempotency: options.idempotency, requesters: options.requesters }, credentials, request, idempotencyKey);
      },
      ({ answer: decided, replayed: again }) => ({
        decisionId: decided.decisionId,
        decision: decided.decision,
        riskLevel: decided.riskLevel,
        score: decided.score,
        policyId: decided.policy.id,
        policyHash: decided.policy.hash,
        ...(decided.wouldHaveBeen ? { wouldHaveBeen: decided.wouldHaveBeen } : {}),
        ...(decided.requester ? { requester: decided.requester.entityRef ?? `unresolved ${decided.requester.provider}:${decided.requester.login}` } : {}),
        ...(again ? { idempotentReplay: true } : {}),
      }),
    );
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(200).json(answer);
  });

  api.get('/v1/decisions', async (req, res) => {
    const credentials = await requireCredentials(req);
    const query = parseInput(DecisionsQuerySchema, req.query, 'query');
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    if (query.cursor !== undefined && decodeDecisionCursor(query.cursor) === undefined) {
      throw new InputError('cursor: not a cursor returned by this API');
    }
    await access().require(credentials, runtimeRiskDecisionReadPermission);
    if (query.entityRef !== undefined && !(await access().canRead(credentials, query.entityRef))) {
      res.json({ items: [], totalCount: 0 });
      return;
    }
    // `pending`: awaiting approval, i.e. not past the environment's approvalTtl (see DecisionStatusFilter)
    const byStatus = query.status !== undefined ? { status: query.status, pendingSince: risk.pendingSince() } : {};
    const excludeEntityRefs =
      query.entityRef === undefined
        ? await hiddenOf(credentials, await store.listDecisionEntityRefs({ environment: query.environment, ...byStatus }))
        : undefined;
    const page = await store.listDecisions({ ...query, ...byStatus, excludeEntityRefs });
    const body: { items: unknown[]; totalCount: number; nextCursor?: string } = {
      items: page.items.map(r => risk.present(r)),
      totalCount: page.totalCount,
    };
    if (page.nextCursor) body.nextCursor = page.nextCursor;
    res.json(body);
  });

  api.get('/v1/decisions/:id', async (req, res) => {
    const credentials = await requireCredentials(req);
    await access().require(credentials, runtimeRiskDecisionReadPermission);
    res.json(risk.present(await readableDecision(credentials, req.params.id), { detail: true }));
  });

  api.post('/v1/decisions/:id/replay', async (req, res) => {
    const credentials = await requireCredentials(req);
    await access().require(credentials, runtimeRiskDecisionReadPermission);
    await readableDecision(credentials, req.params.id);
    res.json(await risk.replay(req.params.id));
  });

  api.get('/v1/entities/:kind/:namespace/:name/risk', async (req, res) => {
    const credentials = await requireCredentials(req);
    const query = parseInput(RiskQuerySchema, req.query, 'query');
    const entityRef = parseInput(EntityRefSchema, `${req.params.kind}:${req.params.namespace}/${req.params.name}`, 'entityRef');
    await assertReadable(credentials, entityRef);
    const items = await risk.risk(entityRef, query.environment);
    res.json(query.environment !== undefined ? items[0] : { items });
  });
  addAnalysisRoute(api, { risk, httpAuth, assertReadable });
  addHistoryRoutes(api, { risk, httpAuth, history: options.history, assertReadable, clock: options.clock });

  api.get('/v1/signals', async (req, res) => {
    const credentials = await requireCredentials(req);
    const query = parseInput(SignalsQuerySchema, req.query, 'query');
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    const offset = query.cursor !== undefined ? decodeOffset(query.cursor) : 0;
    let identifierValues: string[] | undefined;
    // Signals carry vendors' raw records, hostnames and IPs: narrowed to an entity
    // they follow its visibility; unnarrowed they span every entity (admin).
    if (query.entityRef === undefined) await access().require(credentials, runtimeRiskAdminReadPermission);
    if (query.entityRef !== undefined) {
      await assertReadable(credentials, query.entityRef);
      const entity = await risk.resolveEntity(query.entityRef);
      const { hosts } = await risk.correlate(entity, query.environment);
      identifierValues = hosts.flatMap(h => candidateIdentifiers(h.id).map(c => c.value));
    }
    const page = await store.listSignals({ identifierValues, status: query.status, limit: query.limit, offset });
    const body: { items: Signal[]; totalCount: number; nextCursor?: string } = {
      items: page.items,
      totalCount: page.totalCount,
    };
    if (offset + page.items.length < page.totalCount) body.nextCursor = encodeOffset(offset + page.items.length);
    res.json(body);
  });

  api.get('/v1/sources', async (req, res) => {
    const credentials = await requireCredentials(req);
    await access().require(credentials, runtimeRiskAdminReadPermission);
    res.json({ items: await risk.listSources() });
  });

  api.post('/v1/exceptions', async (req, res) => {
    const credentials = await requireCredentials(req);
    const body = parseInput(ExceptionRequestSchema, req.body ?? {}, 'body');
    const created = await audited(
      auditor,
      {
        eventId: 'exception-request',
        severityLevel: 'medium',
        request: req,
        meta: { entityRef: body.entityRef, environment: body.environment, expiresAt: body.expiresAt },
      },
      async () => {
        access().requireFramework('request exceptions');
        await assertReadable(credentials, body.entityRef);
        return exceptions.request(body, credentials);
      },
      record => ({ exceptionId: record.id, requestedBy: record.requestedBy }),
    );
    res.status(201).json(created);
  });

  api.get('/v1/exceptions', async (req, res) => {
    const credentials = await requireCredentials(req);
    const query = parseInput(ExceptionsQuerySchema, req.query, 'query');
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    const offset = query.cursor !== undefined ? decodeOffset(query.cursor) : 0;
    if (query.entityRef !== undefined && !(await access().canRead(credentials, query.entityRef))) {
      res.json({ items: [], totalCount: 0 });
      return;
    }
    const excludeEntityRefs =
      query.entityRef === undefined
        ? await hiddenOf(credentials, await store.listExceptionEntityRefs({ environment: query.environment, status: query.status }))
        : undefined;
    const page = await store.listExceptions({
      entityRef: query.entityRef,
      environment: query.environment,
      status: query.status,
      limit: query.limit,
      offset,
      excludeEntityRefs,
    });
    const body: { items: unknown[]; totalCount: number; nextCursor?: string } = {
      items: page.items.map(e => exceptions.withExpiry(e)),
      totalCount: page.totalCount,
    };
    if (offset + page.items.length < page.totalCount) body.nextCursor = encodeOffset(offset + page.items.length);
    res.json(body);
  });

  api.get('/v1/exceptions/:id', async (req, res) => {
    const credentials = await requireCredentials(req);
    res.json(await readableException(credentials, req.params.id));
  });

  for (const action of ['approve', 'reject', 'revoke'] as const) {
    api.post(`/v1/exceptions/:id/${action}`, async (req, res) => {
      const credentials = await requireCredentials(req);
      const body = parseInput(ExceptionDecisionSchema, req.body ?? {}, 'body');
      const updated = await audited(
        auditor,
        {
          eventId: `exception-${action}`,
          severityLevel: action === 'approve' ? 'high' : 'medium',
          request: req,
          meta: { exceptionId: req.params.id, actor: principalRef(credentials) },
        },
        async () => {
          access().requireFramework(`${action} exceptions`);
          await readableException(credentials, req.params.id);
          return exceptions.decide(req.params.id, action, credentials, body.comment);
        },
        record => ({ status: record.status, entityRef: record.entityRef, environment: record.environment }),
      );
      res.json(updated);
    });
  }

  addApprovalRoutes(api, {
    httpAuth,
    auditor,
    approvals: options.approvals,
    guard: async (credentials, id, action) => {
      access().requireFramework(`${action} decisions`);
      await readableDecision(credentials, id);
    },
  });
  const requireAdmin = (credentials: BackstageCredentials) => access().require(credentials, runtimeRiskAdminReadPermission);
  addAuditRoutes(api, { httpAuth, auditor, store, requireAdmin });

  addCoverageRoutes(api, { httpAuth, store, risk, requireAdmin });

  return router;
}
