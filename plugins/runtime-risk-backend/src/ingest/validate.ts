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
  /** Why the last rejected record was rejected (field and problem, never the value). */
  rejectedReason?: string;
  /** Records stored after cleaning (NUL characters removed, over-long text cut, a bad `url` dropped). */
  cleaned: number;
}

/**
 * Longest values stored (characters). Identifiers longer than their limit make
 * the record rejected (cutting one could match another host); free text is cut
 * with {@link TRUNCATION_MARKER}; a longer `url` is dropped.
 */
export const SIGNAL_LIMITS = {
  /** The vendor's id (`runtime_risk_signals.source_id`). */
  sourceId: 255,
  /** A DNS name is at most 253 characters. */
  hostname: 253,
  /** Any other string of the asset (device/instance ids, IPs, MACs, cloud and Kubernetes fields; identifiers are indexed). */
  assetValue: 255,
  title: 1024,
  description: 16_384,
  /** One tactic or technique. */
  tag: 256,
  url: 2048,
  /** Indicators (`indicators.filePath`, `.processName`, `.commandLine`), cut like free text. */
  filePath: 4096,
  processName: 1024,
  commandLine: 8192,
} as const;

/** Appended to text cut at its limit. */
export const TRUNCATION_MARKER = '…[truncated]';

/** Why a record cannot be stored as it is: `field: problem`. */
class Rejected extends Error {}

const NUL = /\u0000/g;

type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/**
 * `v` without NUL characters and with every lone UTF-16 surrogate (JSON.parse
 * makes them from `"\ud800"`) as U+FFFD: PostgreSQL refuses both in text and
 * JSON, SQLite would store a lone surrogate as three invalid bytes.
 */
function withoutNul(v: string): string {
  const out = v.includes('\u0000') ? v.replace(NUL, '') : v;
  return (out as unknown as WellFormed).isWellFormed() ? out : (out as unknown as WellFormed).toWellFormed();
}

function cut(v: string, max: number): string {
  return v.length <= max ? v : `${v.slice(0, max - TRUNCATION_MARKER.length)}${TRUNCATION_MARKER}`;
}

/** An own enumerable property, also for keys such as `__proto__` (as JSON.parse makes them). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Whether `s` has neither a NUL character nor a lone surrogate. */
function isCleanString(s: string): boolean {
  return !s.includes('\u0000') && (s as unknown as WellFormed).isWellFormed();
}

/**
 * Whether no string or key in `value` has a NUL character or a lone surrogate:
 * the same strings and keys {@link deepWithoutNulWalk} visits, read only (no
 * copy, no closure), so a clean value (nearly every vendor record) costs one
 * pass that allocates nothing.
 */
function isClean(value: unknown): boolean {
  if (typeof value === 'string') return isCleanString(value);
  if (typeof value !== 'object' || value === null) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isClean(value[i])) return false;
    return true;
  }
  const record = value as Record<string, unknown>;
  for (const k in record) {
    if (!Object.prototype.hasOwnProperty.call(record, k)) continue;
    if (!isCleanString(k) || !isClean(record[k])) return false;
  }
  return true;
}

/** `value` without NUL characters or lone surrogates in any string or key (the same object when it has none). */
function deepWithoutNul(value: unknown): unknown {
  return isClean(value) ? value : deepWithoutNulWalk(value);
}

function deepWithoutNulWalk(value: unknown): unknown {
  if (typeof value === 'string') return withoutNul(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const clean = deepWithoutNulWalk(item);
      if (clean !== item) (out ??= value.slice())[i] = clean;
    });
    return out ?? value;
  }
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const k in record) {
      if (!Object.prototype.hasOwnProperty.call(record, k)) continue;
      const v = record[k];
      const ck = withoutNul(k);
      const cv = deepWithoutNulWalk(v);
      if (ck !== k || cv !== v) {
        if (!out) {
          out = {};
          // the keys before this one, unchanged
          for (const before in record) {
            if (before === k) break;
            if (Object.prototype.hasOwnProperty.call(record, before)) put(out, before, record[before]);
          }
        }
        put(out, ck, cv);
      } else if (out) {
        put(out, k, v);
      }
    }
    return out ?? value;
  }
  return value;
}

/** Only `https:` and `http:` links are kept (no `javascript:`, `data:`, `file:` ... in the portal). */
export function isSafeUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * What PostgreSQL would refuse or the portal should not show, removed or cut:
 * NUL characters anywhere (PostgreSQL text cannot hold them), over-long text
 * cut with a marker, a `url` that is not `https:`/`http:` or too long dropped.
 * Throws {@link Rejected} naming the field when an identifier is too long.
 * Answers the value itself when nothing had to change.
 */
function cleanInput(value: ParsedSignalInput, asset: ParsedSignalInput['asset'], problems: string[]): { value: ParsedSignalInput; asset: ParsedSignalInput['asset'] } {
  const sourceId = withoutNul(value.sourceId);
  if (!sourceId) throw new Rejected('sourceId: empty without its NUL characters');
  if (sourceId.length > SIGNAL_LIMITS.sourceId) throw new Rejected(`sourceId: longer than ${SIGNAL_LIMITS.sourceId} characters`);
  const cleanAsset = deepWithoutNul(asset) as ParsedSignalInput['asset'];
  for (const key of ['hostname', 'fqdn'] as const) {
    const v = cleanAsset[key];
    if (v !== undefined && v.length > SIGNAL_LIMITS.hostname) throw new Rejected(`asset.${key}: longer than ${SIGNAL_LIMITS.hostname} characters`);
  }
  const checkAsset = (v: unknown, path: string): void => {
    if (typeof v === 'string') {
      if (v.length > SIGNAL_LIMITS.assetValue && path !== 'asset.hostname' && path !== 'asset.fqdn') {
        throw new Rejected(`${path}: longer than ${SIGNAL_LIMITS.assetValue} characters`);
      }
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => checkAsset(item, `${path}[${i}]`));
    } else if (v && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) checkAsset(item, `${path}.${k}`);
    }
  };
  checkAsset(cleanAsset, 'asset');

  const out: Record<string, unknown> = {};
  if (sourceId !== value.sourceId) {
    out.sourceId = sourceId;
    problems.push('sourceId: NUL characters removed');
  }
  const title = cut(withoutNul(value.title), SIGNAL_LIMITS.title);
  if (title !== value.title) {
    out.title = title || '(untitled)';
    problems.push('title: cleaned');
  }
  if (value.description !== undefined) {
    const description = cut(withoutNul(value.description), SIGNAL_LIMITS.description);
    if (description !== value.description) {
      out.description = description;
      problems.push('description: cleaned');
    }
  }
  for (const key of ['tactics', 'techniques'] as const) {
    const tags = value[key].map(t => cut(withoutNul(t), SIGNAL_LIMITS.tag));
    if (tags.some((t, i) => t !== value[key][i])) {
      out[key] = tags;
      problems.push(`${key}: cleaned`);
    }
  }
  if (value.url !== undefined) {
    const url = withoutNul(value.url);
    if (!isSafeUrl(url) || url.length > SIGNAL_LIMITS.url) {
      out.url = undefined;
      problems.push(`url: dropped (${isSafeUrl(url) ? `longer than ${SIGNAL_LIMITS.url} characters` : 'only https: and http: links are kept'})`);
    } else if (url !== value.url) {
      out.url = url;
    }
  }
  if (value.indicators !== undefined) {
    const indicators: Record<string, string> = {};
    for (const [key, v] of Object.entries(value.indicators) as [string, string | undefined][]) {
      if (v === undefined) continue;
      const max = SIGNAL_LIMITS[key as 'filePath' | 'processName' | 'commandLine'];
      const clean = max === undefined ? withoutNul(v) : cut(withoutNul(v), max);
      if (clean) indicators[key] = clean;
    }
    const keys = Object.keys(indicators);
    if (keys.length !== Object.values(value.indicators).filter(v => v !== undefined).length || keys.some(k => indicators[k] !== (value.indicators as Record<string, string>)[k])) {
      out.indicators = keys.length ? indicators : undefined;
      problems.push('indicators: cleaned');
    }
  }
  if (value.raw !== undefined) {
    const raw = deepWithoutNul(value.raw);
    if (raw !== value.raw) {
      out.raw = raw;
      problems.push('raw: NUL characters removed');
    }
  }
  if (cleanAsset !== asset) problems.push('asset: NUL characters removed');
  if (Object.keys(out).length === 0) return { value, asset: cleanAsset };
  const cleaned = Object.assign({}, value, out);
  if ('url' in out && out.url === undefined) delete (cleaned as { url?: string }).url;
  if ('indicators' in out && out.indicators === undefined) delete (cleaned as { indicators?: unknown }).indicators;
  return { value: cleaned, asset: cleanAsset };
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
  let rejectedReason: string | undefined;
  let cleaned = 0;
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
        rejectedReason = `${withoutNul(fields.join(', ')).slice(0, 200)}: invalid`;
        logger.warn(`runtime-risk source '${sourceId}' sent an invalid signal at index ${index}; rejected field(s): ${fields.join(', ')}`);
        return;
      }
      value = parsed.data;
      asset = normalizeAsset(value.asset);
    }
    const problems: string[] = [];
    try {
      ({ value, asset } = cleanInput(value, asset, problems));
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      rejected += 1;
      rejectedReason = e.message;
      logger.warn(`runtime-risk source '${sourceId}' sent a signal at index ${index} that cannot be stored; rejected: ${e.message}`);
      return;
    }
    if (problems.length) {
      cleaned += 1;
      logger.warn(`runtime-risk source '${sourceId}' sent a signal at index ${index} that was cleaned: ${problems.join('; ')}`);
    }
    // Object.assign, not a spread: V8 copies a spread with extra keys slowly (a few µs per signal)
    const signal: Signal = Object.assign({}, value, {
      asset,
      firstSeenAt: new Date(value.firstSeenAt).toISOString(),
      lastSeenAt: new Date(value.lastSeenAt).toISOString(),
      ...(value.updatedAt === undefined ? {} : { updatedAt: new Date(value.updatedAt).toISOString() }),
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
  return { signals, rejected, rejectedReason, cleaned };
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
