import type express from 'express';
import { z } from 'zod';
import type { HttpAuthService } from '@backstage/backend-plugin-api';
import { runtimeRiskDecisionReadPermission } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { RiskService } from '../gate/RiskService';
import { SummaryService } from '../gate/SummaryService';
import type { RuntimeRiskStore } from '../store/types';
import { principalKey, type Access } from './access';
import { parseInput } from './input';

const single = () => z.string({ error: 'must be given once, as a string' });
const intIn = (min: number, max: number) =>
  z
    .union([z.number(), single().regex(/^\d+$/).transform(Number)], { error: `must be an integer from ${min} to ${max}` })
    .pipe(z.number().int().min(min, { message: `must be from ${min} to ${max}` }).max(max, { message: `must be from ${min} to ${max}` }))
    .optional();

const SummaryQuerySchema = z
  .object({
    environment: single().min(1, { message: 'must not be empty' }).optional(),
    limit: intIn(1, 5000),
    days: intIn(1, 90),
  })
  .strict();

export interface SummaryRouteOptions {
  httpAuth: HttpAuthService;
  store: RuntimeRiskStore;
  risk: RiskService;
  access: () => Access;
  clock?: () => Date;
}

/** `GET /v1/summary`: the org page in one call (see {@link SummaryService}), of the entities the caller may read. */
export function addSummaryRoute(router: express.Router, options: SummaryRouteOptions): void {
  const { httpAuth, risk } = options;
  const service = new SummaryService({ store: options.store, risk, clock: options.clock });
  const serialized = new WeakMap<object, string>();
  router.get('/v1/summary', async (req, res) => {
    const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
    const query = parseInput(SummaryQuerySchema, req.query, 'query');
    if (query.environment !== undefined) risk.assertEnvironment(query.environment);
    await options.access().require(credentials, runtimeRiskDecisionReadPermission);
    const summary = await service.summary({
      environment: query.environment,
      limit: query.limit ?? 100,
      days: query.days ?? 14,
      readable: refs => options.access().readable(credentials, refs),
      principal: principalKey(credentials),
    });
    // an answer shared by concurrent requests (see SummaryService) is serialized once
    let text = serialized.get(summary);
    if (text === undefined) serialized.set(summary, (text = JSON.stringify(summary)));
    res.type('application/json').send(text);
  });
}
