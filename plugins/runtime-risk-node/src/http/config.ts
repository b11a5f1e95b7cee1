import type { LoggerService } from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import type { RuntimeRiskSignalSourcesExtensionPoint } from '../extensions';
import type { SignalSource } from '../source';
import { readDurationFromConfig } from '@backstage/config';
import { durationToMilliseconds } from '@backstage/types';
import type { HumanDuration } from '@backstage/types';

/** Config root of a source module: `runtimeRisk.sources.<name>`. */
export function sourceConfigKey(name: string): string {
  return `runtimeRisk.sources.${name}`;
}

/**
 * Reads a required http(s) URL at `key` of `config` (a config rooted at the
 * source's block) and fails naming the full key when it is not one.
 */
export function readHttpUrl(config: Config, key: string, fullPrefix: string): string {
  const value = config.getString(key);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`Invalid config at '${fullPrefix}.${key}': '${value}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`Invalid config at '${fullPrefix}.${key}': only http and https URLs are supported`);
  }
  return value.replace(/\/+$/, '');
}

/** Reads an optional positive integer, failing with the full key name. */
export function readOptionalPositiveInt(config: Config, key: string, fullPrefix: string): number | undefined {
  const v = config.getOptionalNumber(key);
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v <= 0) {
    throw new Error(`Invalid config at '${fullPrefix}.${key}': must be a positive integer`);
  }
  return v;
}

/** Options every pull source block may carry besides its credentials. */
export interface CommonPullSourceOptions {
  /** Per-request timeout in milliseconds. */
  requestTimeoutMs?: number;
  /** Page size of vendor listings. */
  pageSize?: number;
  /** Pages fetched per sync before returning `hasMore`. */
  maxPages?: number;
  /** Schedule override. */
  schedule?: { frequency?: HumanDuration; timeout?: HumanDuration };
  /** `hostInventory`: the vendor host inventory sync (`enabled` default true, its own schedule and `maxPages`). */
  hostInventory?: HostInventoryOptions;
}

/** `hostInventory` of a pull source block. */
export interface HostInventoryOptions {
  /** List the vendor's hosts; default true. */
  enabled?: boolean;
  /** Default every hour. */
  frequency?: HumanDuration;
  /** Default 15 minutes. */
  timeout?: HumanDuration;
  /** Pages per call before the backend commits and calls again. */
  maxPages?: number;
  /** Hosts per page (vendor maximum applies). */
  pageSize?: number;
}

/** Reads a `hostInventory` block (`false` turns it off); undefined when absent. Throws naming the full key. */
export function readHostInventoryOptions(config: Config, fullPrefix: string): HostInventoryOptions | undefined {
  if (!config.has('hostInventory')) return undefined;
  const key = `${fullPrefix}.hostInventory`;
  const raw = config.getOptional('hostInventory');
  if (raw === false) return { enabled: false };
  if (raw === true) return { enabled: true };
  const block = config.getOptionalConfig('hostInventory');
  if (!block) throw new Error(`Invalid config at '${key}': must be true, false or an object`);
  const duration = (name: string) => {
    if (!block.has(name)) return undefined;
    try {
      return readDurationFromConfig(block, { key: name });
    } catch (e) {
      throw new Error(`Invalid config at '${key}.${name}': ${(e as Error).message}`);
    }
  };
  const out: HostInventoryOptions = {};
  const enabled = block.getOptionalBoolean('enabled');
  if (enabled !== undefined) out.enabled = enabled;
  const frequency = duration('frequency');
  if (frequency) out.frequency = frequency;
  const timeout = duration('timeout');
  if (timeout) out.timeout = timeout;
  const maxPages = readOptionalPositiveInt(block, 'maxPages', key);
  if (maxPages) out.maxPages = maxPages;
  const pageSize = readOptionalPositiveInt(block, 'pageSize', key);
  if (pageSize) out.pageSize = pageSize;
  return out;
}

/** Reads `requestTimeout`, `pageSize`, `maxPages` and `schedule.{frequency,timeout}` of a source block. */
export function readCommonPullSourceOptions(config: Config, fullPrefix: string): CommonPullSourceOptions {
  const timeoutCfg = config.getOptionalConfig('requestTimeout');
  const scheduleCfg = config.getOptionalConfig('schedule');
  const frequency = scheduleCfg?.getOptionalConfig('frequency');
  const timeout = scheduleCfg?.getOptionalConfig('timeout');
  const schedule =
    frequency || timeout
      ? {
          ...(frequency ? { frequency: readDurationFromConfig(frequency) } : {}),
          ...(timeout ? { timeout: readDurationFromConfig(timeout) } : {}),
        }
      : undefined;
  return {
    requestTimeoutMs: timeoutCfg ? durationToMilliseconds(readDurationFromConfig(timeoutCfg)) : undefined,
    pageSize: readOptionalPositiveInt(config, 'pageSize', fullPrefix),
    maxPages: readOptionalPositiveInt(config, 'maxPages', fullPrefix),
    schedule,
    ...(config.has('hostInventory') ? { hostInventory: readHostInventoryOptions(config, fullPrefix) } : {}),
  };
}

/**
 * The body of a source module's `init`: reads the module's block with `read`
 * (undefined = block absent = module idle, a throw fails start-up naming the
 * key) and registers what `create` builds through the extension point.
 */
export function addConfiguredSources<T>(options: {
  name: string;
  config: Config;
  logger: LoggerService;
  sources: RuntimeRiskSignalSourcesExtensionPoint;
  read(config: Config): T | undefined;
  create(options: T): SignalSource | SignalSource[];
}): SignalSource[] {
  const settings = options.read(options.config);
  if (settings === undefined) {
    options.logger.info(`${sourceConfigKey(options.name)} is not configured; the ${options.name} source is idle`);
    return [];
  }
  const created = options.create(settings);
  const list = Array.isArray(created) ? created : [created];
  options.sources.addSignalSource(...list);
  options.logger.info(`Registered signal source(s) ${list.map(s => s.id).join(', ')}`);
  return list;
}
