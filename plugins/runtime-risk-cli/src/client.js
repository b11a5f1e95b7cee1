// @ts-check
'use strict';

/**
 * Minimal HTTP client for the gate API. Errors are classified so the CLI can
 * map them to exit codes; the token is only ever put in the Authorization header
 * and never into a message.
 */

/**
 * Why a call failed:
 * - `unreachable`: network error, timeout, 5xx, or an answer that is not the gate's JSON (exit 3)
 * - `auth`: 401 / 403 (exit 3)
 * - `input`: 400 or 404 (exit 4, the server's message is shown)
 * @typedef {'unreachable' | 'auth' | 'input'} GateErrorKind
 */

class GateError extends Error {
  /**
   * @param {GateErrorKind} kind
   * @param {string} message
   * @param {number} [status]
   */
  constructor(kind, message, status) {
    super(message);
    this.name = 'GateError';
    this.kind = kind;
    this.status = status;
  }
}

/** Statuses worth retrying: the gate or a proxy in front of it is (re)starting. */
const RETRY_STATUSES = new Set([502, 503, 504]);

/**
 * @typedef {object} ClientOptions
 * @property {string} apiBase e.g. https://backstage.example.com/api/runtime-risk
 * @property {string | undefined} token
 * @property {number} retries extra attempts after a network failure or 502/503/504
 * @property {number} requestTimeoutMs
 * @property {(message: string) => void} [onRetry]
 * @property {number} [retryBaseDelayMs] first back-off delay, doubled each retry (default 500)
 */

/**
 * @param {ClientOptions} options
 */
function createClient(options) {
  const baseDelay = options.retryBaseDelayMs ?? 500;
  /**
   * Masks the token in text that came from elsewhere (a server or proxy echoing headers).
   * @param {string} text
   */
  const redact = text => (options.token ? text.split(options.token).join('***') : text);

  /**
   * @param {'GET' | 'POST'} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {Record<string, string>} [extraHeaders] sent on every attempt (the Idempotency-Key)
   * @returns {Promise<unknown>}
   */
  async function request(method, path, body, extraHeaders) {
    const url = `${options.apiBase}${path}`;
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json', 'User-Agent': 'runtime-risk-cli' };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    Object.assign(headers, extraHeaders);
    // with an idempotency key, a retry is answered by the first decision: 409 means that one is still being made
    const retryStatuses = extraHeaders?.['Idempotency-Key'] ? new Set([...RETRY_STATUSES, 409]) : RETRY_STATUSES;

    /** @type {GateError | undefined} */
    let lastError;
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      if (attempt > 0) {
        const delay = baseDelay * 2 ** (attempt - 1);
        options.onRetry?.(`${lastError?.message}; retrying in ${formatMs(delay)} (${attempt}/${options.retries})`);
        await sleep(delay);
      }
      /** @type {Response} */
      let response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(options.requestTimeoutMs),
        });
      } catch (e) {
        lastError = new GateError('unreachable', `cannot reach the gate at ${url}: ${describeNetworkError(e)}`);
        continue;
      }
      const text = await response.text().catch(
        /** @param {unknown} e */ e => {
          lastError = new GateError('unreachable', `reading the answer of ${url} failed: ${describeNetworkError(e)}`);
          return undefined;
        },
      );
      if (text === undefined) continue;

      if (response.ok) {
        try {
          return JSON.parse(text);
        } catch (e) {
          throw new GateError(
            'unreachable',
            `${method} ${url} answered ${response.status} but not with JSON; is the URL the Backstage backend? ` +
              `(got: ${redact(JSON.stringify(text.slice(0, 80)))})`,
            response.status,
          );
        }
      }
      const { name, message } = parseErrorBody(text, response.statusText);
      const detail = redact(`${response.status} ${name}: ${message}`);
      if (retryStatuses.has(response.status)) {
        lastError = new GateError('unreachable', `the gate at ${url} answered ${detail}`, response.status);
        continue;
      }
      if (response.status === 401 || response.status === 403) {
        throw new GateError(
          'auth',
          `the gate refused the credentials (${detail})` +
            (options.token ? '' : '; no token was given: set RUNTIME_RISK_TOKEN or pass --token'),
          response.status,
        );
      }
      if (response.status === 400 || response.status === 404 || response.status === 409 || response.status === 422) {
        throw new GateError('input', `the gate rejected the request (${detail})`, response.status);
      }
      throw new GateError('unreachable', `the gate at ${url} failed (${detail})`, response.status);
    }
    throw lastError ?? new GateError('unreachable', `cannot reach the gate at ${url}`);
  }

  return {
    /**
     * @param {Record<string, unknown>} gateRequest
     * @param {{ idempotencyKey?: string }} [options] the key is sent with every attempt, so a retry
     *   after a lost answer gets the first decision instead of recording another
     */
    evaluate: (gateRequest, options = {}) =>
      request('POST', '/v1/gate', gateRequest, options.idempotencyKey ? { 'Idempotency-Key': options.idempotencyKey } : undefined),
    /** @param {string} id */
    getDecision: id => request('GET', `/v1/decisions/${encodeURIComponent(id)}`),
    verifyAudit: () => request('GET', '/v1/audit/verify'),
    getAuditHead: () => request('GET', '/v1/audit/head'),
    /** @param {number} seq */
    getAuditRecord: seq => request('GET', `/v1/audit/records/${seq}`),
    /** @param {Record<string, unknown>} body the backtest request (nothing is recorded: safe to retry) */
    backtestPolicy: body => request('POST', '/v1/policy/backtest', body),
  };
}

/**
 * @param {string} text
 * @param {string} statusText
 * @returns {{ name: string, message: string }}
 */
function parseErrorBody(text, statusText) {
  try {
    const body = JSON.parse(text);
    const error = body && typeof body === 'object' ? body.error : undefined;
    if (error && typeof error === 'object') {
      return {
        name: typeof error.name === 'string' ? error.name : 'Error',
        message: typeof error.message === 'string' ? error.message : statusText,
      };
    }
  } catch (e) {
    // Not a Backstage JSON error body (e.g. a proxy's HTML page): fall through to the raw text.
  }
  return { name: statusText || 'Error', message: text.trim().slice(0, 200) || statusText };
}

/**
 * @param {unknown} e
 * @returns {string}
 */
function describeNetworkError(e) {
  if (e instanceof Error) {
    if (e.name === 'TimeoutError') return 'request timed out';
    const cause = /** @type {{ cause?: { code?: string, message?: string } }} */ (e).cause;
    if (cause && cause.message) {
      return cause.code && !cause.message.includes(cause.code) ? `${cause.code} ${cause.message}` : cause.message;
    }
    if (cause && cause.code) return cause.code;
    return e.message;
  }
  return String(e);
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/** @param {number} ms */
function formatMs(ms) {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

module.exports = { GateError, createClient, sleep, formatMs };
