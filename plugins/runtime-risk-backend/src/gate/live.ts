import type { LoggerService } from '@backstage/backend-plugin-api';
import { readDurationFromConfig, type Config } from '@backstage/config';
import type { SignalsService } from '@backstage/plugin-signals-node';
import {
  RISK_ALL_CHANNEL,
  durationToMs,
  riskChannel,
  type RiskChangedMessage,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** How long changes are gathered before they are announced (one message per entity per window). */
export const DEFAULT_LIVE_DEBOUNCE_MS = 500;
/**
 * Most entity messages in one window; more changed entities are announced with
 * one message on {@link RISK_ALL_CHANNEL} instead (an index rebuild that
 * changes thousands of entities sends one message, not thousands).
 */
export const DEFAULT_LIVE_MAX_PER_WINDOW = 200;

export interface LiveConfig {
  enabled: boolean;
  debounceMs: number;
  maxPerWindow: number;
}

/** Reads `runtimeRisk.live` (`enabled`, default true; `debounce`, default 500 ms; `maxPerWindow`, default 200). */
export function readLiveConfig(config: Config): LiveConfig {
  let debounceMs = DEFAULT_LIVE_DEBOUNCE_MS;
  if (config.has('runtimeRisk.live.debounce')) {
    try {
      debounceMs = durationToMs(readDurationFromConfig(config, { key: 'runtimeRisk.live.debounce' }));
    } catch (e) {
      throw new Error(`Invalid config at runtimeRisk.live.debounce: ${(e as Error).message}`);
    }
  }
  const maxPerWindow = config.getOptionalNumber('runtimeRisk.live.maxPerWindow') ?? DEFAULT_LIVE_MAX_PER_WINDOW;
  if (!Number.isInteger(maxPerWindow) || maxPerWindow < 1) {
    throw new Error(`Invalid config at runtimeRisk.live.maxPerWindow: must be a positive integer, got ${maxPerWindow}`);
  }
  return {
    enabled: config.getOptionalBoolean('runtimeRisk.live.enabled') ?? true,
    debounceMs,
    maxPerWindow,
  };
}

/**
 * Tells the portal that an entity's risk changed (issue 18 part 4): a
 * data-less `{type: 'changed'}` on the Backstage signals service, channel
 * `runtime-risk:<entityRef>`, broadcast (nothing in it is sensitive: the card
 * refetches through the permission-checked API). Changes are coalesced: the
 * entities named within one window (`debounceMs`) get one message each when it
 * ends; more than `maxPerWindow` of them, or a change that may concern every
 * entity (a source changed state), get one message on `runtime-risk:all`.
 *
 * The signals service publishes through the events service, so with several
 * replicas and the events backend installed a message reaches the browsers
 * connected to every replica. Without the signals backend the messages go
 * nowhere and the portal keeps polling; publishing never fails or delays the
 * write that caused it (errors are logged at debug level, like notifications).
 */
export class RiskChangePublisher {
  private readonly pending = new Set<string>();
  private allPending = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly options: {
      signals?: SignalsService;
      logger: LoggerService;
    } & Partial<LiveConfig>,
  ) {}

  private get active(): boolean {
    return !!this.options.signals && this.options.enabled !== false && !this.stopped;
  }

  /** These entities' risk (or what the portal shows of it) changed. */
  entitiesChanged(entityRefs: Iterable<string>): void {
    if (!this.active) return;
    let added = false;
    for (const ref of entityRefs) {
      if (!ref) continue;
      this.pending.add(ref.toLowerCase());
      added = true;
    }
    if (added) this.schedule();
  }

  /** Any entity's risk may have changed (a source changed state, the index could not be compared). */
  allChanged(): void {
    if (!this.active) return;
    this.allPending = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.debounceMs ?? DEFAULT_LIVE_DEBOUNCE_MS);
    this.timer.unref?.();
  }

  /** Sends what is pending now (the window's end); resolves when sent. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const refs = [...this.pending];
    const all = this.allPending || refs.length > (this.options.maxPerWindow ?? DEFAULT_LIVE_MAX_PER_WINDOW);
    this.pending.clear();
    this.allPending = false;
    if (!all && refs.length === 0) return this.flushing;
    const channels = all ? [RISK_ALL_CHANNEL] : refs.map(riskChannel);
    // windows are sent in order
    this.flushing = this.flushing.then(() => this.publish(channels));
    return this.flushing;
  }

  private async publish(channels: string[]): Promise<void> {
    const { signals, logger } = this.options;
    if (!signals) return;
    const failures: string[] = [];
    await Promise.all(
      channels.map(channel =>
        signals
          .publish<RiskChangedMessage>({ recipients: { type: 'broadcast' }, channel, message: { type: 'changed' } })
          .catch((e: unknown) => {
            failures.push((e as Error)?.message ?? String(e));
          }),
      ),
    );
    if (failures.length) {
      logger.debug(
        `runtime-risk: could not publish ${failures.length} of ${channels.length} live update(s) (is the signals backend installed?): ${failures[0]}`,
      );
    }
  }

  /** Drops what is pending and sends nothing more (shutdown). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.allPending = false;
  }
}
