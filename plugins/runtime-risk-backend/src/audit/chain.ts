import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonicalJson';

/** The hash of the chain's first link's predecessor. */
export const GENESIS_HASH = '0'.repeat(64);

/** Hash of one audit-log record, chained to the previous record's hash. */
export function chainHash(prevHash: string, seq: number, payload: unknown): string {
  return chainHashOfCanonical(prevHash, seq, canonicalJson(payload));
}

/** {@link chainHash} of a payload already in canonical JSON (computed before the chain head is locked). */
export function chainHashOfCanonical(prevHash: string, seq: number, canonicalPayload: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${canonicalPayload}`).digest('hex');
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

type ChainProblem = Extract<ChainVerification, { ok: false }>;

/**
 * Verifies a hash chain incrementally, one page of rows (in seq order) at a time,
 * so that a long log never has to be held in memory. `push` answers the first
 * broken link and keeps answering it; `result` the outcome so far.
 */
export class ChainVerifier {
  private prev = GENESIS_HASH;
  private expectedSeq = 1;
  private checkedCount = 0;
  private problem: ChainProblem | undefined;

  get checked(): number {
    return this.checkedCount;
  }

  /** The seq of the last verified row (0 before any). */
  get lastSeq(): number {
    return this.expectedSeq - 1;
  }

  get head(): string {
    return this.prev;
  }

  push(rows: ChainRow[]): ChainProblem | undefined {
    for (const row of rows) {
      if (this.problem) return this.problem;
      this.problem = this.check(row);
    }
    return this.problem;
  }

  private check(row: ChainRow): ChainProblem | undefined {
    const checked = this.checkedCount;
    if (row.seq !== this.expectedSeq) {
      const gap = row.seq - 1 > this.expectedSeq ? `records ${this.expectedSeq}..${row.seq - 1} are` : `record ${this.expectedSeq} is`;
      if (row.seq < this.expectedSeq) {
        return { ok: false, checked, brokenAt: row.seq, problem: 'relinked', message: `record ${row.seq} appears out of order` };
      }
      return { ok: false, checked, brokenAt: this.expectedSeq, problem: 'missing', message: `${gap} missing (next is ${row.seq})` };
    }
    if (row.prevHash !== this.prev) {
      return { ok: false, checked, brokenAt: row.seq, problem: 'relinked', message: `record ${row.seq} does not link to record ${row.seq - 1}` };
    }
    if (chainHash(row.prevHash, row.seq, row.payload) !== row.hash) {
      return { ok: false, checked, brokenAt: row.seq, problem: 'modified', message: `record ${row.seq} was modified after it was written` };
    }
    this.prev = row.hash;
    this.expectedSeq += 1;
    this.checkedCount += 1;
    return undefined;
  }

  /**
   * The outcome. With `expectedHead` (the seq and hash the log's head says were
   * written last) records removed from the end of the log are reported too.
   */
  result(expectedHead?: { seq: number; hash: string }): ChainVerification {
    if (this.problem) return this.problem;
    if (expectedHead && expectedHead.seq > this.lastSeq) {
      const from = this.lastSeq + 1;
      const gap = expectedHead.seq > from ? `records ${from}..${expectedHead.seq} are` : `record ${from} is`;
      return {
        ok: false,
        checked: this.checkedCount,
        brokenAt: from,
        problem: 'missing',
        message: `${gap} missing (the log's head is record ${expectedHead.seq})`,
      };
    }
    if (expectedHead && expectedHead.seq === this.lastSeq && expectedHead.hash !== this.prev) {
      return {
        ok: false,
        checked: this.checkedCount,
        brokenAt: this.lastSeq,
        problem: 'modified',
        message: `record ${this.lastSeq} does not match the hash the log's head recorded for it`,
      };
    }
    return { ok: true, checked: this.checkedCount, head: this.prev };
  }
}

/**
 * Verifies an append-only hash chain, rows in seq order. Reports the first
 * broken link: a modified row (its hash no longer matches its content), a
 * removed row (a gap in seq), or a row re-linked to a different predecessor.
 */
export function verifyChain(rows: ChainRow[]): ChainVerification {
  const verifier = new ChainVerifier();
  verifier.push(rows);
  return verifier.result();
}
