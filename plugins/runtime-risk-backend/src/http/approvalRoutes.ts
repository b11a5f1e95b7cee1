import type express from 'express';
import { InputError } from '@backstage/errors';
import type { AuditorService, HttpAuthService } from '@backstage/backend-plugin-api';
import type { z } from 'zod';
import { principalRef } from '../gate/ExceptionService';
import { ApprovalService, DecisionApprovalSchema, DecisionOverrideSchema } from '../gate/ApprovalService';

export interface ApprovalRouteOptions {
  httpAuth: HttpAuthService;
  auditor: AuditorService;
  /** Absent only where routes are listed but never called (the OpenAPI test). */
  approvals?: ApprovalService;
}

function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw new InputError(
    result.error.issues
      .map(issue => {
        if (issue.code === 'unrecognized_keys') return `body.${issue.keys.join(', ')}: unknown field(s) in body`;
        return `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`;
      })
      .join('; '),
  );
}

/**
 * Adds to `router` (the OpenAPI-validated one):
 * `POST /v1/decisions/:id/approve|reject` {comment?}, `POST /v1/decisions/:id/override`
 * {decision, reason}. Each change goes to the Backstage auditor here and to the
 * hash-chained decision log in the store's transaction.
 */
export function addApprovalRoutes(router: express.Router, options: ApprovalRouteOptions): express.Router {
  const { httpAuth, auditor } = options;
  const service = () => {
    if (!options.approvals) throw new Error('runtime-risk: approvals are not set up');
    return options.approvals;
  };

  for (const action of ['approve', 'reject'] as const) {
    router.post(`/v1/decisions/:id/${action}`, async (req, res) => {
      const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
      const body = parseBody(DecisionApprovalSchema, req.body);
      const audit = await auditor.createEvent({
        eventId: `decision-${action}`,
        severityLevel: action === 'approve' ? 'high' : 'medium',
        request: req,
        meta: { decisionId: req.params.id, actor: principalRef(credentials) },
      });
      try {
        const decided = await service().decide(req.params.id, action, credentials, body.comment);
        await audit.success({
          meta: { status: decided.status, decision: decided.decision, entityRef: decided.entityRef, environment: decided.environment },
        });
        res.json(decided);
      } catch (error) {
        await audit.fail({ error: error as Error });
        throw error;
      }
    });
  }

  router.post('/v1/decisions/:id/override', async (req, res) => {
    const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
    const body = parseBody(DecisionOverrideSchema, req.body);
    const audit = await auditor.createEvent({
      eventId: 'decision-override',
      severityLevel: 'high',
      request: req,
      meta: { decisionId: req.params.id, actor: principalRef(credentials), decision: body.decision, reason: body.reason },
    });
    try {
      const decided = await service().override(req.params.id, body, credentials);
      await audit.success({
        meta: { status: decided.status, decision: decided.decision, entityRef: decided.entityRef, environment: decided.environment },
      });
      res.json(decided);
    } catch (error) {
      await audit.fail({ error: error as Error });
      throw error;
    }
  });

  return router;
}
