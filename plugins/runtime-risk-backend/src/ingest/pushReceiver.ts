import { AuthenticationError, CustomErrorBase, InputError, NotFoundError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { isPushSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { SignalStore } from '../store/types';
import type { RegisteredSource } from './sources';
import { validateSignals } from './validate';

/** Limit for push sources that do not say (`PushSignalSource.maxBodyBytes`). */
export const DEFAULT_PUSH_MAX_BODY_BYTES = 1024 * 1024;

/** 413 naming the limit (@backstage/errors has no such class; the error handler answers `statusCode`). */
export class PayloadTooLargeError extends CustomErrorBase {
  readonly statusCode = 413;
}

/** What a push delivery stored. */
export interface PushResult {
  accepted: number;
  rejected: number;
}

/**
 * Receives one delivery of a push source (the webhook route hands it the raw
 * body): checks the source's size limit, verifies the signature over the raw
 * bytes, lets the source parse the body (a JSON document parsed here; anything
 * else, e.g. NDJSON, as text), validates the signals and commits them as one
 * batch. Throws 404 for an unknown source, 413 over its limit, 401 for a bad
 * signature and 400 naming what is wrong with the body.
 */
export async function receivePush(options: {
  sourceId: string;
  sources: RegisteredSource[];
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  store: Pick<SignalStore, 'commitBatch'>;
  logger: LoggerService;
  clock?: () => Date;
}): Promise<PushResult> {
  const { sourceId: id, rawBody, logger } = options;
  const registered = options.sources.find(r => r.source.id === id);
  if (!registered || !isPushSource(registered.source)) {
    throw new NotFoundError(`source: no push source '${id}'`);
  }
  const source = registered.source;
  const maxBytes = source.maxBodyBytes ?? DEFAULT_PUSH_MAX_BODY_BYTES;
  if (rawBody.length > maxBytes) {
    throw new PayloadTooLargeError(`body: ${rawBody.length} bytes is more than the ${maxBytes} allowed by source '${id}'`);
  }
  let verified = false;
  try {
    verified = source.verify({ rawBody, headers: options.headers });
  } catch (e) {
    logger.warn(`runtime-risk push to '${id}' failed verification: ${(e as Error).message}`);
    verified = false;
  }
  if (!verified) throw new AuthenticationError(`signature: the request to source '${id}' is not correctly signed`);

  // A JSON document is parsed here; anything else (NDJSON, one signal per line)
  // goes to the source as text, and the source decides whether it can read it.
  const text = rawBody.toString('utf8');
  if (!text.trim()) throw new InputError('body: empty; expected JSON or NDJSON signals');
  let body: unknown;
  let jsonError: string | undefined;
  try {
    body = JSON.parse(text);
  } catch (e) {
    jsonError = (e as Error).message;
    body = text;
  }
  let inputs: unknown;
  try {
    inputs = source.parse(body);
  } catch (e) {
    const message = (e as Error).message;
    throw new InputError(jsonError === undefined ? message : `body: not valid JSON (${jsonError}), nor accepted as text: ${message}`);
  }
  if (!Array.isArray(inputs)) throw new InputError(`body: source '${id}' found no list of signals in the payload`);
  const at = (options.clock?.() ?? new Date()).toISOString();
  const { signals, rejected } = validateSignals({ sourceId: id, inputs, fetchedAt: at, logger });
  await options.store.commitBatch({ sourceId: id, sourceType: source.type, signals, rejected, at });
  return { accepted: signals.length, rejected };
}

/**
 * A heartbeat of a push source (`POST /v1/signals/webhook/:source/heartbeat`):
 * signed like a push (the body, possibly empty, is what the signature covers),
 * it stores no signal and records the source as heard from now, so a source
 * with `heartbeatMs` is not stale while it keeps its promise (DESIGN
 * "Coverage"). 404 for an unknown source, 413 over its limit, 401 when not
 * correctly signed.
 */
export async function receiveHeartbeat(options: {
  sourceId: string;
  sources: RegisteredSource[];
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  store: Pick<SignalStore, 'commitBatch'>;
  logger: LoggerService;
  clock?: () => Date;
}): Promise<{ at: string }> {
  const { sourceId: id, rawBody, logger } = options;
  const registered = options.sources.find(r => r.source.id === id);
  if (!registered || !isPushSource(registered.source)) {
    throw new NotFoundError(`source: no push source '${id}'`);
  }
  const source = registered.source;
  const maxBytes = source.maxBodyBytes ?? DEFAULT_PUSH_MAX_BODY_BYTES;
  if (rawBody.length > maxBytes) {
    throw new PayloadTooLargeError(`body: ${rawBody.length} bytes is more than the ${maxBytes} allowed by source '${id}'`);
  }
  let verified = false;
  try {
    verified = source.verify({ rawBody, headers: options.headers });
  } catch (e) {
    logger.warn(`runtime-risk heartbeat of '${id}' failed verification: ${(e as Error).message}`);
    verified = false;
  }
  if (!verified) throw new AuthenticationError(`signature: the request to source '${id}' is not correctly signed`);
  const at = (options.clock?.() ?? new Date()).toISOString();
  await options.store.commitBatch({ sourceId: id, sourceType: source.type, signals: [], at });
  return { at };
}
