import type { Config } from '@backstage/config';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import type { NotificationSendOptions, NotificationService } from '@backstage/plugin-notifications-node';
import type { GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { ExceptionRecord, IndexedEntity } from '../store/types';

/** Notification topic of everything this plugin sends. */
export const NOTIFICATION_TOPIC = 'runtime-risk';

/**
 * A blocked deploy is told to the owners once per entity, environment and risk
 * level in this window (a pipeline retrying a blocked deploy does not page them
 * on every try; a new risk level does).
 */
export const BLOCK_NOTIFICATION_INTERVAL_MS = 10 * 60_000;

/** The portal's decision page (app-relative, as notification links are). */
export const decisionLink = (decisionId: string) => `/runtime-risk/decisions/${encodeURIComponent(decisionId)}`;

/** Reads `runtimeRisk.approvers.group` (e.g. `group:default/security`) and `runtimeRisk.notifications.enabled`. */
export function readNotificationConfig(config: Config): { approversGroup?: string; enabled: boolean } {
  const group = config.getOptionalString('runtimeRisk.approvers.group');
  let approversGroup: string | undefined;
  if (group !== undefined) {
    try {
      approversGroup = stringifyEntityRef(parseEntityRef(group, { defaultKind: 'group', defaultNamespace: 'default' }));
    } catch (e) {
      throw new Error(`Invalid config at runtimeRisk.approvers.group: ${(e as Error).message}`);
    }
  }
  return { approversGroup, enabled: config.getOptionalBoolean('runtimeRisk.notifications.enabled') ?? true };
}

/**
 * Tells the owners of an entity when a deploy of theirs is blocked, and the
 * approvers group when a decision or an exception awaits them. Sending never
 * delays or fails the request that caused it: without the notifications
 * backend (or with `runtimeRisk.notifications.enabled: false`) it is skipped
 * with a debug log.
 */
export class RiskNotifier {
  private readonly pending = new Set<Promise<void>>();
  /** When a block of each entity + environment + risk level was last told (this process). */
  private readonly blockToldAt = new Map<string, number>();

  constructor(
    private readonly options: {
      notifications?: NotificationService;
      logger: LoggerService;
      approversGroup?: string;
      enabled?: boolean;
      /** Milliseconds now (tests). */
      now?: () => number;
    },
  ) {}

  /** Whether a block of this entity + environment + level was told within {@link BLOCK_NOTIFICATION_INTERVAL_MS}; marks it told. */
  private toldRecently(key: string): boolean {
    const now = this.options.now?.() ?? Date.now();
    const last = this.blockToldAt.get(key);
    if (last !== undefined && now - last < BLOCK_NOTIFICATION_INTERVAL_MS) return true;
    this.blockToldAt.set(key, now);
    if (this.blockToldAt.size > 10_000) {
      for (const [k, at] of this.blockToldAt) if (now - at >= BLOCK_NOTIFICATION_INTERVAL_MS) this.blockToldAt.delete(k);
    }
    return false;
  }

  /** Resolves when every notification sent so far was delivered or given up (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private send(what: string, options: NotificationSendOptions): void {
    const { notifications, logger, enabled } = this.options;
    if (!notifications || enabled === false) {
      logger.debug(`runtime-risk: notifications are off; not sending '${what}'`);
      return;
    }
    const sending = notifications
      .send(options)
      .catch((e: unknown) => {
        logger.debug(`runtime-risk: could not send the '${what}' notification (is the notifications backend installed?): ${(e as Error)?.message ?? String(e)}`);
      })
      .finally(() => this.pending.delete(sending));
    this.pending.add(sending);
  }

  private ownerRef(entity: IndexedEntity): string | undefined {
    if (!entity.owner) return undefined;
    try {
      return stringifyEntityRef(parseEntityRef(entity.owner, { defaultKind: 'group', defaultNamespace: entity.namespace }));
    } catch (e) {
      this.options.logger.debug(`runtime-risk: owner '${entity.owner}' of ${entity.entityRef} is not an entity ref: ${(e as Error).message}`);
      return undefined;
    }
  }

  /**
   * After a gate answer: owners on `block` (once per entity, environment and
   * risk level in {@link BLOCK_NOTIFICATION_INTERVAL_MS}), approvers and owners
   * on every pending `approval_required` (each needs its own approval), linking
   * to its decision page; never for dry runs.
   */
  gateDecided(answer: GateDecision, entity: IndexedEntity): void {
    if (answer.dryRun) return;
    const why = answer.reasons.map(r => r.message).slice(0, 3).join('; ');
    const link = `/catalog/${entity.namespace}/${entity.kind.toLowerCase()}/${entity.name}/runtime-risk`;
    if (answer.decision === 'block') {
      const owner = this.ownerRef(entity);
      if (!owner) return;
      const scope = `runtime-risk:blocked:${entity.entityRef}:${answer.environment}`;
      if (this.toldRecently(`${scope}:${answer.riskLevel}`)) return;
      this.send('deploy-blocked', {
        recipients: { type: 'entity', entityRef: owner },
        payload: {
          title: `Deploy of ${entity.name} to ${answer.environment} blocked (risk ${answer.riskLevel})`,
          description: why,
          link,
          severity: 'high',
          topic: NOTIFICATION_TOPIC,
          // one notification per entity + environment: a later block updates it
          scope,
        },
      });
    } else if (answer.decision === 'approval_required' && answer.status === 'pending') {
      const recipients = [this.options.approversGroup, this.ownerRef(entity)].filter((r): r is string => r !== undefined);
      if (!recipients.length) return;
      this.send('decision-awaits-approval', {
        recipients: { type: 'entity', entityRef: [...new Set(recipients)] },
        payload: {
          title: `Deploy of ${entity.name} to ${answer.environment} awaits approval`,
          description: `Decision ${answer.decisionId} (risk ${answer.riskLevel}): ${why}`,
          link: decisionLink(answer.decisionId),
          severity: 'normal',
          topic: NOTIFICATION_TOPIC,
          scope: `runtime-risk:decision:${answer.decisionId}`,
        },
      });
    }
  }

  /**
   * After the sweep revoked an exception because a newer signal broke its scope
   * (risk above its `maxLevel`, or a signal outside its `signalIds`): the
   * entity's owners and the requester.
   */
  exceptionRevoked(exception: ExceptionRecord, entity: IndexedEntity, why: string): void {
    const recipients = [this.ownerRef(entity), exception.requestedBy.startsWith('user:') ? exception.requestedBy : undefined].filter(
      (r): r is string => r !== undefined,
    );
    if (!recipients.length) return;
    this.send('exception-revoked', {
      recipients: { type: 'entity', entityRef: [...new Set(recipients)] },
      payload: {
        title: `Exception for ${entity.name} in ${exception.environment} revoked by a new signal`,
        description: `Exception ${exception.id} (requested by ${exception.requestedBy}) no longer applies: ${why}`,
        link: `/catalog/${entity.namespace}/${entity.kind.toLowerCase()}/${entity.name}/runtime-risk`,
        severity: 'high',
        topic: NOTIFICATION_TOPIC,
        scope: `runtime-risk:exception:${exception.id}`,
      },
    });
  }

  /** After an exception request: the approvers group (without the requester). */
  exceptionRequested(exception: ExceptionRecord): void {
    if (!this.options.approversGroup) return;
    this.send('exception-awaits-approval', {
      recipients: { type: 'entity', entityRef: this.options.approversGroup, excludeEntityRef: exception.requestedBy },
      payload: {
        title: `Exception for ${exception.entityRef} in ${exception.environment} awaits approval`,
        description: `${exception.requestedBy} asks until ${exception.expiresAt}: ${exception.reason}`,
        severity: 'normal',
        topic: NOTIFICATION_TOPIC,
        scope: `runtime-risk:exception:${exception.id}`,
      },
    });
  }
}
