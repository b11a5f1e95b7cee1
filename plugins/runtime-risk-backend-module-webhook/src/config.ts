import { readDurationFromConfig, type Config } from '@backstage/config';
import { durationToMs, parseDuration } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { sourceConfigKey } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { WebhookSourceOptions } from './WebhookSignalSource';

export const WEBHOOK_CONFIG_KEY = sourceConfigKey('webhook');

/**
 * Reads `runtimeRisk.sources.webhook.sources[]`; undefined when the block is
 * absent. Throws naming the bad key (e.g. `runtimeRisk.sources.webhook.sources[0].secret`).
 */
export function readWebhookConfig(root: Config): WebhookSourceOptions[] | undefined {
  const config = root.getOptionalConfig(WEBHOOK_CONFIG_KEY);
  if (!config) return undefined;
  const defaults = {
    toleranceSeconds: config.getOptionalNumber('toleranceSeconds'),
    requireTimestamp: config.getOptionalBoolean('requireTimestamp'),
    maxBodyBytes: config.getOptionalNumber('maxBodyBytes'),
    maxSignals: config.getOptionalNumber('maxSignals'),
  };
  const ids = new Set<string>();
  return config.getConfigArray('sources').map((entry, i) => {
    const key = `${WEBHOOK_CONFIG_KEY}.sources[${i}]`;
    const id = entry.getString('id');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
      throw new Error(`Invalid config at '${key}.id': '${id}' must be letters, digits, '.', '_' or '-' (it is part of the URL)`);
    }
    if (ids.has(id)) throw new Error(`Invalid config at '${key}.id': duplicate id '${id}'`);
    ids.add(id);
    const secret = entry.getString('secret');
    if (!secret.trim()) throw new Error(`Invalid config at '${key}.secret': must not be empty`);
    const heartbeatMs = readHeartbeat(entry, `${key}.heartbeat`);
    return {
      ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
      ...defaults,
      id,
      secret,
      toleranceSeconds: entry.getOptionalNumber('toleranceSeconds') ?? defaults.toleranceSeconds,
      requireTimestamp: entry.getOptionalBoolean('requireTimestamp') ?? defaults.requireTimestamp,
    };
  });
}

/** `heartbeat`: `15m`-style text, a number of seconds, or a duration object (`{ minutes: 15 }`, ISO text). */
function readHeartbeat(entry: Config, key: string): number | undefined {
  if (!entry.has('heartbeat')) return undefined;
  const raw = entry.getOptional('heartbeat');
  let ms: number;
  try {
    if (typeof raw === 'number') ms = parseDuration(raw, key);
    else if (typeof raw === 'string' && !raw.trim().toUpperCase().startsWith('P')) ms = parseDuration(raw, key);
    else ms = durationToMs(readDurationFromConfig(entry, { key: 'heartbeat' }));
  } catch (e) {
    throw new Error(`Invalid config at '${key}': ${(e as Error).message}`);
  }
  if (!(ms > 0)) throw new Error(`Invalid config at '${key}': must be longer than zero`);
  return ms;
}
