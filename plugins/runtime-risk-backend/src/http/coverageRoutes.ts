import type express from 'express';
import { z } from 'zod';
import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import type { RuntimeRiskStore } from '../store/types';
import type { RiskService } from '../gate/RiskService';
import { storedCoverage } from '../correlate/coverage';
import { parseInput } from './input';

const single = () => z.string({ error: 'must be given once, as a string' });

/** Query of `GET /v1/coverage`. */
export const CoverageQuerySchema = z
  .object({
    environment: single().min(1, { message: 'must not be empty' }).optional(),
    kind: single()
      .regex(/^[A-Za-z][A-Za-z0-9-]*(,[A-Za-z][A-Za-z0-9-]*)*$/, { message: 'must be a comma list of entity kinds' })
      .optional(),
    limit: z
      .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: 'must be an integer from 1 to 1000' })
      .pipe(z.number().int().min(1, { message: 'must be from 1 to 1000' }).max(1000, { message: 'must be from 1 to 1000' }))
      .optional(),
  })
  .strict();

export interface CoverageRouteOptions {
  httpAuth: HttpAuthService;
  store: Pick<RuntimeRiskStore, 'listEntityIndex' | 'listSignals'>;
  risk: RiskService;
  /** 403 unless the caller holds `runtime-risk.admin.read`. */
  requireAdmin: (credentials: BackstageCredentials) => Promise<void>;
}

/**
 * Adds `GET /v1/coverage` to a router: entities with no hosts, active signals
 * matching no entity, hosts reached by more than one rule and counts per
 * environment. Reads the stored index and signals only (never the catalog).
 */
export function addCoverageRoutes(router: express.Router, options: CoverageRouteOptions): void {
  const { httpAuth, store, risk, requireAdmin } = options;
  router.get('/v1/coverage', async (req, res) => {
    await requireAdmin(await httpAuth.credentials(req, { allow: ['user', 'service'] }));
    const query = parseInput(CoverageQuerySchema, req.query, 'query');
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    const environments = query.environment !== undefined ? [query.environment] : Object.keys(risk.policy.environments).sort();
    const kinds = (query.kind ?? 'component').toLowerCase().split(',');
    res.json(await storedCoverage(store, { environments, kinds, limit: query.limit ?? 100 }));
  });
}
