import type { Config } from '@backstage/config';
import { readCommonPullSourceOptions, readHttpUrl, sourceConfigKey } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { CROWDSTRIKE_REGIONS, CrowdStrikeSourceOptions } from './CrowdStrikeSignalSource';

export const CROWDSTRIKE_CONFIG_KEY = sourceConfigKey('crowdstrike');

/** Reads `runtimeRisk.sources.crowdstrike`; undefined when the block is absent. Throws naming the bad key. */
export function readCrowdStrikeConfig(root: Config): CrowdStrikeSourceOptions | undefined {
  const config = root.getOptionalConfig(CROWDSTRIKE_CONFIG_KEY);
  if (!config) return undefined;
  const region = config.getOptionalString('region');
  let baseUrl: string;
  if (config.has('baseUrl')) {
    baseUrl = readHttpUrl(config, 'baseUrl', CROWDSTRIKE_CONFIG_KEY);
  } else {
    const known = Object.keys(CROWDSTRIKE_REGIONS).join(', ');
    if (region !== undefined && !(region in CROWDSTRIKE_REGIONS)) {
      throw new Error(`Invalid config at '${CROWDSTRIKE_CONFIG_KEY}.region': '${region}' is not one of ${known}`);
    }
    baseUrl = CROWDSTRIKE_REGIONS[(region ?? 'us-1') as keyof typeof CROWDSTRIKE_REGIONS];
  }
  return {
    id: config.getOptionalString('id'),
    baseUrl,
    clientId: config.getString('clientId'),
    clientSecret: config.getString('clientSecret'),
    memberCid: config.getOptionalString('memberCid'),
    filter: config.getOptionalString('filter'),
    inventory: config.getOptionalBoolean('inventory'),
    ...readCommonPullSourceOptions(config, CROWDSTRIKE_CONFIG_KEY),
  };
}
