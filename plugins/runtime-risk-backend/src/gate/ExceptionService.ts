import { randomUUID } from 'node:crypto';
import { ConflictError, InputError, NotAllowedError, NotFoundError } from '@backstage/errors';
import type { AuditorService, BackstageCredentials, LoggerService, PermissionsService } from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  EntityRefSchema,
  durationToMs,
  runtimeRiskExceptionApprovePermission,
  sameEntityRef,
  runtimeRiskExceptionCreatePermission,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { z } from 'zod';
import { assetIdentifiers, candidateIdentifiers, type HostIdentifier } from '../correlate/identifiers';
import { evaluate, type CompiledPolicy } from '../engine';
import type { ExceptionRecord, ExceptionStatus, IndexedEntity, RuntimeRiskStore } from '../store/types';
import type { RiskService } from './RiskService';
import { assertHumanOrGranted } from './humans';

/** Longest an exception may last where the environment sets no `maxExceptionDuration`. */
export const DEFAULT_MAX_EXCEPTION_MS = 7 * 24 * 3600 * 1000;

const isoDateTime = z
  .string()
  .refine(v => /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 date-time' });

export const ExceptionRequestSchema = z
  .object({
    entityRef: EntityRefSchema,
    environment: z.string().min(1),
    reason: z.string().trim().min(1, { message: 'must say why the exception is needed' }).max(2000),
    expiresAt: isoDateTime,
    signalIds: z.array(z.string().min(1)).min(1).optional(),
    maxLevel: z.enum(['low', 'moderate', 'high']).optional(),
  })
  .strict();
export type ExceptionRequest = z.output<typeof ExceptionRequestSchema>;

export const ExceptionDecisionSchema = z.object({ comment: z.string().max(2000).optional() }).strict();

/** The principal's entity ref for users, subject for services. */
export function principalRef(credentials: BackstageCredentials): string {
  const p = credentials.principal as { type: string; userEntityRef?: string; subject?: string };
  if (p.type === 'user' && p.userEntityRef) return p.userEntityRef;
  if (p.type === 'service' && p.subject) return p.subject;
  return p.type;
}

/** The actor recorded for automatic changes (expiry, revocation by a new signal). */
export const SYSTEM_ACTOR = 'runtime-risk';

const LEVEL_RANK: Record<string, number> = { low: 0, moderate: 1, high: 2 };

/** What a sweep changed. */
export interface SweepResult {
  expired: string[];
  revoked: string[];
}

/** What starts a scope check: the periodic sweep, or signals just committed by an ingestion batch or a webhook push. */
type ScopeCheckTrigger = 'sweep' | 'ingest';

const identifierKey = (id: { kind: string; value: string }) => `${id.kind}\u0000${id.value}`;

/** True when one of the entity's indexed host values names one of these identifiers (the gate's matching rule). */
function entityTouched(entity: IndexedEntity, keys: ReadonlySet<string>): boolean {
  return entity.hosts.some(h => candidateIdentifiers(h.value).some(c => keys.has(identifierKey(c))));
}

/** Exceptions: requested by an entity's owners, approved by someone else holding the approve permission. */
export class ExceptionService {
  /** Host identifiers of signals committed since the last on-ingest check started. */
  private readonly touched = new Map<string, HostIdentifier>();
  /** The on-ingest check running, and the one queued after it (at most one each). */
  private checking: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly options: {
      store: RuntimeRiskStore;
      risk: RiskService;
      permissions: PermissionsService;
      policy: CompiledPolicy;
      auditor?: AuditorService;
      logger?: LoggerService;
      clock?: () => Date;
      /** Told of every new exception request (notifications); must not throw. */
      onRequested?: (record: ExceptionRecord) => void;
      /**
       * Told of every exception revoked because a newer signal broke its scope
       * (by the sweep or right after ingestion), with why (notifications to the
       * owners); must not throw.
       */
      onRevoked?: (record: ExceptionRecord, entity: IndexedEntity, why: string) => void;
    },
  ) {}

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  private async canApprove(credentials: BackstageCredentials): Promise<boolean> {
    const [decision] = await this.options.permissions.authorize([{ permission: runtimeRiskExceptionApprovePermission }], {
      credentials,
    });
    return decision.result === AuthorizeResult.ALLOW;
  }

  async request(body: ExceptionRequest, credentials: BackstageCredentials): Promise<ExceptionRecord> {
    const { risk, store, permissions, policy } = this.options;
    assertHumanOrGranted(credentials, [runtimeRiskExceptionCreatePermission], 'request an exception');
    risk.assertEnvironment(body.environment);
    const entity = await risk.resolveEntity(body.entityRef);
    const [decision] = await permissions.authorize(
      [{ permission: runtimeRiskExceptionCreatePermission, resourceRef: entity.entityRef }],
      { credentials },
    );
    if (decision.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(`not allowed to request exceptions for ${entity.entityRef}`);
    }
    const now = this.now();
    const expires = Date.parse(body.expiresAt);
    if (expires <= now.getTime()) throw new InputError('expiresAt: must be in the future');
    const env = policy.environments[body.environment];
    const maxMs = env.maxExceptionDuration ? durationToMs(env.maxExceptionDuration) : DEFAULT_MAX_EXCEPTION_MS;
    if (expires - now.getTime() > maxMs) {
      throw new InputError(
        `expiresAt: exceptions in ${body.environment} may last at most ${Math.round(maxMs / 3600000)} hours (until ${new Date(now.getTime() + maxMs).toISOString()})`,
      );
    }
    // DESIGN "Exceptions": without signal ids an exception covers at most the
    // risk level at request time, unless the requester names another one. An
    // entity whose level is unknown then (uncorrelated) gets no default.
    let maxLevel: string | null = body.maxLevel ?? null;
    if (maxLevel === null && !body.signalIds) {
      const input = await risk.buildInput(entity, body.environment, false, now);
      const level = evaluate({ ...input, exceptions: [] }, policy).riskLevel;
      if (level !== 'unknown') maxLevel = level;
    }
    const record: ExceptionRecord = {
      id: randomUUID(),
      entityRef: entity.entityRef,
      environment: body.environment,
      reason: body.reason,
      requestedBy: principalRef(credentials),
      status: 'pending',
      approvedBy: null,
      expiresAt: new Date(expires).toISOString(),
      signalIds: body.signalIds ?? null,
      maxLevel,
      createdAt: now.toISOString(),
    };
    await store.insertException(record);
    this.options.onRequested?.(record);
    return record;
  }

  async get(id: string): Promise<ExceptionRecord> {
    const found = await this.options.store.getException(id);
    if (!found) throw new NotFoundError(`no exception '${id}'`);
    return this.withExpiry(found);
  }

  /** An approved or pending exception past its expiry reads as expired. */
  withExpiry(record: ExceptionRecord): ExceptionRecord {
    if ((record.status === 'approved' || record.status === 'pending') && Date.parse(record.expiresAt) <= this.now().getTime()) {
      return { ...record, status: 'expired' };
    }
    return record;
  }

  async decide(
    id: string,
    action: 'approve' | 'reject' | 'revoke',
    credentials: BackstageCredentials,
    comment?: string,
  ): Promise<ExceptionRecord> {
    const { store } = this.options;
    const current = await this.get(id);
    assertHumanOrGranted(
      credentials,
      action === 'revoke' ? [runtimeRiskExceptionApprovePermission, runtimeRiskExceptionCreatePermission] : [runtimeRiskExceptionApprovePermission],
      `${action} an exception`,
    );
    const actor = principalRef(credentials);
    const approver = await this.canApprove(credentials);

    let from: ExceptionStatus[];
    let to: ExceptionStatus;
    if (action === 'approve' || action === 'reject') {
      if (!approver) throw new NotAllowedError(`not allowed to ${action} exceptions`);
      if (action === 'approve' && sameEntityRef(actor, current.requestedBy)) {
        throw new NotAllowedError('the requester of an exception can never approve it');
      }
      from = ['pending'];
      to = action === 'approve' ? 'approved' : 'rejected';
    } else {
      if (!approver && !sameEntityRef(actor, current.requestedBy)) {
        throw new NotAllowedError('only the requester or an approver can revoke an exception');
      }
      from = ['pending', 'approved'];
      to = 'revoked';
    }
    if (!from.includes(current.status)) {
      throw new ConflictError(`exception '${id}' is ${current.status}; cannot ${action} it`);
    }
    const changed = await store.transitionException({
      id,
      from,
      to,
      by: actor,
      at: this.now().toISOString(),
      comment,
      approvedBy: action === 'approve' ? actor : undefined,
    });
    if (!changed) throw new ConflictError(`exception '${id}' changed concurrently; cannot ${action} it`);
    return this.get(id);
  }

  /**
   * Expires exceptions past their expiry and revokes approved ones whose scope a
   * newer signal broke: the entity's risk level is now above the exception's
   * `maxLevel`, or a signal outside its `signalIds` contributes to the score.
   * A revoked exception stays revoked even if that signal later resolves.
   * Revocation also happens right after ingestion ({@link signalsCommitted});
   * this periodic sweep is the safety net (and the only place expiry is recorded).
   */
  async sweep(): Promise<SweepResult> {
    const { store } = this.options;
    const now = this.now();
    const at = now.toISOString();
    const result: SweepResult = { expired: [], revoked: [] };
    const open = [...(await this.listAll('pending')), ...(await this.listAll('approved'))];
    const evaluations = new Map<string, Promise<ReturnType<typeof evaluate>>>();
    for (const ex of open) {
      if (Date.parse(ex.expiresAt) <= now.getTime()) {
        if (await store.transitionException({ id: ex.id, from: ['pending', 'approved'], to: 'expired', by: SYSTEM_ACTOR, at })) {
          result.expired.push(ex.id);
          await this.audit('exception-expire', ex, `expired at ${ex.expiresAt}`);
        }
        continue;
      }
      if (ex.status !== 'approved' || (!ex.maxLevel && !ex.signalIds)) continue;
      const entity = await store.getEntity(ex.entityRef);
      if (entity && (await this.revokeIfOutOfScope(ex, entity, now, evaluations, 'sweep'))) result.revoked.push(ex.id);
    }
    return result;
  }

  /**
   * Revocation on ingest (DESIGN "Exceptions"): called right after an ingestion
   * batch or a webhook push committed `signals`. The approved, unexpired
   * exceptions with a `maxLevel` or `signalIds` whose entity's indexed hosts
   * one of these signals names are checked as {@link sweep} checks them, and
   * revoked (audited, owners notified) when out of scope; other entities are
   * not evaluated. Coalesced: at most one check runs at a time; signals
   * committed while it runs are checked by exactly one more run after it. The
   * promise settles when the run covering these signals has finished; it never
   * rejects (a failure is logged and the periodic sweep catches up).
   */
  signalsCommitted(signals: readonly Pick<Signal, 'asset'>[]): Promise<void> {
    for (const s of signals) for (const id of assetIdentifiers(s.asset)) this.touched.set(identifierKey(id), id);
    if (this.touched.size === 0) return this.queued ?? this.checking ?? Promise.resolve();
    if (!this.checking && !this.queued) return this.startIngestCheck();
    if (!this.queued) {
      this.queued = this.checking!.then(() => {
        this.queued = undefined;
        return this.startIngestCheck();
      });
    }
    return this.queued;
  }

  /** Settles once no on-ingest check is running or queued (tests, shutdown). */
  async ingestChecksSettled(): Promise<void> {
    while (this.checking || this.queued) await (this.queued ?? this.checking);
  }

  private startIngestCheck(): Promise<void> {
    const ids = [...this.touched.values()];
    this.touched.clear();
    const run: Promise<void> = this.revokeTouched(ids)
      .then(
        revoked => {
          if (revoked.length) this.options.logger?.info(`runtime-risk revoked ${revoked.length} exception(s) on ingest: ${revoked.join(', ')}`);
        },
        (e: unknown) => {
          this.options.logger?.warn(`runtime-risk exception check after ingestion failed (the sweep retries): ${(e as Error)?.message ?? String(e)}`);
        },
      )
      .finally(() => {
        if (this.checking === run) this.checking = undefined;
      });
    this.checking = run;
    return run;
  }

  /** One on-ingest check: the exceptions whose entity's hosts `ids` touch; answers the revoked ids. */
  async revokeTouched(ids: readonly HostIdentifier[]): Promise<string[]> {
    if (!ids.length) return [];
    const now = this.now();
    const candidates = (await this.listAll('approved')).filter(ex => (ex.maxLevel || ex.signalIds) && Date.parse(ex.expiresAt) > now.getTime());
    if (!candidates.length) return [];
    const keys = new Set(ids.map(identifierKey));
    const entities = new Map<string, IndexedEntity | undefined>();
    const evaluations = new Map<string, Promise<ReturnType<typeof evaluate>>>();
    const revoked: string[] = [];
    for (const ex of candidates) {
      if (!entities.has(ex.entityRef)) {
        const entity = await this.options.store.getEntity(ex.entityRef);
        entities.set(ex.entityRef, entity && entityTouched(entity, keys) ? entity : undefined);
      }
      const entity = entities.get(ex.entityRef);
      if (entity && (await this.revokeIfOutOfScope(ex, entity, now, evaluations, 'ingest'))) revoked.push(ex.id);
    }
    return revoked;
  }

  /**
   * Revokes an approved exception whose scope the stored signals broke (level
   * above `maxLevel`, or a signal outside `signalIds` contributing); true when
   * this call revoked it. `evaluations` shares one evaluation per entity and
   * environment within a run.
   */
  private async revokeIfOutOfScope(
    ex: ExceptionRecord,
    entity: IndexedEntity,
    now: Date,
    evaluations: Map<string, Promise<ReturnType<typeof evaluate>>>,
    trigger: ScopeCheckTrigger,
  ): Promise<boolean> {
    const { store, risk, policy } = this.options;
    if (!Object.prototype.hasOwnProperty.call(policy.environments, ex.environment)) return false;
    const key = `${entity.entityRef}\u0000${ex.environment}`;
    let pending = evaluations.get(key);
    if (!pending) {
      pending = risk.buildInput(entity, ex.environment, false, now).then(input => evaluate({ ...input, exceptions: [] }, policy));
      evaluations.set(key, pending);
    }
    const evaluation = await pending;
    let why: string | undefined;
    if (ex.maxLevel && evaluation.riskLevel !== 'unknown' && LEVEL_RANK[evaluation.riskLevel] > LEVEL_RANK[ex.maxLevel]) {
      const top = evaluation.contributions.slice(0, 5).map(c => c.signalId);
      why =
        `risk level is now ${evaluation.riskLevel} (score ${evaluation.score}` +
        (top.length ? ` from signal(s) ${top.join(', ')}${evaluation.contributions.length > top.length ? ', ...' : ''}` : '') +
        `), above the exception's maxLevel ${ex.maxLevel}`;
    } else if (ex.signalIds) {
      const allowed = new Set(ex.signalIds);
      // one incident reported by several vendors is covered when the exception names one of its reports
      const outside = evaluation.contributions.filter(c => !(c.signalIds ?? [c.signalId]).some(id => allowed.has(id))).map(c => c.signalId);
      if (outside.length) why = `signal(s) outside the exception's scope now contribute: ${outside.join(', ')}`;
    }
    if (!why) return false;
    const at = now.toISOString();
    if (!(await store.transitionException({ id: ex.id, from: ['approved'], to: 'revoked', by: SYSTEM_ACTOR, at, comment: why }))) return false;
    await this.audit('exception-revoke', ex, why, trigger);
    this.options.onRevoked?.({ ...ex, status: 'revoked', decidedBy: SYSTEM_ACTOR, decidedAt: at, decisionComment: why }, entity, why);
    return true;
  }

  private async listAll(status: ExceptionStatus) {
    const out = [];
    for (let offset = 0; ; offset += 500) {
      const page = await this.options.store.listExceptions({ status, limit: 500, offset });
      out.push(...page.items);
      if (page.items.length < 500) return out;
    }
  }

  private async audit(eventId: string, ex: ExceptionRecord, why: string, trigger: ScopeCheckTrigger = 'sweep') {
    this.options.logger?.info(`runtime-risk exception ${ex.id} (${ex.entityRef}, ${ex.environment}): ${why}`);
    if (!this.options.auditor) return;
    const event = await this.options.auditor.createEvent({
      eventId,
      severityLevel: 'medium',
      meta: { exceptionId: ex.id, entityRef: ex.entityRef, environment: ex.environment, actor: SYSTEM_ACTOR, why, trigger },
    });
    await event.success();
  }
}
