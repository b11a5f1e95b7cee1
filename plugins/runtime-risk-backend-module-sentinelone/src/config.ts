import type { Config } from '@backstage/config';
import { readCommonPullSourceOptions, readHttpUrl, sourceConfigKey } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { SentinelOneSourceOptions } from './SentinelOneSignalSource';

export const SENTINELONE_CONFIG_KEY = sourceConfigKey('sentinelone');

/** Reads `runtimeRisk.sources.sentinelone`; undefined when the block is absent. Throws naming the bad key. */
export function readSentinelOneConfig(root: Config): SentinelOneSourceOptions | undefined {
  const config = root.getOptionalConfig(SENTINELONE_CONFIG_KEY);
  if (!config) return undefined;
  const apiToken = config.getString('apiToken');
  if (!apiToken.trim()) throw new Error(`Invalid config at '${SENTINELONE_CONFIG_KEY}.apiToken': must not be empty`);
  return {
    id: config.getOptionalString('id'),
    baseUrl: readHttpUrl(config, 'baseUrl', SENTINELONE_CONFIG_KEY),
    apiToken,
    accountIds: config.getOptionalStringArray('accountIds'),
    siteIds: config.getOptionalStringArray('siteIds'),
    agents: config.getOptionalBoolean('agents'),
    ...readCommonPullSourceOptions(config, SENTINELONE_CONFIG_KEY),
  };
}
