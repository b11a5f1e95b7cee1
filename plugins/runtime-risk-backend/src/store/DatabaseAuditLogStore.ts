import type { Knex } from 'knex';
import { ChainVerifier, chainHashOfCanonical, type ChainRow, type ChainVerification } from '../audit/chain';
import {
  hashedContent,
  prepareAuditEntry,
  type AuditEntry,
  type AuditRecord,
  type AuditRecordType,
  type PreparedAuditEntry,
} from '../audit/entry';
import { isPostgres } from './db';
import type { AuditLogStore } from './types';

/**
 * The append-only, hash-chained decision log. Records are appended inside the
 * transaction of the change they record (the decision and exception stores call
 * {@link appendAuditRecords}); what a record holds and how it is hashed is `audit/`'s.
 */
export const AUDIT_LOG_TABLE = 'runtime_risk_audit_log';
/** Its single-row head (seq and hash of the last record); locking it serializes appends. */
export const AUDIT_HEAD_TABLE = 'runtime_risk_audit_head';

/**
 * Appends one record inside `tx` (the transaction of the change it records, so
 * both commit or neither). See {@link appendAuditRecords}.
 */
export async function appendAuditRecord(tx: Knex.Transaction, input: AuditEntry | PreparedAuditEntry): Promise<AuditRecord> {
  const [record] = await appendAuditRecords(tx, [input]);
  return record;
}

/** Rows per insert statement on SQLite (8 columns; well under its parameter limit). */
const AUDIT_ROWS_PER_INSERT = 100;
const AUDIT_COLUMNS = ['seq', 'at', 'type', 'actor', 'subject', 'payload', 'prev_hash', 'hash'];

/**
 * Appends records, in order, inside `tx`. The head row is locked first (`FOR
 * UPDATE` on PostgreSQL; SQLite serializes writers anyway), so concurrent
 * appenders queue up and the chain never forks. Everything that does not need
 * the head (canonical JSON, payload serialization) is done before the lock (pass
 * {@link prepareAuditEntry} results to do it before the transaction); while the
 * lock is held only the head is read, the chain hashes computed and the records
 * and new head written: one round trip on PostgreSQL (the rows as one JSON
 * parameter), so a batch of gate decisions (group commit) pays for the lock once.
 */
export async function appendAuditRecords(
  tx: Knex.Transaction,
  inputs: (AuditEntry | PreparedAuditEntry)[],
): Promise<AuditRecord[]> {
  if (inputs.length === 0) return [];
  const prepared = inputs.map(i => ('canonical' in i ? i : prepareAuditEntry(i)));
  const pg = isPostgres(tx);
  const headQuery = tx(AUDIT_HEAD_TABLE).where({ id: 1 }).first('seq', 'hash');
  if (pg) headQuery.forUpdate();
  // --- critical section: from here to the commit of `tx` the head row is locked ---
  const head = await headQuery;
  if (!head) throw new Error(`${AUDIT_HEAD_TABLE} has no head row; the migrations did not run`);
  let seq = Number(head.seq);
  let prevHash = String(head.hash);
  const records: AuditRecord[] = [];
  const rows = prepared.map(({ entry, canonical, payloadJson }) => {
    seq += 1;
    const hash = chainHashOfCanonical(prevHash, seq, canonical);
    records.push({ ...entry, seq, prevHash, hash });
    const row = {
      seq,
      at: entry.at,
      type: entry.type,
      actor: entry.actor,
      subject: entry.subject,
      payload: payloadJson,
      prev_hash: prevHash,
      hash,
    };
    prevHash = hash;
    return row;
  });
  const last = records[records.length - 1];
  if (pg) {
    // every record and the new head in one round trip: the rows as one JSON parameter
    await tx.raw(
      `with appended as (insert into ?? (${AUDIT_COLUMNS.join(', ')}) select ${AUDIT_COLUMNS.join(', ')} ` +
        `from json_populate_recordset(null::??, ?::json)) update ?? set seq = ?, hash = ? where id = 1`,
      [AUDIT_LOG_TABLE, AUDIT_LOG_TABLE, JSON.stringify(rows), AUDIT_HEAD_TABLE, last.seq, last.hash],
    );
  } else {
    for (let i = 0; i < rows.length; i += AUDIT_ROWS_PER_INSERT) {
      await tx(AUDIT_LOG_TABLE).insert(rows.slice(i, i + AUDIT_ROWS_PER_INSERT));
    }
  }
  if (!pg) await tx(AUDIT_HEAD_TABLE).where({ id: 1 }).update({ seq: last.seq, hash: last.hash });
  return records;
}

function rowToRecord(r: Record<string, unknown>): AuditRecord {
  return {
    seq: Number(r.seq),
    at: String(r.at),
    type: String(r.type) as AuditRecordType,
    actor: String(r.actor),
    subject: String(r.subject),
    payload: JSON.parse(String(r.payload)) as Record<string, unknown>,
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** Records with seq > `afterSeq`, oldest first. */
export async function listAuditRecords(
  db: Knex,
  options: { afterSeq?: number; limit: number; subject?: string },
): Promise<AuditRecord[]> {
  const q = db(AUDIT_LOG_TABLE).where('seq', '>', options.afterSeq ?? 0);
  if (options.subject) q.where('subject', options.subject);
  const rows: Record<string, unknown>[] = await q.orderBy('seq', 'asc').limit(options.limit);
  return rows.map(rowToRecord);
}

/** Rows per page when verifying. */
export const VERIFY_PAGE_SIZE = 500;

/** The head of the log: seq and hash of the last record (0 and the genesis hash when empty). */
export async function readAuditHead(db: Knex): Promise<{ seq: number; hash: string }> {
  const head = await db(AUDIT_HEAD_TABLE).where({ id: 1 }).first('seq', 'hash');
  if (!head) throw new Error(`${AUDIT_HEAD_TABLE} has no head row; the migrations did not run`);
  return { seq: Number(head.seq), hash: String(head.hash) };
}

/** The record with sequence number `seq`, undefined when there is none. */
export async function readAuditRecord(db: Knex, seq: number): Promise<AuditRecord | undefined> {
  const row: Record<string, unknown> | undefined = await db(AUDIT_LOG_TABLE).where({ seq }).first();
  if (!row) return undefined;
  try {
    return rowToRecord(row);
  } catch {
    return { ...rowToRecordRaw(row), payload: { unparseable: String(row.payload) } };
  }
}

/**
 * Verifies the log up to its head, in one snapshot: the head is read first and
 * only the records up to it are walked, page by page (never all of it in
 * memory), checking every link and then that the last record is the head (records
 * cut off the end show up there). Records appended meanwhile are not looked at,
 * so concurrent writers never cause a false "missing". PostgreSQL: one
 * read-only REPEATABLE READ transaction. SQLite: no transaction (it would hold
 * the database's only writer out for the whole walk); the head row is written in
 * the transaction that appends its records, so every record up to a head read
 * is committed, and committed records are never changed by the plugin.
 */
export async function verifyAuditLog(db: Knex, pageSize = VERIFY_PAGE_SIZE): Promise<ChainVerification> {
  if (isPostgres(db)) {
    return db.transaction(tx => verifyUpToHead(tx, pageSize), { isolationLevel: 'repeatable read', readOnly: true });
  }
  return verifyUpToHead(db, pageSize);
}

async function verifyUpToHead(db: Knex, pageSize: number): Promise<ChainVerification> {
  const head = await readAuditHead(db);
  const verifier = new ChainVerifier();
  let afterSeq = 0;
  while (afterSeq < head.seq) {
    const rows: Record<string, unknown>[] = await db(AUDIT_LOG_TABLE)
      .where('seq', '>', afterSeq)
      .where('seq', '<=', head.seq)
      .orderBy('seq', 'asc')
      .limit(pageSize);
    if (rows.length === 0) break;
    const page: ChainRow[] = rows.map(r => {
      let record: AuditRecord;
      try {
        record = rowToRecord(r);
      } catch (e) {
        // an unparseable payload was altered: hash the raw text so the link reads as modified
        record = { ...rowToRecordRaw(r), payload: { unparseable: String(r.payload), error: (e as Error).message } };
      }
      return { seq: record.seq, prevHash: record.prevHash, hash: record.hash, payload: hashedContent(record) };
    });
    if (verifier.push(page)) return verifier.result();
    afterSeq = Number(rows[rows.length - 1].seq);
    if (rows.length < pageSize) break;
  }
  return verifier.result(head);
}

function rowToRecordRaw(r: Record<string, unknown>): AuditRecord {
  return {
    seq: Number(r.seq),
    at: String(r.at),
    type: String(r.type) as AuditRecordType,
    actor: String(r.actor),
    subject: String(r.subject),
    payload: {},
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** {@link AuditLogStore} on knex. */
export class DatabaseAuditLogStore implements AuditLogStore {
  constructor(private readonly db: Knex) {}

  async listAuditRecords(options: { afterSeq?: number; limit: number; subject?: string }): Promise<AuditRecord[]> {
    return listAuditRecords(this.db, options);
  }

  async verifyAuditLog(): Promise<ChainVerification> {
    return verifyAuditLog(this.db);
  }

  async getAuditHead(): Promise<{ seq: number; hash: string }> {
    return readAuditHead(this.db);
  }

  async getAuditRecord(seq: number): Promise<AuditRecord | undefined> {
    return readAuditRecord(this.db, seq);
  }
}
