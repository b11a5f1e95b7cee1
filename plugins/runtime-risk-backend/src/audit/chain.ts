import { createHash } from 'node:crypto';

/** Canonical JSON: object keys sorted at every level, so equal data always hashes equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value === undefined ? null : value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter(k => obj[k] !== undefined)
    .sort()
    .map(k => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

/** The hash of the chain's first link's predecessor. */
export const GENESIS_HASH = '0'.repeat(64);

/** Hash of one audit-log record, chained to the previous record's hash. */
export function chainHash(prevHash: string, seq: number, payload: unknown): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${canonicalJson(payload)}`).digest('hex');
}

export interface ChainRow {
  seq: number;
  prevHash: string;
  hash: string;
  payload: unknown;
}

export type ChainVerification =
  | { ok: true; checked: number; head: string }
  | { ok: false; checked: number; brokenAt: number; problem: 'modified' | 'missing' | 'relinked'; message: string };

/**
 * Verifies an append-only hash chain, rows in seq order. Reports the first
 * broken link: a modified row (its hash no longer matches its content), a
 * removed row (a gap in seq), or a row re-linked to a different predecessor.
 */
export function verifyChain(rows: ChainRow[]): ChainVerification {
  let prev = GENESIS_HASH;
  let expectedSeq = rows.length ? rows[0].seq : 1;
  if (rows.length && rows[0].seq !== 1) {
    return { ok: false, checked: 0, brokenAt: 1, problem: 'missing', message: `records 1..${rows[0].seq - 1} are missing` };
  }
  let checked = 0;
  for (const row of rows) {
    if (row.seq !== expectedSeq) {
      return { ok: false, checked, brokenAt: expectedSeq, problem: 'missing', message: `record ${expectedSeq} is missing (next is ${row.seq})` };
    }
    if (row.prevHash !== prev) {
      return { ok: false, checked, brokenAt: row.seq, problem: 'relinked', message: `record ${row.seq} does not link to record ${row.seq - 1}` };
    }
    if (chainHash(row.prevHash, row.seq, row.payload) !== row.hash) {
      return { ok: false, checked, brokenAt: row.seq, problem: 'modified', message: `record ${row.seq} was modified after it was written` };
    }
    prev = row.hash;
    expectedSeq += 1;
    checked += 1;
  }
  return { ok: true, checked, head: prev };
}
