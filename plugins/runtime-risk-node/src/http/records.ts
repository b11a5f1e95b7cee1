import type { LoggerService } from '@backstage/backend-plugin-api';
import { SignalInputSchema, normalizeAsset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Asset, ParsedSignalInput, Severity, SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { HostInventoryRecord } from '../source';

function describe(e: unknown): string {
  if (e && typeof e === 'object' && 'issues' in e && Array.isArray((e as { issues: unknown }).issues)) {
    const issues = (e as { issues: Array<{ path?: PropertyKey[]; message?: string }> }).issues;
    return issues.map(i => `${(i.path ?? []).map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
  }
  return e instanceof Error ? e.message : String(e);
}

/** Signal inputs {@link normalizeRecords} validated (and normalized), by identity. */
const validatedInputs = new WeakSet<object>();

/**
 * Whether `value` is a signal input {@link normalizeRecords} returned: valid
 * against `SignalInputSchema`, its asset normalized. The ingestion runner then
 * skips validating it again; adapters hand such signals on unchanged.
 */
export function isValidatedSignalInput(value: unknown): value is ParsedSignalInput {
  return typeof value === 'object' && value !== null && validatedInputs.has(value);
}

/**
 * Maps vendor records to normalized signals one by one. A record that fails
 * to map or to validate against `SignalInputSchema` is skipped, counted in
 * `rejected` and logged (its id only, never the record), so one bad record
 * does not lose the rest of the batch.
 */
export function normalizeRecords<R>(
  records: readonly R[],
  map: (record: R) => SignalInput,
  options: { sourceId: string; logger?: LoggerService; idOf?: (record: R) => string | undefined },
): { signals: ParsedSignalInput[]; rejected: number } {
  const signals: ParsedSignalInput[] = [];
  let rejected = 0;
  for (const record of records) {
    try {
      const parsed = SignalInputSchema.parse(map(record));
      // Object.assign, not a spread: V8 copies a spread with extra keys slowly (a few µs per signal)
      const signal: ParsedSignalInput = Object.assign({}, parsed, { asset: normalizeAsset(parsed.asset) });
      validatedInputs.add(signal);
      signals.push(signal);
    } catch (e) {
      rejected++;
      let id: string | undefined;
      try {
        id = options.idOf?.(record);
      } catch (idError) {
        id = `unknown (${describe(idError)})`;
      }
      options.logger?.warn(`Source ${options.sourceId}: skipped record ${id ?? '(no id)'}: ${describe(e)}`);
    }
  }
  return { signals, rejected };
}

/** The latest of the current cursor and the given ISO timestamps (kept in the vendor's own spelling). */
export function latestTimestamp(current: string | null, values: ReadonlyArray<string | undefined | null>): string | null {
  let best = current;
  let bestMs = current ? Date.parse(current) : Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (!v) continue;
    const ms = Date.parse(v);
    if (!Number.isNaN(ms) && ms > bestMs) {
      best = v;
      bestMs = ms;
    }
  }
  return best;
}

/**
 * Cursor to resume from after a batch, for vendors filtered with a strict
 * "updated after" (`>`). When the batch was cut short (`complete` false), the
 * records sharing the newest timestamp may continue past the cut, so the
 * cursor stays just before that timestamp and they are fetched again (the store
 * upserts, so nothing is duplicated and nothing is lost).
 */
export function resumeCursor(current: string | null, timestamps: ReadonlyArray<string | undefined | null>, complete: boolean): string | null {
  const newest = latestTimestamp(current, timestamps);
  if (complete || !newest || newest === current) return newest;
  const newestMs = Date.parse(newest);
  const older = timestamps.filter((t): t is string => !!t && Date.parse(t) < newestMs);
  // all records share one timestamp: advance anyway rather than loop forever
  return latestTimestamp(null, older) ?? newest;
}

/**
 * Severity from a 1-100 vendor score (CrowdStrike): >=90 critical, >=70 high,
 * >=50 medium, >=20 low, else informational.
 */
export function severityFromScore(score: number): Severity {
  if (score >= 90) return 'critical';
  if (score >= 70) return 'high';
  if (score >= 50) return 'medium';
  if (score >= 20) return 'low';
  return 'informational';
}

/**
 * Parses Kubernetes labels as vendors report them: strings `key:value` (split
 * on the first colon) or `key=value`, arrays of those, a comma-separated
 * string, `{ key, value }` entries, or a plain object.
 */
export function parseLabels(value: unknown): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const addString = (s: string) => {
    for (const part of s.split(',')) {
      const p = part.trim();
      const i = p.search(/[:=]/);
      if (i > 0) out[p.slice(0, i).trim()] = p.slice(i + 1).trim();
    }
  };
  const addEntry = (e: unknown) => {
    if (typeof e === 'string') addString(e);
    else if (e && typeof e === 'object') {
      const rec = e as Record<string, unknown>;
      if (typeof rec.key === 'string' && rec.value !== undefined && rec.value !== null) out[rec.key] = String(rec.value);
      else for (const [k, v] of Object.entries(rec)) if (v !== undefined && v !== null) out[k] = String(v);
    }
  };
  if (Array.isArray(value)) value.forEach(addEntry);
  else addEntry(value);
  return Object.keys(out).length ? out : undefined;
}

/** Drops empty strings and duplicates from identifier lists (IPs, MACs). */
export function compact(values: ReadonlyArray<string | undefined | null>): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (typeof v !== 'string') continue;
    const t = v.trim();
    if (t !== '') out.add(t);
  }
  return [...out];
}

/** The own enumerable properties of `o` that are not undefined. */
function defined<T extends object>(o: T | undefined): Partial<T> {
  const out: Record<string, unknown> = {};
  if (!o) return out as Partial<T>;
  for (const k of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as Partial<T>;
}

/** Merges inventory details into an alert's asset; the alert's own values win. */
export function mergeAssets(base: Asset, extra: Partial<Asset> | undefined): Asset {
  if (!extra) return base;
  const k8s = base.k8s || extra.k8s ? { ...defined(extra.k8s), ...defined(base.k8s) } : undefined;
  const cloud = base.cloud || extra.cloud ? { ...defined(extra.cloud), ...defined(base.cloud) } : undefined;
  // what `{ ...defined(extra), ...defined(base), ips, macs, k8s?, cloud? }` gives, without V8's slow spread copies
  const merged: Asset = Object.assign(defined(extra), defined(base), {
    ips: compact([...(base.ips ?? []), ...(extra.ips ?? [])]),
    macs: compact([...(base.macs ?? []), ...(extra.macs ?? [])]),
  });
  if (k8s) merged.k8s = k8s;
  if (cloud) merged.cloud = cloud;
  return merged;
}

/** Host inventory records from vendor host objects, assets normalized. */
export function hostRecords<T>(
  items: Iterable<T>,
  describe: (item: T) => { sourceId: string; asset: Asset; lastSeenAt?: string | null },
): HostInventoryRecord[] {
  return [...items].map(item => {
    const { sourceId, asset, lastSeenAt } = describe(item);
    return { sourceId, asset: normalizeAsset(asset), ...(lastSeenAt ? { lastSeenAt } : {}) };
  });
}
