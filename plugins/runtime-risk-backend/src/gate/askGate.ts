import type { BackstageCredentials } from '@backstage/backend-plugin-api';
import type { GateDecision, ParsedGateRequest } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { principalRef } from './ExceptionService';
import type { IdempotentGate } from './idempotency';
import type { Requester, RequesterResolver } from './requester';
import type { RiskService } from './RiskService';

export interface AskGateDeps {
  risk: RiskService;
  /** Idempotency keys; without it a key is ignored (tests wiring the router alone). */
  idempotency?: IdempotentGate;
  /** Resolves `requestedBy`; without it the login is recorded unresolved. */
  requesters?: RequesterResolver;
}

/**
 * One gate request as `POST /v1/gate` serves it: the person it names
 * (`requestedBy`) resolved to a User entity and recorded as asserted by the
 * caller's principal, and with an idempotency key, one decision per (caller,
 * key, body). `replayed` when the answer is the key's earlier decision.
 */
export async function askGate(
  deps: AskGateDeps,
  credentials: BackstageCredentials,
  request: ParsedGateRequest,
  idempotencyKey?: string,
): Promise<{ answer: GateDecision; replayed: boolean }> {
  const caller = principalRef(credentials);
  const evaluate = async (decisionId?: string) => {
    let requester: Requester | undefined;
    if (request.requestedBy) {
      requester = deps.requesters
        ? await deps.requesters.resolve(request.requestedBy, caller)
        : { ...request.requestedBy, entityRef: null, resolved: false, note: 'not resolved', assertedBy: caller };
    }
    return deps.risk.gate(request, { requestedBy: caller, requester, decisionId });
  };
  if (idempotencyKey === undefined || !deps.idempotency) return { answer: await evaluate(), replayed: false };
  return deps.idempotency.run({ caller, key: idempotencyKey, request }, evaluate);
}
