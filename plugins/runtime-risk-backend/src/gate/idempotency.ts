import { createHash, randomUUID } from 'node:crypto';
import { ConflictError, InputError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { entityRefKey, type GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { canonicalJson } from '../lib/canonicalJson';
import type { DecisionRecord, IdempotencyClaim, RuntimeRiskStore } from '../store/types';

/** The request header carrying the key. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** How long a key answers with its first decision; older keys are swept and may be used again. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** Longest key accepted. */
export const IDEMPOTENCY_KEY_MAX = 255;
/** Characters of a key: those of UUIDs, base64/base64url and ULIDs, plus `.`, `_`, `~`, `:`. */
const KEY_PATTERN = /^[A-Za-z0-9._~:+/=-]+$/;
/** A claim without its decision after this long belongs to a request that died; another may take it over. */
export const ABANDONED_CLAIM_MS = 2 * 60 * 1000;
/** How long a request waits for the decision of a concurrent one with the same key. */
export const WAIT_FOR_WINNER_MS = 30_000;

/** The key of a request (header value), checked; undefined without the header. 400 naming the header otherwise. */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new InputError(`${IDEMPOTENCY_HEADER}: must be given once`);
  if (value.length < 1 || value.length > IDEMPOTENCY_KEY_MAX || !KEY_PATTERN.test(value)) {
    throw new InputError(
      `${IDEMPOTENCY_HEADER}: must be 1 to ${IDEMPOTENCY_KEY_MAX} characters of A-Z a-z 0-9 . _ ~ : + / = - (e.g. a UUID)`,
    );
  }
  return value;
}

/** sha256 of the canonical request (whatever the key order or defaults the caller sent). */
export function requestHash(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/** The answer a recorded decision was first given with (the same body as then). */
export function firstAnswer(record: DecisionRecord): GateDecision {
  const { request: _request, ...answer } = (record.result ?? {}) as GateDecision & { request?: unknown };
  return answer as GateDecision;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Idempotent gate calls: the first request with a key claims (caller, key)
 * through the store's unique key before it evaluates, and records its decision
 * under the claimed id; a repeat within {@link IDEMPOTENCY_TTL_MS} answers that
 * decision's first answer; the same key with another body is a 422. A
 * concurrent request with the key waits for the winner's decision; if the
 * winner fails before recording one, its claim is released and the next takes it.
 */
export class IdempotentGate {
  constructor(
    private readonly options: {
      store: RuntimeRiskStore;
      logger?: LoggerService;
      clock?: () => Date;
      waitMs?: number;
    },
  ) {}

  private now(): Date {
    return this.options.clock?.() ?? new Date();
  }

  /**
   * Runs `evaluate` (which must record its decision under the id it is given)
   * once per (caller, key, body); `replayed` when the answer is an earlier one.
   */
  async run(
    args: { caller: string; key: string; request: unknown },
    evaluate: (decisionId: string) => Promise<GateDecision>,
  ): Promise<{ answer: GateDecision; replayed: boolean }> {
    const { store } = this.options;
    const caller = entityRefKey(args.caller);
    const hash = requestHash(args.request);
    const deadline = Date.now() + (this.options.waitMs ?? WAIT_FOR_WINNER_MS);
    let delay = 20;
    for (;;) {
      const now = this.now();
      const claim: IdempotencyClaim = { caller, key: args.key, requestHash: hash, decisionId: randomUUID(), createdAt: now.toISOString() };
      const { claimed, current } = await store.claimIdempotencyKey(claim);
      let mine = claimed;
      if (!mine && current) {
        const age = now.getTime() - Date.parse(current.createdAt);
        if (age >= IDEMPOTENCY_TTL_MS) {
          // expired, not swept yet: the key starts again
          mine = await store.takeOverIdempotencyKey(current, claim);
        } else {
          const conflict = () =>
            new UnprocessableError(
              `${IDEMPOTENCY_HEADER}: '${args.key}' was used at ${current.createdAt} with a different request body ` +
                `(decision ${current.decisionId}); use a new key for a new request`,
            );
          const record = await store.getDecision(current.decisionId);
          if (record) {
            if (current.requestHash !== hash) throw conflict();
            return { answer: firstAnswer(record), replayed: true };
          }
          if (age >= ABANDONED_CLAIM_MS) {
            // its request died before recording anything: the key is free again
            this.options.logger?.warn(
              `runtime-risk: idempotency key of ${caller} claimed at ${current.createdAt} has no decision; taking it over`,
            );
            mine = await store.takeOverIdempotencyKey(current, claim);
          } else if (current.requestHash !== hash) {
            throw conflict();
          }
        }
      }
      if (mine) {
        try {
          return { answer: await evaluate(claim.decisionId), replayed: false };
        } catch (e) {
          // nothing recorded: free the key for a retry (or a waiting request)
          await store.releaseIdempotencyKey(claim).catch(() => {});
          throw e;
        }
      }
      if (Date.now() >= deadline) {
        throw new ConflictError(
          `${IDEMPOTENCY_HEADER}: a request with '${args.key}' is still being evaluated; retry with the same key`,
        );
      }
      // another request holds the key: wait for its decision (or its release)
      await sleep(delay);
      delay = Math.min(delay * 2, 250);
    }
  }

  /** Deletes keys older than {@link IDEMPOTENCY_TTL_MS}. */
  async sweep(): Promise<number> {
    const removed = await this.options.store.sweepIdempotencyKeys(new Date(this.now().getTime() - IDEMPOTENCY_TTL_MS).toISOString());
    if (removed) this.options.logger?.debug(`runtime-risk: ${removed} idempotency key(s) older than 24 hours removed`);
    return removed;
  }
}

/** 422: the request is well-formed but conflicts with what its idempotency key recorded. */
export class UnprocessableError extends Error {
  readonly statusCode = 422;
  constructor(message: string) {
    super(message);
    this.name = 'UnprocessableError';
  }
}
