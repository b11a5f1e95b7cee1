import type express from 'express';
import { z } from 'zod';
import { InputError } from '@backstage/errors';
import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import { EntityRefSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { toAnalysisResult } from '../gate/analysis';
import type { RiskService } from '../gate/RiskService';
import { parseInput } from './input';

/** Path of the read-only analysis route (relative to the plugin's base, `/api/runtime-risk`). */
export const ANALYSIS_PATH = '/v1/analysis';

/** One query value, given once as a string; says "is required" when absent. */
const queryValue = () =>
  z.string({
    error: issue => (issue.input === undefined ? 'is required' : 'must be given once, as a string'),
  });

const AnalysisQuerySchema = z
  .object({
    entityRef: queryValue().pipe(EntityRefSchema),
    environment: queryValue().min(1, { message: 'must not be empty' }),
  })
  .strict();

export interface AnalysisRouteOptions {
  risk: RiskService;
  httpAuth: HttpAuthService;
  /** Answers 404, as for an unknown entity, when the caller may not read the entity in the catalog. */
  assertReadable: (credentials: BackstageCredentials, entityRef: string) => Promise<void>;
}

/**
 * Adds `GET /v1/analysis?entityRef=&environment=` to `router`: the gate's evaluation
 * for Argo Rollouts' Web metric provider (and feature-flag providers). It answers 200
 * with `phase` Successful (proceed), Failed (block) or Inconclusive (approval_required)
 * so that the caller reads the JSON; 400 names a bad field, 404 an unknown entity,
 * 401 without Backstage credentials. Read-only: it evaluates from the stored index and
 * signals like `GET /v1/entities/.../risk`, records no decision and calls no EDR API.
 */
export function addAnalysisRoute(router: express.Router, options: AnalysisRouteOptions): express.Router {
  const { risk, httpAuth, assertReadable } = options;
  router.get(ANALYSIS_PATH, async (req, res) => {
    const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
    const query = parseInput(AnalysisQuerySchema, req.query ?? {}, 'query');
    await assertReadable(credentials, query.entityRef);
    const [current] = await risk.risk(query.entityRef, query.environment);
    if (!current) throw new InputError(`environment: no evaluation for '${query.environment}'`);
    res.status(200).json(toAnalysisResult(current));
  });
  return router;
}
