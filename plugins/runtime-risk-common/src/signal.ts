import { z } from 'zod';

/** Severity of a normalized signal, lowest to highest. */
export const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export const SeveritySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof SeveritySchema>;

export const SIGNAL_KINDS = ['detection', 'incident', 'posture', 'vulnerability'] as const;
export const SignalKindSchema = z.enum(SIGNAL_KINDS);
export type SignalKind = z.infer<typeof SignalKindSchema>;

export const SIGNAL_STATUSES = ['active', 'resolved', 'false_positive'] as const;
export const SignalStatusSchema = z.enum(SIGNAL_STATUSES);
export type SignalStatus = z.infer<typeof SignalStatusSchema>;

/** Rank of a severity, 0 (informational) to 4 (critical). */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** Lower-cases a hostname and strips a trailing dot. */
export function normalizeHostname(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

/** Short name of a hostname or FQDN (`web-01.prod.example.com` -> `web-01`). */
export function shortHostname(h: string): string {
  const n = normalizeHostname(h);
  // an IP address has no short name
  if (/^\d+\.\d+\.\d+\.\d+$/.test(n)) return n;
  return n.split('.')[0];
}

/**
 * Normalizes a MAC address from dash (`02-42-AC-11-00-02`), colon, dotted
 * (`0242.ac11.0002`) or bare (`0242AC110002`) form to lower-case colon form.
 * Returns undefined when the value is not a MAC address.
 */
export function normalizeMac(mac: string): string | undefined {
  const hex = mac.trim().toLowerCase().replace(/[-:.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

const isoDate = z
  .string()
  .refine(v => !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 date-time' });

export const K8sAssetSchema = z.object({
  cluster: z.string().optional(),
  namespace: z.string().optional(),
  pod: z.string().optional(),
  node: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

/** A SHA-256 as 64 hex characters, lower-cased. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/i;

/**
 * File and process indicators of a detection (DESIGN "One incident, several
 * vendors"), all optional: the file's SHA-256 and path, the process (image name)
 * and its command line. Signals on one host sharing a SHA-256, or a MITRE
 * technique and the process / command line, within an hour count once.
 */
export const IndicatorsSchema = z
  .object({
    sha256: z
      .string()
      .trim()
      .regex(SHA256_PATTERN, { message: 'must be a SHA-256 (64 hex characters)' })
      .transform(v => v.toLowerCase())
      .optional(),
    filePath: z.string().min(1).optional(),
    processName: z.string().min(1).optional(),
    commandLine: z.string().min(1).optional(),
  })
  .strict();
export type Indicators = z.output<typeof IndicatorsSchema>;

/** `value` when it is a SHA-256 (adapters drop anything else rather than reject the detection). */
export function sha256Indicator(value: unknown): string | undefined {
  return typeof value === 'string' && SHA256_PATTERN.test(value.trim()) ? value.trim().toLowerCase() : undefined;
}

/**
 * The indicators of a vendor record for a signal input: a value that is not a
 * SHA-256 is dropped, empty or missing values left out; undefined when none is
 * left (adapters never reject a detection for its indicators).
 */
export function indicatorsOf(values: {
  sha256?: unknown;
  filePath?: unknown;
  processName?: unknown;
  commandLine?: unknown;
}): Indicators | undefined {
  const out: Indicators = {};
  const sha256 = sha256Indicator(values.sha256);
  if (sha256) out.sha256 = sha256;
  for (const key of ['filePath', 'processName', 'commandLine'] as const) {
    const v = values[key];
    if (typeof v === 'string' && v.trim()) out[key] = v.trim();
  }
  return Object.keys(out).length ? out : undefined;
}

export const AssetSchema = z.object({
  hostname: z.string().optional(),
  fqdn: z.string().optional(),
  deviceId: z.string().optional(),
  instanceId: z.string().optional(),
  ips: z.array(z.string()).default([]),
  macs: z.array(z.string()).default([]),
  cloud: z
    .object({ provider: z.string().optional(), accountId: z.string().optional(), region: z.string().optional() })
    .optional(),
  k8s: K8sAssetSchema.optional(),
});
export type Asset = z.infer<typeof AssetSchema>;

/**
 * What a source adapter produces before the store assigns the composite id and
 * fetch time. `sourceId` is the vendor's own id of the detection.
 */
export const SignalInputSchema = z.object({
  sourceId: z.string().min(1),
  kind: SignalKindSchema.default('detection'),
  severity: SeveritySchema,
  confidence: z.number().min(0).max(1).default(1),
  status: SignalStatusSchema.default('active'),
  title: z.string().min(1),
  description: z.string().optional(),
  tactics: z.array(z.string()).default([]),
  techniques: z.array(z.string()).default([]),
  asset: AssetSchema,
  /** File and process indicators (SHA-256, path, process, command line), for counting one incident once. */
  indicators: IndicatorsSchema.optional(),
  firstSeenAt: isoDate,
  lastSeenAt: isoDate,
  /**
   * The vendor's time of this state of the detection (e.g. when it was resolved);
   * default `lastSeenAt`. A stored signal is only replaced by an equal or newer
   * state, so a late or replayed delivery never brings an older one back.
   */
  updatedAt: isoDate.optional(),
  /** Link to the detection in the vendor's console; only `https:` and `http:` are kept. */
  url: z.string().optional(),
  raw: z.unknown().optional(),
});
export type SignalInput = z.input<typeof SignalInputSchema>;
export type ParsedSignalInput = z.output<typeof SignalInputSchema>;

/** A normalized signal as stored and served. `id` is `<source>:<sourceId>`. */
export const SignalSchema = SignalInputSchema.extend({
  id: z.string(),
  source: z.string(),
  fetchedAt: isoDate,
});
export type Signal = z.output<typeof SignalSchema>;

/** Normalizes identifiers of an asset: hostnames lower-cased, FQDN/short name both kept, MACs in colon form. */
export function normalizeAsset(asset: z.output<typeof AssetSchema>): z.output<typeof AssetSchema> {
  // Object.assign, not a spread: V8 copies a spread that then gains keys slowly
  const out = Object.assign({}, asset);
  if (out.fqdn) out.fqdn = normalizeHostname(out.fqdn);
  if (out.hostname) {
    const h = normalizeHostname(out.hostname);
    if (h.includes('.') && !/^\d+\.\d+\.\d+\.\d+$/.test(h)) {
      out.fqdn = out.fqdn ?? h;
      out.hostname = shortHostname(h);
    } else {
      out.hostname = h;
    }
  } else if (out.fqdn) {
    out.hostname = shortHostname(out.fqdn);
  }
  out.ips = [...new Set((out.ips ?? []).map(i => i.trim().toLowerCase()).filter(Boolean))];
  out.macs = [
    ...new Set((out.macs ?? []).map(m => normalizeMac(m)).filter((m): m is string => !!m)),
  ];
  return out;
}
