import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Config } from '@backstage/config';
import { readDurationFromConfig } from '@backstage/config';
import type { HumanDuration } from '@backstage/types';
import { durationToMs } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** The config key of the GitHub deployment protection rule (docs/github.md). */
export const GITHUB_CONFIG_KEY = 'runtimeRisk.integrations.github';
export const DEFAULT_GITHUB_API_BASE_URL = 'https://api.github.com';

/** `runtimeRisk.integrations.github`, validated (see config.d.ts). Holds secrets: never log it. */
export interface GithubIntegrationConfig {
  appId: string;
  /** The App's private key (RS256 JWTs). */
  privateKey: KeyObject;
  /** HMAC-SHA256 key of `X-Hub-Signature-256`. */
  webhookSecret: string;
  /** REST API root, without trailing slash: `https://api.github.com` or `https://ghe.example.com/api/v3`. */
  apiBaseUrl: string;
  /** GitHub environment name -> policy environment. */
  environments: Record<string, string>;
  /** Policy environment of GitHub environments not in `environments`; absent: those are not gated. */
  defaultEnvironment?: string;
  /** The answer for a repository no entity names in `github.com/project-slug` (default approve, with a comment). */
  unknownRepository: 'approve' | 'reject';
  /** `app.baseUrl`: decision links are `<app.baseUrl>/runtime-risk/decisions/<id>`. */
  appBaseUrl: string;
  /** Calls back to GitHub: how often the task sends queued ones, first retry delay (doubling) and attempts. */
  callbacks: { frequency: HumanDuration; backoffMs: number; maxAttempts: number };
}

function fail(key: string, message: string): never {
  throw new Error(`Invalid config at ${GITHUB_CONFIG_KEY}.${key}: ${message}`);
}

function duration(config: Config, key: string, fallback: HumanDuration): HumanDuration {
  if (!config.has(key)) return fallback;
  try {
    return readDurationFromConfig(config, { key });
  } catch (e) {
    return fail(key, (e as Error).message);
  }
}

/** An optional string key; a value of another type (or empty) fails naming the key. */
function optionalString(config: Config, key: string): string | undefined {
  const value = config.getOptional(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') return fail(key, 'must be a non-empty string');
  return value;
}

/** Base URL with one trailing slash removed and checked (http(s), no credentials, no query). */
export function normalizeBaseUrl(value: string, key: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(key, `'${value}' is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(key, 'must be an http(s) URL');
  if (url.username || url.password || url.search || url.hash) fail(key, 'must not carry credentials, a query or a fragment');
  return url.toString().replace(/\/+$/, '');
}

/**
 * Reads `runtimeRisk.integrations.github`; undefined when the block is absent
 * (the receiver then answers 404). Fails fast naming the key, never its value
 * for secrets. `policyEnvironments` are the environments the policy defines.
 */
export function readGithubConfig(root: Config, policyEnvironments: string[]): GithubIntegrationConfig | undefined {
  const config = root.getOptionalConfig(GITHUB_CONFIG_KEY);
  if (!config) return undefined;
  const appIdRaw = config.getOptional('appId');
  if (appIdRaw === undefined || appIdRaw === null || appIdRaw === '') fail('appId', 'required');
  const appId = String(appIdRaw);
  if (!/^\d+$/.test(appId) && !/^Iv[0-9A-Za-z._-]+$/.test(appId)) fail('appId', 'must be the App ID (a number) or its client ID');
  const keyText = optionalString(config, 'privateKey');
  if (!keyText) fail('privateKey', 'required (the PEM of the GitHub App private key)');
  let privateKey: KeyObject;
  try {
    // keys given through environment variables often carry literal \n
    privateKey = createPrivateKey(keyText.includes('-----BEGIN') ? keyText.replace(/\\n/g, '\n') : keyText);
  } catch {
    return fail('privateKey', 'not a readable PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') fail('privateKey', 'must be an RSA key (GitHub App keys are)');
  const webhookSecret = optionalString(config, 'webhookSecret');
  if (!webhookSecret) fail('webhookSecret', 'required (the App\'s webhook secret)');
  const apiBaseUrl = normalizeBaseUrl(optionalString(config, 'apiBaseUrl') ?? DEFAULT_GITHUB_API_BASE_URL, 'apiBaseUrl');

  const known = new Set(policyEnvironments);
  const environments: Record<string, string> = {};
  const envConfig = config.getOptionalConfig('environments');
  for (const name of envConfig?.keys() ?? []) {
    const target = envConfig!.getOptional(name);
    if (typeof target !== 'string' || !target) fail(`environments.${name}`, 'must name a policy environment');
    if (!known.has(target)) fail(`environments.${name}`, `unknown policy environment '${target}'; the policy defines: ${[...known].sort().join(', ')}`);
    environments[name] = target;
  }
  const defaultEnvironment = optionalString(config, 'defaultEnvironment');
  if (defaultEnvironment !== undefined && !known.has(defaultEnvironment)) {
    fail('defaultEnvironment', `unknown policy environment '${defaultEnvironment}'; the policy defines: ${[...known].sort().join(', ')}`);
  }
  const unknownRepository = optionalString(config, 'unknownRepository') ?? 'approve';
  if (unknownRepository !== 'approve' && unknownRepository !== 'reject') fail('unknownRepository', "must be 'approve' or 'reject'");

  const appBaseUrl = (root.getOptionalString('app.baseUrl') ?? 'http://localhost:3000').replace(/\/+$/, '');
  const backoffMs = durationToMs(duration(config, 'callbacks.backoff', { seconds: 10 }));
  const maxAttempts = config.getOptionalNumber('callbacks.maxAttempts') ?? 10;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) fail('callbacks.maxAttempts', 'must be a positive integer');
  return {
    appId,
    privateKey,
    webhookSecret,
    apiBaseUrl,
    environments,
    ...(defaultEnvironment !== undefined ? { defaultEnvironment } : {}),
    unknownRepository,
    appBaseUrl,
    callbacks: {
      frequency: duration(config, 'callbacks.frequency', { seconds: 15 }),
      backoffMs,
      maxAttempts,
    },
  };
}

/** The principal recorded as asserting the requester of a deployment GitHub asks about (`assertedBy`). */
export function githubAppPrincipal(config: Pick<GithubIntegrationConfig, 'appId'>): string {
  return `github-app:${config.appId}`;
}
