import { randomUUID } from 'node:crypto';
import { InputError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { z } from 'zod';
import type { RiskService } from '../RiskService';
import type { DecisionRecord, RuntimeRiskStore } from '../../store/types';
import type { DatabaseGithubStore, GithubCallback, GithubCallbackState } from '../../store/DatabaseGithubStore';
import { GITHUB_API_HEADERS, GITHUB_TIMEOUT_MS, GithubAppAuth, GithubCallError, responseError, verifyGithubSignature } from './appAuth';
import { fitComment, type CommentLine } from './comment';
import type { GithubIntegrationConfig } from './config';

/** The webhook event of a custom deployment protection rule. */
export const PROTECTION_RULE_EVENT = 'deployment_protection_rule';

/** What the receiver answers for one delivery. */
export interface GithubDeliveryOutcome {
  /** `ignored`: another event or action; `duplicate`: this delivery id was processed before. */
  status: 'ignored' | 'duplicate' | 'approved' | 'rejected' | 'pending';
  decisionIds: string[];
}

const ProtectionRuleEventSchema = z.object({
  action: z.string(),
  environment: z.string().min(1).max(255),
  deployment_callback_url: z.string().min(1),
  repository: z.object({ full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/, { message: "must be 'owner/name'" }) }),
  installation: z.object({ id: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]) }),
  sender: z.object({ login: z.string().min(1) }).optional(),
  deployment: z.object({ sha: z.string().optional() }).optional(),
});
type ProtectionRuleEvent = z.infer<typeof ProtectionRuleEventSchema>;

/** The requester recorded for a deployment GitHub asks about: the login of the event's sender. */
export function githubRequester(login: string): string {
  return `github:${login}`;
}

/** What `RiskService.gate` records of who asked. */
export type GateMeta = NonNullable<Parameters<RiskService['gate']>[1]>;

/** Ranks of gate decisions: the strictest answer of several entities wins. */
const STRICTNESS: Record<string, number> = { proceed: 0, approval_required: 1, block: 2 };

/** Calls sent per pass of the task. */
const SEND_BATCH = 50;
/** Waiting callbacks looked at per pass. */
const WAITING_BATCH = 500;
/** How long a replica holds the claim on a callback it is sending. */
const CLAIM_MS = 2 * 60_000;
/** A delivery still `processing` after this long was abandoned (its replica died): a redelivery takes it over. */
const STALE_PROCESSING_MS = 10 * 60_000;
/** Longest wait between two attempts. */
const MAX_BACKOFF_MS = 30 * 60_000;

function parseEvent(payload: unknown): ProtectionRuleEvent {
  const parsed = ProtectionRuleEventSchema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InputError(`${['body', ...issue.path].join('.')}: ${issue.message}`);
}

/**
 * The GitHub custom deployment protection rule (docs/github.md): answers a
 * `deployment_protection_rule` event by evaluating the gate for every entity
 * annotated with the repository's `github.com/project-slug` in the mapped policy
 * environment, then calls back the event's `deployment_callback_url` as the App
 * installation. A pending approval posts a status report with the decision link
 * and is answered once reviewers decide in the portal (or the approval expires).
 * Every call back is stored before it is sent, so any replica sends it, with
 * retries on 5xx.
 */
export class GithubDeploymentProtection {
  private readonly auth: GithubAppAuth;
  /** Identifies this replica's claims. */
  private readonly owner = randomUUID();

  constructor(
    private readonly options: {
      config: GithubIntegrationConfig;
      store: DatabaseGithubStore;
      decisions: Pick<RuntimeRiskStore, 'getDecision'>;
      risk: RiskService;
      logger: LoggerService;
      clock?: () => Date;
      /**
       * What the gate records as the requester of a deployment GitHub asks about,
       * from the event's `sender.login` (the plugin resolves it to a User entity by
       * `github.com/user-login`; default: `requestedBy` `github:<login>`).
       */
      requester?: (login: string) => Promise<GateMeta>;
    },
  ) {
    const { config } = options;
    this.auth = new GithubAppAuth({ appId: config.appId, privateKey: config.privateKey, apiBaseUrl: config.apiBaseUrl, clock: options.clock });
  }

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  /** True when `X-Hub-Signature-256` signs `rawBody` with the App's webhook secret. */
  verify(rawBody: Buffer, signature: string | string[] | undefined): boolean {
    return verifyGithubSignature(rawBody, signature, this.options.config.webhookSecret);
  }

  /** `<app.baseUrl>/runtime-risk/decisions/<id>`: the decision page where reviewers approve or reject. */
  decisionLink(id: string): string {
    return `${this.options.config.appBaseUrl}/runtime-risk/decisions/${encodeURIComponent(id)}`;
  }

  /** True when `url` is under the configured API base URL (same origin, path below it). */
  isUnderApiBase(url: string): boolean {
    let target: URL;
    let base: URL;
    try {
      target = new URL(url);
      base = new URL(`${this.options.config.apiBaseUrl}/`);
    } catch {
      return false;
    }
    if (target.username || target.password) return false;
    if (target.origin !== base.origin) return false;
    // no dot segments survive URL parsing; compare whole path segments
    return target.pathname.startsWith(base.pathname);
  }

  /** Processes one verified webhook delivery. */
  async receive(delivery: { deliveryId: string; event: string; payload: unknown }): Promise<GithubDeliveryOutcome> {
    const { config, store, logger } = this.options;
    if (delivery.event !== PROTECTION_RULE_EVENT) return { status: 'ignored', decisionIds: [] };
    const event = parseEvent(delivery.payload);
    if (event.action !== 'requested') return { status: 'ignored', decisionIds: [] };
    if (!this.isUnderApiBase(event.deployment_callback_url)) {
      logger.warn(
        `runtime-risk github: delivery ${delivery.deliveryId} of ${event.repository.full_name} refused: its callback URL is not under ${config.apiBaseUrl}`,
      );
      throw new InputError(`body.deployment_callback_url: not under the configured GitHub API base URL ${config.apiBaseUrl}`);
    }
    if (!/^[\w.-]{1,128}$/.test(delivery.deliveryId)) throw new InputError('X-GitHub-Delivery: must be the delivery GUID');

    const now = this.now();
    const at = now.toISOString();
    const staleBefore = new Date(now.getTime() - STALE_PROCESSING_MS).toISOString();
    if (!(await store.claimDelivery(delivery.deliveryId, delivery.event, at, staleBefore))) {
      logger.info(`runtime-risk github: delivery ${delivery.deliveryId} seen before; not evaluated again`);
      const seen = await store.getDelivery(delivery.deliveryId);
      return { status: 'duplicate', decisionIds: seen?.decisionIds ?? [] };
    }
    let outcome: GithubDeliveryOutcome;
    try {
      outcome = await this.evaluate(delivery.deliveryId, event, at);
    } catch (e) {
      // let GitHub's redelivery (same delivery id) run it again
      await store.releaseDelivery(delivery.deliveryId).catch(() => {});
      throw e;
    }
    logger.info(
      `runtime-risk github: ${event.repository.full_name} -> environment '${event.environment}': ${outcome.status}` +
        (outcome.decisionIds.length ? ` (decisions ${outcome.decisionIds.join(', ')})` : ''),
    );
    // sent now by this replica; the scheduled task sends what this misses
    void this.sendDue().catch(e => logger.warn(`runtime-risk github: sending callbacks failed: ${(e as Error).message}`));
    return outcome;
  }

  private async evaluate(deliveryId: string, event: ProtectionRuleEvent, at: string): Promise<GithubDeliveryOutcome> {
    const { config, store, risk } = this.options;
    const repository = event.repository.full_name;
    const callback = (kind: 'report' | 'final', status: 'queued' | 'waiting', state: GithubCallbackState | null, comment: string | null, decisionIds: string[]): GithubCallback => ({
      id: randomUUID(),
      deliveryId,
      kind,
      decisionIds,
      repository,
      environmentName: event.environment,
      callbackUrl: event.deployment_callback_url,
      installationId: String(event.installation.id),
      state,
      comment,
      status,
      attempts: 0,
      nextAttemptAt: at,
      lastError: null,
      createdAt: at,
      sentAt: null,
    });
    const answerNow = async (state: GithubCallbackState, comment: string, decisionIds: string[] = []) => {
      await store.completeDelivery(deliveryId, decisionIds, [callback('final', 'queued', state, comment, decisionIds)]);
      return { status: state, decisionIds };
    };

    const environment = config.environments[event.environment] ?? config.defaultEnvironment;
    if (environment === undefined) {
      return answerNow(
        'approved',
        `Runtime Risk: environment '${event.environment}' is not gated (not mapped in runtimeRisk.integrations.github.environments, and no defaultEnvironment).`,
      );
    }
    const entityRefs = await store.entityRefsByProjectSlug(repository);
    if (entityRefs.length === 0) {
      const approve = config.unknownRepository === 'approve';
      return answerNow(
        approve ? 'approved' : 'rejected',
        `Runtime Risk: ${repository} is not gated: no catalog entity has the annotation github.com/project-slug: ${repository}.` +
          (approve ? '' : ' Repositories Runtime Risk does not know are rejected (runtimeRisk.integrations.github.unknownRepository: reject).'),
      );
    }

    const runId = /\/actions\/runs\/(\d+)\//.exec(new URL(event.deployment_callback_url).pathname)?.[1];
    const meta = event.sender ? await this.requesterMeta(event.sender.login) : {};
    const answers: GateDecision[] = [];
    for (const entityRef of entityRefs) {
      answers.push(
        await risk.gate(
          {
            entityRef,
            environment,
            dryRun: false,
            ...(event.deployment?.sha ? { artifact: event.deployment.sha } : {}),
            pipeline: { provider: 'github', ...(runId ? { runId } : {}) },
          },
          meta,
        ),
      );
    }
    const decisionIds = answers.map(a => a.decisionId);
    const strictest = Math.max(...answers.map(a => STRICTNESS[a.decision] ?? 2));
    const where = `${event.environment}${environment !== event.environment ? ` (policy environment ${environment})` : ''}`;
    const lines = answers.map(a => this.answerLine(a));
    if (strictest === STRICTNESS.block) {
      return answerNow('rejected', fitComment(`Runtime Risk blocked the deployment to ${where}.`, lines), decisionIds);
    }
    if (strictest === STRICTNESS.proceed) {
      return answerNow('approved', fitComment(`Runtime Risk: the deployment to ${where} may proceed.`, lines), decisionIds);
    }
    const pending = answers.filter(a => a.status === 'pending').map(a => a.decisionId);
    const ttlMinutes = Math.round(risk.approvalTtlMs(environment) / 60_000);
    const report = fitComment(
      `Runtime Risk: approval required before deploying to ${where}. A reviewer other than the requester approves or rejects it in the portal within ${formatMinutes(ttlMinutes)}:`,
      lines,
    );
    await store.completeDelivery(deliveryId, decisionIds, [
      callback('report', 'queued', null, report, pending),
      callback('final', 'waiting', null, null, pending),
    ]);
    return { status: 'pending', decisionIds };
  }

  private requesterMeta(login: string): Promise<GateMeta> {
    return this.options.requester ? this.options.requester(login) : Promise.resolve({ requestedBy: githubRequester(login) });
  }

  private answerLine(a: GateDecision): CommentLine {
    const shadow = a.wouldHaveBeen && a.wouldHaveBeen !== a.decision ? `, shadow mode: would have been ${a.wouldHaveBeen}` : '';
    const essential = `${a.entityRef}: ${a.decision} (risk ${a.riskLevel}${shadow}) ${this.decisionLink(a.decisionId)}`;
    const detail = a.reasons.map(r => r.message).join('; ');
    return detail ? { essential, detail } : { essential };
  }

  /**
   * The final answer of a waiting callback from its decisions: rejected as soon
   * as one is rejected or expired, approved once all are approved; undefined while
   * any is still pending.
   */
  private async outcomeOf(callback: GithubCallback): Promise<{ state: GithubCallbackState; comment: string } | undefined> {
    const { decisions, risk } = this.options;
    const now = this.now();
    const records = (await Promise.all(callback.decisionIds.map(id => decisions.getDecision(id)))).filter(
      (r): r is DecisionRecord => !!r,
    );
    const verdicts = records.map(r => {
      const expired = r.status === 'expired' || risk.isApprovalExpired(r, now);
      const rejected = expired || r.status === 'rejected' || (r.status === 'final' && r.decision === 'block');
      const approved = r.status === 'approved' || (r.status === 'final' && r.decision === 'proceed');
      const outcome = r.outcome?.reason.message;
      const what = expired
        ? `approval expired unanswered after ${formatMinutes(Math.round(risk.approvalTtlMs(r.environment) / 60_000))}`
        : (outcome ?? r.status);
      return { record: r, rejected, approved, line: { essential: `${r.entityRef}: ${expired ? 'expired' : r.status} ${this.decisionLink(r.id)}`, detail: what } };
    });
    const lines = verdicts.map(v => v.line);
    if (records.length < callback.decisionIds.length) {
      return { state: 'rejected', comment: fitComment('Runtime Risk: a decision of this deployment is missing; rejected.', lines) };
    }
    if (verdicts.some(v => v.rejected)) {
      return { state: 'rejected', comment: fitComment('Runtime Risk: the deployment was not approved.', lines) };
    }
    if (verdicts.every(v => v.approved)) {
      return { state: 'approved', comment: fitComment('Runtime Risk: the deployment was approved in the portal.', lines) };
    }
    return undefined;
  }

  /** Answers the waiting callbacks whose decisions are decided (or expired); the ids of those answered. */
  async resolveWaiting(onlyDecisionId?: string): Promise<string[]> {
    const { store } = this.options;
    const waiting = (await store.listWaiting(WAITING_BATCH)).filter(c => !onlyDecisionId || c.decisionIds.includes(onlyDecisionId));
    const resolved: string[] = [];
    for (const callback of waiting) {
      const outcome = await this.outcomeOf(callback);
      if (!outcome) continue;
      if (await store.resolveWaiting(callback.id, outcome.state, outcome.comment, this.now().toISOString())) resolved.push(callback.id);
    }
    return resolved;
  }

  /**
   * Told that a decision was approved, rejected, overridden or expired (ApprovalService):
   * answers GitHub now. Never throws; the scheduled task retries what fails here.
   */
  async decisionChanged(decisionId: string): Promise<void> {
    try {
      if ((await this.resolveWaiting(decisionId)).length) await this.sendDue();
    } catch (e) {
      this.options.logger.warn(`runtime-risk github: answering GitHub for decision ${decisionId} failed: ${(e as Error).message}`);
    }
  }

  /** The scheduled pass: answers waiting callbacks whose decisions are done, then sends everything due. */
  async sweep(): Promise<{ resolved: number; sent: number; retried: number; failed: number }> {
    const resolved = (await this.resolveWaiting()).length;
    return { resolved, ...(await this.sendDue()) };
  }

  /** Claims and sends the queued callbacks that are due; retries 5xx with backoff. */
  async sendDue(): Promise<{ sent: number; retried: number; failed: number }> {
    const { store, logger, config } = this.options;
    const counts = { sent: 0, retried: 0, failed: 0 };
    const now = this.now();
    const due = await store.listDue(now.toISOString(), SEND_BATCH);
    for (const callback of due) {
      const claimedAt = this.now();
      if (!(await store.claim(callback.id, this.owner, claimedAt.toISOString(), new Date(claimedAt.getTime() + CLAIM_MS).toISOString()))) {
        continue;
      }
      if (callback.kind === 'report') {
        const final = (await store.listCallbacksOfDelivery(callback.deliveryId)).find(c => c.kind === 'final');
        if (final?.status === 'sent') {
          await store.finishAttempt(callback.id, this.owner, { status: 'skipped', error: 'the final answer was sent first' });
          continue;
        }
      }
      try {
        await this.send(callback);
        await store.finishAttempt(callback.id, this.owner, { status: 'sent', at: this.now().toISOString() });
        counts.sent += 1;
      } catch (e) {
        const error = e instanceof GithubCallError ? e : new GithubCallError((e as Error).message, undefined, true);
        const what = `runtime-risk github: ${callback.kind} for ${callback.repository} (${callback.environmentName}), callback ${callback.id}`;
        if (error.retryable && callback.attempts + 1 < config.callbacks.maxAttempts) {
          const delay = Math.min(config.callbacks.backoffMs * 2 ** callback.attempts, MAX_BACKOFF_MS);
          await store.finishAttempt(callback.id, this.owner, {
            status: 'queued',
            nextAttemptAt: new Date(this.now().getTime() + delay).toISOString(),
            error: error.message,
          });
          logger.warn(`${what} failed (attempt ${callback.attempts + 1}), retried in ${Math.round(delay / 1000)} s: ${error.message}`);
          counts.retried += 1;
        } else {
          await store.finishAttempt(callback.id, this.owner, { status: 'failed', error: error.message });
          logger.error(`${what} failed for good after ${callback.attempts + 1} attempt(s): ${error.message}`);
          counts.failed += 1;
        }
      }
    }
    return counts;
  }

  /** One call back: `{environment_name, state?, comment}` as the App installation. */
  private async send(callback: GithubCallback): Promise<void> {
    if (!this.isUnderApiBase(callback.callbackUrl)) {
      throw new GithubCallError(`callback URL not under ${this.options.config.apiBaseUrl}`, undefined, false);
    }
    const body: Record<string, string> = { environment_name: callback.environmentName };
    if (callback.kind === 'final') {
      if (!callback.state) throw new GithubCallError('final callback without a state', undefined, false);
      body.state = callback.state;
    }
    if (callback.comment) body.comment = callback.comment;
    const post = async () => {
      const token = await this.auth.installationToken(callback.installationId);
      try {
        return await fetch(callback.callbackUrl, {
          method: 'POST',
          headers: { ...GITHUB_API_HEADERS, Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(GITHUB_TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (e) {
        throw new GithubCallError(`callback: ${(e as Error).message}`, undefined, true);
      }
    };
    let res = await post();
    if (res.status === 401) {
      // a cached token GitHub no longer takes (revoked, App reinstalled): once more with a new one
      await res.body?.cancel().catch(() => {});
      this.auth.invalidate(callback.installationId);
      res = await post();
      if (res.status === 401) this.auth.invalidate(callback.installationId);
    }
    if (res.status < 200 || res.status >= 300) throw await responseError('callback', res);
    await res.body?.cancel().catch(() => {});
  }
}

function formatMinutes(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} day(s)`;
  if (minutes % 60 === 0) return `${minutes / 60} hour(s)`;
  return `${minutes} minute(s)`;
}
