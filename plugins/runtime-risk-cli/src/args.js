// @ts-check
'use strict';

/**
 * Command-line parsing helpers for the runtime-risk CLI (plain CommonJS so the
 * bin runs with `node` alone, without a build step).
 */

/** A usage error: the CLI prints it with a hint to `--help` and exits 4. */
class UsageError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

const UNITS_MS = /** @type {const} */ ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 });

/**
 * Parses a duration such as `30m`, `10s`, `1h30m`, `500ms` or a bare number of seconds.
 * @param {string} value
 * @param {string} flag the flag name, for the error message
 * @returns {number} milliseconds
 */
function parseDuration(value, flag) {
  const text = value.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) {
    return Math.round(Number(text) * 1000);
  }
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
  let total = 0;
  let consumed = '';
  for (const match of text.matchAll(part)) {
    total += Number(match[1]) * UNITS_MS[/** @type {keyof typeof UNITS_MS} */ (match[2])];
    consumed += match[0];
  }
  if (!text || consumed !== text) {
    throw new UsageError(`${flag}: '${value}' is not a duration (use e.g. 30s, 10m, 1h30m)`);
  }
  return Math.round(total);
}

/**
 * @param {string} value
 * @param {string} flag
 * @returns {number}
 */
function parseNonNegativeInt(value, flag) {
  if (!/^\d+$/.test(value.trim())) {
    throw new UsageError(`${flag}: '${value}' is not a non-negative integer`);
  }
  return Number(value.trim());
}

/**
 * Normalizes the Backstage base URL. Accepts the backend root
 * (`https://backstage.example.com`) or the plugin's API base
 * (`https://backstage.example.com/api/runtime-risk`).
 * @param {string} value
 * @param {string} from where the value came from (flag or env var), for the error message
 * @returns {{ apiBase: string, root: string }}
 */
function normalizeBaseUrl(value, from) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(value);
  } catch (e) {
    throw new UsageError(`${from}: '${value}' is not a URL (expected e.g. https://backstage.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${from}: only http and https URLs are supported, got '${url.protocol}'`);
  }
  if (url.username || url.password) {
    throw new UsageError(`${from}: do not put credentials in the URL; use --token or RUNTIME_RISK_TOKEN`);
  }
  let path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith('/api/runtime-risk')) {
    path = path.slice(0, -'/api/runtime-risk'.length);
  }
  const root = `${url.origin}${path}`;
  return { root, apiBase: `${root}/api/runtime-risk` };
}

/** Host names that stay on this machine: plain http to them never crosses a network. */
const LOOPBACK_HOSTS = new Set(['localhost', '[::1]', '::1']);

/**
 * @param {string} hostname the URL's hostname (IPv6 in brackets)
 * @returns {boolean}
 */
function isLoopback(hostname) {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return LOOPBACK_HOSTS.has(host) || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Refuses `http://` to a host that is not loopback: the token would cross the
 * network in clear text. `--insecure` allows it.
 * @param {string} root the normalized base URL
 * @param {string} from where the value came from (flag or env var)
 * @param {boolean} insecure
 */
function assertSecureUrl(root, from, insecure) {
  const url = new URL(root);
  if (url.protocol === 'http:' && !isLoopback(url.hostname) && !insecure) {
    throw new UsageError(
      `${from}: refusing plain http:// to ${url.host}: the token and the decision would cross the network unencrypted; ` +
        'use https://, or pass --insecure if you really mean it',
    );
  }
}

/** Characters of an Idempotency-Key (the gate's own rule): 1-255 of A-Z a-z 0-9 . _ ~ : + / = - */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._~:+/=-]{1,255}$/;

/**
 * @param {string} value
 * @returns {string}
 */
function parseIdempotencyKey(value) {
  if (!IDEMPOTENCY_KEY.test(value)) {
    throw new UsageError(`--idempotency-key: '${value}' must be 1 to 255 characters of A-Z a-z 0-9 . _ ~ : + / = -`);
  }
  return value;
}

/** Providers the gate resolves a requester login at. */
const REQUESTED_BY_PROVIDERS = ['github', 'gitlab'];
/** A login as GitHub and GitLab report it (bots such as `dependabot[bot]` included). */
const LOGIN = /^[A-Za-z0-9_.\-[\]]{1,255}$/;

/**
 * Parses `--requested-by provider:login`.
 * @param {string} value
 * @returns {{ provider: string, login: string }}
 */
function parseRequestedBy(value) {
  const at = value.indexOf(':');
  const provider = at > 0 ? value.slice(0, at).toLowerCase() : '';
  const login = at > 0 ? value.slice(at + 1) : '';
  if (!REQUESTED_BY_PROVIDERS.includes(provider) || !LOGIN.test(login)) {
    throw new UsageError(
      `--requested-by: '${value}' must be <provider>:<login> with provider ${REQUESTED_BY_PROVIDERS.join(' or ')} (e.g. github:octocat)`,
    );
  }
  return { provider, login };
}

module.exports = {
  UsageError,
  parseDuration,
  parseNonNegativeInt,
  normalizeBaseUrl,
  assertSecureUrl,
  isLoopback,
  parseIdempotencyKey,
  parseRequestedBy,
  LOGIN,
};
