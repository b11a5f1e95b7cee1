import type express from 'express';
import { z } from 'zod';
import { InputError } from '@backstage/errors';
import type { HttpAuthService } from '@backstage/backend-plugin-api';
import type { RuntimeRiskStore } from '../store/types';
import type { RiskService } from '../gate/RiskService';
import { storedCoverage } from '../correlate/coverage';

const single = (field: string) => z.string({ error: `${field}: must be given once, as a string` });

/** Query of `GET /v1/coverage`. */
export const CoverageQuerySchema = z
  .object({
    environment: single('environment').min(1, { message: 'environment: must not be empty' }).optional(),
    kind: single('kind')
      .regex(/^[A-Za-z][A-Za-z0-9-]*(,[A-Za-z][A-Za-z0-9-]*)*$/, { message: 'kind: must be a comma list of entity kinds' })
      .optional(),
    limit: z
      .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: 'limit: must be an integer from 1 to 1000' })
      .pipe(z.number().int().min(1, { message: 'limit: must be from 1 to 1000' }).max(1000, { message: 'limit: must be from 1 to 1000' }))
      .optional(),
  })
  .strict();

function parseQuery(query: unknown): z.output<typeof CoverageQuerySchema> {
  const result = CoverageQuerySchema.safeParse(query);
  if (result.success) return result.data;
  throw new InputError(
    result.error.issues
      .map(i => {
        if (i.code === 'unrecognized_keys') return `${i.keys.join(', ')}: unknown query parameter(s)`;
        const field = i.path.map(String).join('.');
        return i.message.startsWith(`${field}:`) ? i.message : `${field || 'query'}: ${i.message}`;
      })
      .join('; '),
  );
}

export interface CoverageRouteOptions {
  httpAuth: HttpAuthService;
  store: RuntimeRiskStore;
  risk: RiskService;
}

/**
 * Adds `GET /v1/coverage` to a router: entities with no hosts, active signals
 * matching no entity, hosts reached by more than one rule and counts per
 * environment. Reads the stored index and signals only (never the catalog).
 */
export function addCoverageRoutes(router: express.Router, options: CoverageRouteOptions): void {
  const { httpAuth, store, risk } = options;
  router.get('/v1/coverage', async (req, res) => {
    await httpAuth.credentials(req, { allow: ['user', 'service'] });
    const query = parseQuery(req.query);
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    const environments = query.environment !== undefined ? [query.environment] : Object.keys(risk.policy.environments).sort();
    const kinds = (query.kind ?? 'component').toLowerCase().split(',');
    res.json(await storedCoverage(store, { environments, kinds, limit: query.limit ?? 100 }));
  });
}
