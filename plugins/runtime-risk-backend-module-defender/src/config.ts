import type { Config } from '@backstage/config';
import { readCommonPullSourceOptions, readHttpUrl, sourceConfigKey } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { DefenderSourceOptions } from './DefenderSignalSource';

export const DEFENDER_CONFIG_KEY = sourceConfigKey('defender');

/** Reads `runtimeRisk.sources.defender`; undefined when the block is absent. Throws naming the bad key. */
export function readDefenderConfig(root: Config): DefenderSourceOptions | undefined {
  const config = root.getOptionalConfig(DEFENDER_CONFIG_KEY);
  if (!config) return undefined;
  return {
    id: config.getOptionalString('id'),
    tenantId: config.getString('tenantId'),
    clientId: config.getString('clientId'),
    clientSecret: config.getString('clientSecret'),
    apiUrl: config.has('apiUrl') ? readHttpUrl(config, 'apiUrl', DEFENDER_CONFIG_KEY) : 'https://api.securitycenter.microsoft.com',
    loginUrl: config.has('loginUrl') ? readHttpUrl(config, 'loginUrl', DEFENDER_CONFIG_KEY) : 'https://login.microsoftonline.com',
    machines: config.getOptionalBoolean('machines'),
    ...readCommonPullSourceOptions(config, DEFENDER_CONFIG_KEY),
  };
}
