import type express from 'express';
import type { AuditorService, BackstageCredentials, HttpAuthService, LoggerService } from '@backstage/backend-plugin-api';
import { InputError, NotFoundError } from '@backstage/errors';
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
 * Adds the audit routes to `router` (the OpenAPI-validated one), all behind
 * `runtime-risk.admin.read`:
 * - `GET /v1/audit/verify` walks the hash-chained decision log up to its head,
 *   in one snapshot, and answers the outcome (200 either way); a broken chain is
 *   also reported to the Backstage auditor as a critical failure;
 * - `GET /v1/audit/head`: `{seq, hash}` of the last record, to anchor elsewhere;
 * - `GET /v1/audit/records/{seq}`: one record, to compare with an anchored head.
 */
export function addAuditRoutes(router: express.Router, options: AuditRouteOptions): express.Router {
  const { httpAuth, auditor, store, requireAdmin } = options;
  const admin = async (req: express.Request) => requireAdmin(await httpAuth.credentials(req, { allow: ['user', 'service'] }));

  router.get('/v1/audit/verify', async (req, res) => {
    await admin(req);
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

  router.get('/v1/audit/head', async (req, res) => {
    await admin(req);
    res.status(200).json(await store.getAuditHead());
  });

  router.get('/v1/audit/records/:seq', async (req, res) => {
    await admin(req);
    const raw = String(req.params.seq);
    if (!/^[1-9]\d{0,15}$/.test(raw)) throw new InputError('seq: must be a positive integer');
    const record = await store.getAuditRecord(Number(raw));
    if (!record) throw new NotFoundError(`seq: no audit record ${raw}`);
    res.status(200).json(record);
  });

  return router;
}

/**
 * Publishes the log's head (`{seq, hash}`) as a Backstage auditor event
 * (`audit-head`), so that a log shipper can keep it outside this database: a
 * log rewritten later no longer matches a published head
 * (`runtime-risk audit verify --expect-head <seq>:<hash>`). Run on a schedule
 * (`runtimeRisk.audit.headFrequency`, default hourly).
 */
export async function publishAuditHead(options: {
  store: Pick<AuditLogStore, 'getAuditHead'>;
  auditor: AuditorService;
  logger?: LoggerService;
}): Promise<{ seq: number; hash: string }> {
  const head = await options.store.getAuditHead();
  const event = await options.auditor.createEvent({ eventId: 'audit-head', severityLevel: 'medium', meta: { seq: head.seq, hash: head.hash } });
  await event.success({ meta: { seq: head.seq, hash: head.hash } });
  options.logger?.info(`runtime-risk audit head: ${head.seq}:${head.hash}`);
  return head;
}
