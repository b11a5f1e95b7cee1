import type express from 'express';
import type { AuditorService, BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import type { AuditLogStore } from '../store/types';
import { auditFailure } from './audited';

export interface AuditRouteOptions {
  httpAuth: HttpAuthService;
  auditor: AuditorService;
  store: AuditLogStore;
  /** 403 unless the caller holds `runtime-risk.admin.read`. */
  requireAdmin: (credentials: BackstageCredentials) => Promise<void>;
}

/**
 * Adds `GET /v1/audit/verify` to `router` (the OpenAPI-validated one): walks the
 * hash-chained decision log and answers the outcome (200 either way); a broken
 * chain is also reported to the Backstage auditor as a critical failure.
 */
export function addAuditRoutes(router: express.Router, options: AuditRouteOptions): express.Router {
  const { httpAuth, auditor, store, requireAdmin } = options;
  router.get('/v1/audit/verify', async (req, res) => {
    await requireAdmin(await httpAuth.credentials(req, { allow: ['user', 'service'] }));
    const result = await store.verifyAuditLog();
    if (!result.ok) {
      await auditFailure(
        auditor,
        { eventId: 'audit-verify', severityLevel: 'critical', request: req, meta: { brokenAt: result.brokenAt, problem: result.problem } },
        new Error(result.message),
      );
    }
    res.status(200).json(result);
  });

  return router;
}
