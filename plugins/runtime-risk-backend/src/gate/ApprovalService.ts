import { ConflictError, NotAllowedError, NotFoundError } from '@backstage/errors';
import type { AuditorService, BackstageCredentials, LoggerService, PermissionsService } from '@backstage/backend-plugin-api';
import { AuthorizeResult, type BasicPermission } from '@backstage/plugin-permission-common';
import {
  runtimeRiskDecisionOverridePermission,
  runtimeRiskExceptionApprovePermission,
  type GateDecision,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { z } from 'zod';
import { principalRef, SYSTEM_ACTOR } from './ExceptionService';
import type { RiskService } from './RiskService';
import { assertHumanOrGranted } from './humans';
import { selfApproval, type DecisionRequesters, type Requester } from './requester';
import type { DecisionOutcome, DecisionRecord, RuntimeRiskStore } from '../store/types';

export const DecisionApprovalSchema = z.object({ comment: z.string().max(2000).optional() }).strict();

export const DecisionOverrideSchema = z
  .object({
    decision: z.enum(['proceed', 'block'], { error: "must be 'proceed' or 'block'" }),
    reason: z.string().trim().min(1, { message: 'must say why the decision is overridden' }).max(2000),
  })
  .strict();
export type DecisionOverride = z.output<typeof DecisionOverrideSchema>;

/** Pending decisions expired per sweep at most. */
const SWEEP_BATCH = 500;

/**
 * Who asked for a decision: the principal whose token asked the gate (user ref
 * or service subject) and the person the request named (`requestedBy`, resolved
 * to a User entity when the catalog knows the login).
 */
export function requestersOf(record: DecisionRecord): DecisionRequesters {
  const request = (record.result as { request?: { requestedBy?: unknown; requester?: unknown } } | null)?.request;
  const out: DecisionRequesters = {};
  const assertedBy = record.requestedBy ?? (typeof request?.requestedBy === 'string' ? request.requestedBy : undefined);
  if (assertedBy) out.assertedBy = assertedBy;
  const requester = request?.requester as Requester | null | undefined;
  if (requester && typeof requester === 'object' && typeof requester.login === 'string') out.requester = requester;
  return out;
}

/**
 * One-off approval of a pending gate decision (`approval_required`): a person
 * holding `runtime-risk.exception.approve` (never the person who asked for the
 * deployment) approves or rejects it before the environment's `approvalTtl`
 * runs out. Holders of `runtime-risk.decision.override` may override a decision.
 * Every change is appended to the decision log in the same transaction (store).
 */
export class ApprovalService {
  constructor(
    private readonly options: {
      store: RuntimeRiskStore;
      risk: RiskService;
      permissions: PermissionsService;
      /** Told of expiries (approvals, rejections and overrides are audited by the routes). */
      auditor?: AuditorService;
      logger?: LoggerService;
      clock?: () => Date;
      /**
       * Told of every decision this service approved, rejected, overrode or expired
       * (the GitHub deployment protection rule answers GitHub then); must not throw.
       */
      onChanged?: (decisionId: string) => void;
    },
  ) {}

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private async load(id: string): Promise<DecisionRecord> {
    const record = await this.options.store.getDecision(id);
    if (!record) throw new NotFoundError(`no decision '${id}'`);
    return record;
  }

  private async authorize(credentials: BackstageCredentials, permission: BasicPermission, what: string): Promise<string> {
    assertHumanOrGranted(credentials, [permission], what);
    const [answer] = await this.options.permissions.authorize([{ permission }], { credentials });
    if (answer.result !== AuthorizeResult.ALLOW) throw new NotAllowedError(`not allowed to ${what}`);
    return principalRef(credentials);
  }

  /** Marks a pending decision past its TTL as expired (audited); true if this call did. */
  private async expire(record: DecisionRecord, now: Date): Promise<boolean> {
    const expired = await this.options.store.transitionDecision({
      id: record.id,
      from: ['pending'],
      to: 'expired',
      by: SYSTEM_ACTOR,
      at: now.toISOString(),
      auditType: 'decision-expire',
    });
    if (expired && this.options.auditor) {
      const event = await this.options.auditor.createEvent({
        eventId: 'decision-expire',
        severityLevel: 'low',
        meta: {
          decisionId: record.id,
          entityRef: record.entityRef,
          environment: record.environment,
          actor: SYSTEM_ACTOR,
          createdAt: record.createdAt,
        },
      });
      await event.success();
    }
    if (expired) this.options.onChanged?.(record.id);
    return expired;
  }

  /** Approves or rejects a pending decision; the answer is the decision as `GET /v1/decisions/:id` shows it. */
  async decide(
    id: string,
    action: 'approve' | 'reject',
    credentials: BackstageCredentials,
    comment?: string,
  ): Promise<GateDecision> {
    const { store, risk } = this.options;
    const record = await this.load(id);
    const actor = await this.authorize(credentials, runtimeRiskExceptionApprovePermission, `${action} decisions`);
    const self = selfApproval(actor, requestersOf(record));
    if (self) throw new NotAllowedError(`refusing to ${action} decision '${id}': ${self}; the requester of a deployment can never ${action} its decision`);
    const now = this.now();
    if (risk.isApprovalExpired(record, now)) {
      await this.expire(record, now);
      throw new ConflictError(
        `decision '${id}' expired: approvals in ${record.environment} must come within ${Math.round(risk.approvalTtlMs(record.environment) / 60000)} minutes`,
      );
    }
    if (record.status !== 'pending') throw new ConflictError(`decision '${id}' is ${record.status}; cannot ${action} it`);
    const outcome: DecisionOutcome =
      action === 'approve'
        ? { decision: 'proceed', reason: { code: 'approval_granted', message: `approved by ${actor}`, signalIds: [] } }
        : { decision: 'block', reason: { code: 'approval_rejected', message: `rejected by ${actor}`, signalIds: [] } };
    if (comment !== undefined) {
      outcome.comment = comment;
      outcome.reason.message += `: ${comment}`;
    }
    const changed = await store.transitionDecision({
      id,
      from: ['pending'],
      to: action === 'approve' ? 'approved' : 'rejected',
      by: actor,
      at: now.toISOString(),
      outcome,
      auditType: action === 'approve' ? 'decision-approve' : 'decision-reject',
    });
    if (!changed) throw new ConflictError(`decision '${id}' changed concurrently; cannot ${action} it`);
    this.options.onChanged?.(id);
    return risk.getDecision(id);
  }

  /**
   * Overrides a decision (pending or final, not dry-run) with `proceed` or `block`:
   * it reads as approved (`approval_granted`) or rejected (`approval_rejected`),
   * the message naming who overrode it and why.
   */
  async override(id: string, body: DecisionOverride, credentials: BackstageCredentials): Promise<GateDecision> {
    const { store, risk } = this.options;
    const record = await this.load(id);
    const actor = await this.authorize(credentials, runtimeRiskDecisionOverridePermission, 'override decisions');
    const self = selfApproval(actor, requestersOf(record));
    if (self) throw new NotAllowedError(`refusing to override decision '${id}': ${self}; the requester of a deployment can never override its decision`);
    const now = this.now();
    if (record.dryRun) throw new ConflictError(`decision '${id}' is a dry run; there is nothing to override`);
    if (risk.isApprovalExpired(record, now)) {
      await this.expire(record, now);
      throw new ConflictError(`decision '${id}' expired; cannot override it`);
    }
    if (record.status !== 'pending' && record.status !== 'final') {
      throw new ConflictError(`decision '${id}' is ${record.status}; cannot override it`);
    }
    const outcome: DecisionOutcome = {
      decision: body.decision,
      reason: {
        code: body.decision === 'proceed' ? 'approval_granted' : 'approval_rejected',
        message: `overridden to ${body.decision} by ${actor}: ${body.reason}`,
        signalIds: [],
      },
      comment: body.reason,
      overridden: record.decision as DecisionOutcome['decision'],
    };
    const changed = await store.transitionDecision({
      id,
      from: [record.status],
      to: body.decision === 'proceed' ? 'approved' : 'rejected',
      by: actor,
      at: now.toISOString(),
      outcome,
      auditType: 'decision-override',
    });
    if (!changed) throw new ConflictError(`decision '${id}' changed concurrently; cannot override it`);
    this.options.onChanged?.(id);
    return risk.getDecision(id);
  }

  /** Marks pending decisions past their environment's `approvalTtl` as expired. */
  async sweep(): Promise<{ expired: string[] }> {
    const { store, risk } = this.options;
    const now = this.now();
    const envs = Object.keys(risk.policy.environments);
    const shortest = Math.min(...envs.map(e => risk.approvalTtlMs(e)));
    const candidates = await store.listPendingDecisions({
      createdBefore: new Date(now.getTime() - shortest).toISOString(),
      limit: SWEEP_BATCH,
    });
    const expired: string[] = [];
    for (const record of candidates) {
      if (risk.isApprovalExpired(record, now) && (await this.expire(record, now))) expired.push(record.id);
    }
    if (expired.length) this.options.logger?.info(`runtime-risk: ${expired.length} pending decision(s) expired unapproved`);
    return { expired };
  }
}
