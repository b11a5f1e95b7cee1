import {
  SignalInputSchema,
  normalizeAsset,
  type ParsedSignalInput,
  type Signal,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { isValidatedSignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** Result of validating what a source produced. */
export interface ValidatedBatch {
  signals: Signal[];
  rejected: number;
}

/**
 * Validates and normalizes raw signal inputs of a source. Invalid records are
 * counted and logged with the source id, their index and the field at fault
 * (never the value), and are never stored. Inputs `normalizeRecords` of the
 * node library returned were validated against the same schema there and are
 * not parsed again (parsing a parsed input returns it unchanged).
 */
export function validateSignals(options: {
  sourceId: string;
  inputs: unknown[];
  fetchedAt: string;
  logger: LoggerService;
}): ValidatedBatch {
  const { sourceId, inputs, fetchedAt, logger } = options;
  const signals: Signal[] = [];
  let rejected = 0;
  const seen = new Map<string, number>();
  inputs.forEach((input, index) => {
    let value: ParsedSignalInput;
    let asset: ParsedSignalInput['asset'];
    if (isValidatedSignalInput(input)) {
      value = input;
      // normalizeRecords normalized it already (normalizeAsset is idempotent)
      asset = input.asset;
    } else {
      const parsed = SignalInputSchema.safeParse(input);
      if (!parsed.success) {
        rejected += 1;
        const fields = [...new Set(parsed.error.issues.map(i => i.path.map(String).join('.') || '(record)'))];
        logger.warn(`runtime-risk source '${sourceId}' sent an invalid signal at index ${index}; rejected field(s): ${fields.join(', ')}`);
        return;
      }
      value = parsed.data;
      asset = normalizeAsset(value.asset);
    }
    // Object.assign, not a spread: V8 copies a spread with extra keys slowly (a few µs per signal)
    const signal: Signal = Object.assign({}, value, {
      asset,
      firstSeenAt: new Date(value.firstSeenAt).toISOString(),
      lastSeenAt: new Date(value.lastSeenAt).toISOString(),
      id: `${sourceId}:${value.sourceId}`,
      source: sourceId,
      fetchedAt,
    });
    // the same vendor id twice in one batch: the last one wins
    const at = seen.get(signal.id);
    if (at !== undefined) {
      signals[at] = signal;
    } else {
      seen.set(signal.id, signals.length);
      signals.push(signal);
    }
  });
  return { signals, rejected };
}

/** A one-line error message safe for storing and logging: no stack, no credentials in URLs, bounded. */
export function safeErrorMessage(error: unknown): string {
  const raw = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return raw
    .replace(/\/\/[^/\s:@]+:[^/\s@]+@/g, '//***:***@')
    .replace(/(authorization|token|secret|password|apikey|api_key|client_secret)(["']?\s*[:=]\s*)("?)[^\s"',;&]+/gi, '$1$2$3***')
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1***')
    .replace(/\s+/g, ' ')
    .slice(0, 500);
}
