import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type {
  HostInventoryFetchOptions,
  HostInventoryFetchResult,
  HostInventoryRecord,
  PullSignalSource,
  SignalSourceFetchOptions,
  SignalSourceFetchResult,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** Options of one file source instance. */
export interface FileSignalSourceOptions {
  /** Source id used in signal ids (`file`, `lab-export`). */
  id: string;
  /** Absolute path of a JSON (array or `{ signals: [...] }`) or NDJSON file. */
  path: string;
  /** Clock used to resolve relative timestamps (`now-2h`); injectable for tests. */
  now?: () => Date;
  logger?: LoggerService;
}

const RELATIVE = /^now(?:\s*-\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w))?$/i;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };

/**
 * Resolves `now`, `now-30m`, `now-2h`, `now-3d` against the read time, so a demo
 * file stays realistic whenever it is read. Absolute ISO times pass unchanged.
 */
export function resolveRelativeTime(value: unknown, now: Date): unknown {
  if (typeof value !== 'string') return value;
  const m = RELATIVE.exec(value.trim());
  if (!m) return value;
  const offset = m[1] ? Number(m[1]) * UNIT_MS[m[2].toLowerCase()] : 0;
  return new Date(now.getTime() - offset).toISOString();
}

interface ParsedFile {
  records: unknown[];
  meta: { asOf?: string };
  errors: string[];
  /** Host records (the vendor host inventory this file stands for): `hosts` of a JSON file, `host`/`hosts` lines of NDJSON. */
  hosts: unknown[];
}

/** Splits `{ host }` / `{ hosts: [...] }` records (a signal has neither key) off the signal records. */
function splitHosts(file: Omit<ParsedFile, 'hosts'> & { hosts?: unknown[] }): ParsedFile {
  const hosts: unknown[] = [...(file.hosts ?? [])];
  const records = file.records.filter(r => {
    if (!r || typeof r !== 'object' || Array.isArray(r) || 'sourceId' in r) return true;
    const o = r as { host?: unknown; hosts?: unknown };
    if (o.host !== undefined) hosts.push(o.host);
    else if (Array.isArray(o.hosts)) hosts.push(...o.hosts);
    else return true;
    return false;
  });
  return { ...file, records, hosts };
}

/**
 * Parses JSON (array, single object or `{ signals, hosts?, asOf }`) or NDJSON
 * (one object a line, optional `{"_meta":{...}}` line, host records as
 * `{"host":{...}}` or `{"hosts":[...]}` lines).
 */
export function parseSignalFile(text: string): ParsedFile {
  return splitHosts(parseRecords(text));
}

function parseRecords(text: string): Omit<ParsedFile, 'hosts'> & { hosts?: unknown[] } {
  const trimmed = text.trim();
  const errors: string[] = [];
  if (!trimmed) return { records: [], meta: {}, errors };
  const hostList = (o: { hosts?: unknown }) => (Array.isArray(o.hosts) ? o.hosts : []);
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && !trimmed.includes('\n'))) {
    try {
      const parsed = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return { records: parsed, meta: {}, errors };
      if (parsed && typeof parsed === 'object' && Array.isArray((parsed as any).signals)) {
        return { records: (parsed as any).signals, meta: { asOf: (parsed as any).asOf }, errors, hosts: hostList(parsed) };
      }
      return { records: [parsed], meta: {}, errors };
    } catch (e) {
      // a single-line file may still be NDJSON with one record; fall through
      if (trimmed.startsWith('[')) {
        throw new Error(`file is not valid JSON: ${(e as Error).message}`);
      }
    }
  }
  if (trimmed.startsWith('{') && trimmed.includes('\n')) {
    // Could be pretty-printed JSON object
    try {
      const parsed = JSON.parse(trimmed);
      if (parsed && Array.isArray(parsed.signals)) {
        return { records: parsed.signals, meta: { asOf: parsed.asOf }, errors, hosts: hostList(parsed) };
      }
      return { records: [parsed], meta: {}, errors };
    } catch {
      // not one JSON document: NDJSON, parsed line by line below
    }
  }
  const records: unknown[] = [];
  const meta: { asOf?: string } = {};
  trimmed.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('//') || l.startsWith('#')) return;
    try {
      const obj = JSON.parse(l);
      if (obj && typeof obj === 'object' && '_meta' in obj) {
        Object.assign(meta, obj._meta);
      } else {
        records.push(obj);
      }
    } catch (e) {
      errors.push(`line ${i + 1}: ${(e as Error).message}`);
    }
  });
  return { records, meta, errors };
}

/**
 * A signal source that reads normalized signals from a JSON or NDJSON file.
 * It re-reads the file when its content changes (checked each sync by hash)
 * and powers the demo. The cursor is the content hash, so an unchanged file
 * costs one read and no store writes.
 */
export class FileSignalSource implements PullSignalSource {
  readonly id: string;
  readonly type = 'file';
  readonly mode = 'pull' as const;
  /** Host records are re-listed every 15 minutes (a file is cheap to read; relative times move). */
  readonly inventorySchedule = { frequency: { minutes: 15 }, timeout: { minutes: 1 } };
  private readonly path: string;
  private readonly now: () => Date;
  private readonly logger?: LoggerService;

  constructor(options: FileSignalSourceOptions) {
    this.id = options.id;
    this.path = options.path;
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger;
  }

  async fetch(options: SignalSourceFetchOptions): Promise<SignalSourceFetchResult> {
    const text = await this.read();
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 32);
    const parsed = parseSignalFile(text);
    const now = this.now();
    const asOf = resolveRelativeTime(parsed.meta.asOf, now);
    const unchanged = options.cursor === hash;
    // Relative timestamps move with the clock, so a file that uses them is re-read every sync.
    const usesRelative = /"now(-[^"]*)?"/i.test(text);
    if (unchanged && !usesRelative) {
      return { signals: [], cursor: hash, asOf: typeof asOf === 'string' ? asOf : undefined };
    }
    for (const err of parsed.errors) {
      (this.logger ?? options.logger).warn(`file source '${this.id}': skipped unparseable ${err}`);
    }
    const signals = parsed.records.map(r => this.resolveTimes(r, now)) as SignalInput[];
    return {
      signals,
      cursor: hash,
      rejected: parsed.errors.length,
      asOf: typeof asOf === 'string' ? asOf : undefined,
    };
  }

  /**
   * The file's host records as this source's vendor host inventory (listed on
   * the inventory schedule, so hosts stay covered while the file lists them):
   * `{ sourceId, asset, lastSeenAt? }`, `lastSeenAt` may be relative (`now-5m`).
   */
  async syncHosts(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> {
    const parsed = parseSignalFile(await this.read());
    const now = this.now();
    let rejected = 0;
    const hosts: HostInventoryRecord[] = [];
    parsed.hosts.forEach((h, i) => {
      const r = h as Partial<HostInventoryRecord> | null;
      if (!r || typeof r !== 'object' || typeof r.sourceId !== 'string' || !r.asset || typeof r.asset !== 'object') {
        rejected += 1;
        (this.logger ?? options.logger).warn(`file source '${this.id}': skipped host record ${i}: needs sourceId and asset`);
        return;
      }
      const lastSeenAt = resolveRelativeTime(r.lastSeenAt, now);
      hosts.push({ sourceId: r.sourceId, asset: r.asset, ...(typeof lastSeenAt === 'string' ? { lastSeenAt } : {}) });
    });
    return { hosts, cursor: null, rejected };
  }

  private async read(): Promise<string> {
    try {
      return await fs.readFile(this.path, 'utf8');
    } catch (e) {
      throw new Error(`file source '${this.id}': cannot read ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async healthCheck(): Promise<{ ok: boolean; message?: string }> {
    try {
      await fs.access(this.path);
      return { ok: true };
    } catch (e) {
      return { ok: false, message: `cannot read ${this.path}` };
    }
  }

  private resolveTimes(record: unknown, now: Date): unknown {
    if (!record || typeof record !== 'object' || Array.isArray(record)) return record;
    const r = { ...(record as Record<string, unknown>) };
    for (const key of ['firstSeenAt', 'lastSeenAt']) {
      r[key] = resolveRelativeTime(r[key], now);
    }
    return r;
  }
}
