import type express from 'express';
import type { AuditorService, BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import type { GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { principalRef } from '../gate/ExceptionService';
import { ApprovalService, DecisionApprovalSchema, DecisionOverrideSchema } from '../gate/ApprovalService';
import { audited } from './audited';
import { parseInput } from './input';

/** What the audit event of an approval, rejection or override records of its outcome. */
const outcomeMeta = (decided: GateDecision) => ({
  status: decided.status,
  decision: decided.decision,
  entityRef: decided.entityRef,
  environment: decided.environment,
});

export interface ApprovalRouteOptions {
  httpAuth: HttpAuthService;
  auditor: AuditorService;
  /** Absent only where routes are listed but never called (the OpenAPI test). */
  approvals?: ApprovalService;
  /**
   * Runs before the service: refuses (403) when the permission framework is off
   * and answers 404 when the caller may not read the decision's entity.
   */
  guard: (credentials: BackstageCredentials, decisionId: string, action: 'approve' | 'reject' | 'override') => Promise<void>;
}

/**
 * Adds to `router` (the OpenAPI-validated one):
 * `POST /v1/decisions/:id/approve|reject` {comment?}, `POST /v1/decisions/:id/override`
 * {decision, reason}. Each change goes to the Backstage auditor here and to the
 * hash-chained decision log in the store's transaction.
 */
export function addApprovalRoutes(router: express.Router, options: ApprovalRouteOptions): express.Router {
  const { httpAuth, auditor, guard } = options;
  const service = () => {
    if (!options.approvals) throw new Error('runtime-risk: approvals are not set up');
    return options.approvals;
  };

  for (const action of ['approve', 'reject'] as const) {
    router.post(`/v1/decisions/:id/${action}`, async (req, res) => {
      const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
      const body = parseInput(DecisionApprovalSchema, req.body ?? {}, 'body');
      const decided = await audited(
        auditor,
        {
          eventId: `decision-${action}`,
          severityLevel: action === 'approve' ? 'high' : 'medium',
          request: req,
          meta: { decisionId: req.params.id, actor: principalRef(credentials) },
        },
        async () => {
          await guard(credentials, req.params.id, action);
          return service().decide(req.params.id, action, credentials, body.comment);
        },
        outcomeMeta,
      );
      res.json(decided);
    });
  }

  router.post('/v1/decisions/:id/override', async (req, res) => {
    const credentials = await httpAuth.credentials(req, { allow: ['user', 'service'] });
    const body = parseInput(DecisionOverrideSchema, req.body ?? {}, 'body');
    const decided = await audited(
      auditor,
      {
        eventId: 'decision-override',
        severityLevel: 'high',
        request: req,
        meta: { decisionId: req.params.id, actor: principalRef(credentials), decision: body.decision, reason: body.reason },
      },
      async () => {
        await guard(credentials, req.params.id, 'override');
        return service().override(req.params.id, body, credentials);
      },
      outcomeMeta,
    );
    res.json(decided);
  });

  return router;
}
