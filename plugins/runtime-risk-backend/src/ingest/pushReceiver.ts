import { AuthenticationError, CustomErrorBase, InputError, NotFoundError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { isPushSource, type PushSignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { ReplayedDeliveryError } from '../store/DatabaseSignalStore';
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

/** What a push route hands over: the source id of the path, the raw body and the headers. */
export interface PushRequest {
  sourceId: string;
  sources: RegisteredSource[];
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  store: Pick<SignalStore, 'commitBatch'>;
  logger: LoggerService;
  clock?: () => Date;
}

/** The push source `id`; 404 for an unknown one (or a pull source). */
export function pushSourceOf(sources: RegisteredSource[], id: string): PushSignalSource {
  const registered = sources.find(r => r.source.id === id);
  if (!registered || !isPushSource(registered.source)) {
    throw new NotFoundError(`source: no push source '${id}'`);
  }
  return registered.source;
}

/** Largest body the push source accepts, bytes. */
export function maxBodyBytesOf(source: PushSignalSource): number {
  return source.maxBodyBytes ?? DEFAULT_PUSH_MAX_BODY_BYTES;
}

/**
 * The checks every signed push route makes, in this order: the source exists
 * (404), the body is within its limit (413, before any other work), the
 * signature is valid (401). Answers the source and the delivery's replay key
 * (kept with the delivery's batch, see `CommitBatchOptions.delivery`).
 */
function verifiedDelivery(request: PushRequest, what: string): { source: PushSignalSource; delivery?: { key: string; expiresAt: string } } {
  const { sourceId: id, rawBody, headers, logger } = request;
  const source = pushSourceOf(request.sources, id);
  const maxBytes = maxBodyBytesOf(source);
  if (rawBody.length > maxBytes) {
    throw new PayloadTooLargeError(`body: ${rawBody.length} bytes is more than the ${maxBytes} allowed by source '${id}'`);
  }
  let verified = false;
  try {
    verified = source.verify({ rawBody, headers });
  } catch (e) {
    logger.warn(`runtime-risk ${what} of '${id}' failed verification: ${(e as Error).message}`);
    verified = false;
  }
  if (!verified) throw new AuthenticationError(`signature: the request to source '${id}' is not correctly signed`);
  const replay = source.replayKey?.({ rawBody, headers });
  return { source, delivery: replay ? { key: replay.key, expiresAt: new Date(replay.expiresAt).toISOString() } : undefined };
}

/** Commits a verified delivery's batch; a replay key another delivery used (any replica) is a 401. */
async function commitDelivery(request: PushRequest, batch: Parameters<SignalStore['commitBatch']>[0]): Promise<void> {
  try {
    await request.store.commitBatch(batch);
  } catch (e) {
    if (e instanceof ReplayedDeliveryError) {
      request.logger.warn(`runtime-risk push to '${request.sourceId}' refused: ${e.message}`);
      throw new AuthenticationError(`signature: the request to source '${request.sourceId}' is not correctly signed (replayed)`);
    }
    throw e;
  }
}

/**
 * Receives one delivery of a push source (the webhook route hands it the raw
 * body): checks the source's size limit, verifies the signature over the raw
 * bytes, lets the source parse the body (a JSON document parsed here; anything
 * else, e.g. NDJSON, as text), validates the signals and commits them as one
 * batch, with the delivery's replay key (a replay, on any replica, is refused).
 * Throws 404 for an unknown source, 413 over its limit, 401 for a bad or
 * replayed signature and 400 naming what is wrong with the body.
 */
export async function receivePush(request: PushRequest): Promise<PushResult> {
  const { sourceId: id, rawBody, logger } = request;
  const { source, delivery } = verifiedDelivery(request, 'push');

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
  const at = (request.clock?.() ?? new Date()).toISOString();
  const { signals, rejected, rejectedReason } = validateSignals({ sourceId: id, inputs, fetchedAt: at, logger });
  await commitDelivery(request, {
    sourceId: id,
    sourceType: source.type,
    signals,
    rejected,
    ...(rejectedReason ? { rejectedReason } : {}),
    ...(delivery ? { delivery } : {}),
    at,
  });
  return { accepted: signals.length, rejected };
}

/**
 * A heartbeat of a push source (`POST /v1/signals/webhook/:source/heartbeat`):
 * signed like a push (the body, possibly empty, is what the signature covers),
 * it stores no signal and records the source as heard from now, so a source
 * with `heartbeatMs` is not stale while it keeps its promise (DESIGN
 * "Coverage"). 404 for an unknown source, 413 over its limit, 401 when not
 * correctly signed or replayed.
 */
export async function receiveHeartbeat(request: PushRequest): Promise<{ at: string }> {
  const { source, delivery } = verifiedDelivery(request, 'heartbeat');
  const at = (request.clock?.() ?? new Date()).toISOString();
  await commitDelivery(request, { sourceId: request.sourceId, sourceType: source.type, signals: [], ...(delivery ? { delivery } : {}), at });
  return { at };
}
