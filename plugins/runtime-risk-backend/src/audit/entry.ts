import { canonicalJson } from '../lib/canonicalJson';
import { withoutLoneSurrogates } from '../lib/loneSurrogates';

/** Kinds of records in the decision log. */
export type AuditRecordType =
  | 'gate-decision'
  | 'exception-create'
  | 'exception-approve'
  | 'exception-reject'
  | 'exception-revoke'
  | 'exception-auto-revoke'
  | 'exception-expire'
  | 'decision-approve'
  | 'decision-reject'
  | 'decision-expire'
  | 'decision-override';

/** What is appended: everything but the chain fields. */
export interface AuditEntry {
  at: string;
  type: AuditRecordType;
  /** Who caused it: a user or service principal, or `runtime-risk` for automatic changes. */
  actor: string;
  /** The decision id or exception id it is about. */
  subject: string;
  payload: Record<string, unknown>;
}

/** A stored record. */
export interface AuditRecord extends AuditEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

/** What the chain hash of a record covers: every column but the chain fields. */
export function hashedContent(entry: AuditEntry): unknown {
  return { at: entry.at, type: entry.type, actor: entry.actor, subject: entry.subject, payload: entry.payload };
}

/** An entry with everything that does not depend on the chain head computed (before the head is locked). */
export interface PreparedAuditEntry {
  entry: AuditEntry;
  /** Canonical JSON of {@link hashedContent}: what the chain hash covers. */
  canonical: string;
  /** The stored payload column. */
  payloadJson: string;
}

/** Serializes an entry for appending; call it before the transaction that appends it. */
export function prepareAuditEntry(entry: AuditEntry): PreparedAuditEntry {
  let canonical = canonicalJson(hashedContent(entry));
  if (/\\ud[89a-f]/i.test(canonical)) {
    // a lone UTF-16 surrogate (possible in free text) cannot be stored as such (the
    // database gets U+FFFD): hash exactly what will be stored, so the chain verifies
    entry = JSON.parse(JSON.stringify(entry, withoutLoneSurrogates)) as AuditEntry;
    canonical = canonicalJson(hashedContent(entry));
  }
  return { entry, canonical, payloadJson: JSON.stringify(entry.payload) };
}
