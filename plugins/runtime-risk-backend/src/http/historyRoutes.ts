import type express from 'express';
import { z } from 'zod';
import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import { EntityRefSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { RiskService } from '../gate/RiskService';
import type { ScoreHistoryStore } from '../store/DatabaseScoreHistoryStore';
import { parseInput } from './input';

/** Most days `GET .../risk/history` looks back. */
export const MAX_HISTORY_DAYS = 90;
const DAY_MS = 24 * 3600 * 1000;

const HistoryQuerySchema = z
  .object({
    environment: z.string({ error: 'must be given once, as a string' }).min(1).optional(),
    days: z
      .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: `must be an integer from 1 to ${MAX_HISTORY_DAYS}` })
      .pipe(z.number().int().min(1, { message: `must be from 1 to ${MAX_HISTORY_DAYS}` }).max(MAX_HISTORY_DAYS, { message: `must be from 1 to ${MAX_HISTORY_DAYS}` }))
      .optional()
      .transform(v => v ?? 7),
  })
  .strict();

export interface HistoryRouteOptions {
  risk: RiskService;
  httpAuth: HttpAuthService;
  /** Absent where the plugin is wired without score history: the route answers no snapshots. */
  history?: ScoreHistoryStore;
  /** Answers 404, as for an unknown entity, when the caller may not read the entity in the catalog. */
  assertReadable: (credentials: BackstageCredentials, entityRef: string) => Promise<void>;
  clock?: () => Date;
}

/**
 * `GET /v1/entities/{kind}/{namespace}/{name}/risk/history?environment=&days=7`:
 * the entity's score snapshots (issue 19 part 5), oldest first, for the "Risk
 * over time" chart in one request. Visibility like every entity read (404 for
 * an entity the caller may not read, as for an unknown one).
 */
export function addHistoryRoutes(router: express.Router, options: HistoryRouteOptions): express.Router {
  const { risk, httpAuth, assertReadable } = options;
  router.get('/v1/entities/:kind/:namespace/:name/risk/history', async (req, res) => {
    const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
    const query = parseInput(HistoryQuerySchema, req.query ?? {}, 'query');
    const entityRef = parseInput(EntityRefSchema, `${req.params.kind}:${req.params.namespace}/${req.params.name}`, 'entityRef');
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    await assertReadable(credentials, entityRef);
    // 404 for an entity neither indexed nor in the catalog, as the risk route answers
    const entity = await risk.resolveEntity(entityRef);
    const since = new Date((options.clock?.() ?? new Date()).getTime() - query.days * DAY_MS).toISOString();
    const items = options.history
      ? await options.history.listSnapshots({ entityRef: entity.entityRef, environment: query.environment, since })
      : [];
    res.json({
      entityRef: entity.entityRef,
      since,
      items: items.map(({ environment, at, score, riskLevel, decision }) => ({ environment, at, score, riskLevel, decision })),
    });
  });
  return router;
}
