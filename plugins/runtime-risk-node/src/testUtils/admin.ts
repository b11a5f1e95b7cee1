/** The admin route of the fake vendor servers: adds an alert at run time. */
import { createHash } from 'node:crypto';
import type { FakeRoute } from './fakeServer';

/** A vendor record as the fake serves it (vendor JSON, not normalized). */
export type VendorRecord = Record<string, unknown>;

/** An alert of a fake vendor server, before the vendor's builder adds its own fields. */
export interface DemoAlert {
  /** Host the alert is on (short name, or FQDN for Defender). */
  hostname: string;
  /** Unique alert id; default derived from the host and the time. */
  id?: string;
  title?: string;
  /** When the alert was last updated; default now. */
  at?: string;
  /**
   * The file and process of the alert, emitted in the vendor's own fields
   * (Falcon `sha256`/`filepath`/`filename`/`cmdline`, Defender evidence, SentinelOne
   * `threatInfo`); default values of the alert's own (never shared by two alerts).
   */
  indicators?: { sha256?: string; filePath?: string; processName?: string; commandLine?: string };
}

/** The SHA-256 (hex) of `text`: the default file hash of a fake alert. */
export function fakeSha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * `POST /_admin/alerts` with a JSON object (`hostname` required; the vendor's
 * builder gives the other fields defaults) or `{ "raw": <vendor record> }`:
 * appends the record to `records` and answers 201 with it.
 */
export function adminAlertsRoute<T extends { hostname: string }>(records: VendorRecord[], build: (input: T) => VendorRecord): FakeRoute {
  return req => {
    let input: unknown;
    try {
      input = JSON.parse(req.body || '{}');
    } catch (e) {
      return { status: 400, json: { error: `body: not valid JSON (${(e as Error).message})` } };
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return { status: 400, json: { error: 'body: must be a JSON object' } };
    }
    const body = input as Record<string, unknown>;
    if (typeof body.raw === 'object' && body.raw !== null && !Array.isArray(body.raw)) {
      records.push(body.raw as VendorRecord);
      return { status: 201, json: body.raw };
    }
    if (typeof body.hostname !== 'string' || !body.hostname) {
      return { status: 400, json: { error: 'hostname: required (or give the vendor record as raw)' } };
    }
    const record = build(body as T);
    records.push(record);
    return { status: 201, json: record };
  };
}
