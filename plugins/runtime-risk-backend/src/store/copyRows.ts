import type { Knex } from 'knex';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * PostgreSQL bulk upsert through `COPY` (issue 18 part 3): the rows are streamed
 * in COPY's text format into a temporary staging table, then moved with one
 * `INSERT ... SELECT ... ON CONFLICT`. COPY parses rows far faster than a JSON
 * parameter (`json_populate_recordset`) or bound values, and the single insert
 * keeps the upsert's conflict rule.
 *
 * Runs on the connection of the knex transaction `tx`: knex's transaction client
 * answers `acquireConnection()` with the connection the transaction holds (and
 * its `releaseConnection` does nothing), so the COPY is part of the transaction
 * and commits or rolls back with everything else in it (e.g. the source's
 * cursor). The staging table is `ON COMMIT DROP`: it lives for this transaction
 * only and never outlives a rollback.
 */

type Row = Record<string, unknown>;

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * One field in COPY's text format: `\N` for NULL; backslash, tab, newline and
 * carriage return escaped (the characters that would end or change a field or
 * row). Objects and arrays (JSON text columns) are written as their JSON text.
 * NUL cannot be stored in PostgreSQL text at all (validation removes it).
 */
export function copyTextField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let s: string;
  if (typeof value === 'string') s = value;
  else if (typeof value === 'object') s = JSON.stringify(value);
  else if (typeof value === 'boolean') s = value ? 't' : 'f';
  else s = String(value);
  return SPECIAL.test(s) ? s.replace(SPECIALS, c => ESCAPES[c]) : s;
}

/** Bytes per chunk of COPY data handed to the stream (more for a longer field). */
const CHUNK_BYTES = 256 * 1024;

/**
 * The COPY text of `rows` (`columns` in order, tab between fields, newline after
 * each row), UTF-8, in chunks of about `chunkBytes`: each field is encoded
 * straight into the chunk's buffer (`Buffer.write`), instead of concatenating a
 * chunk string field by field and encoding it afterwards (a rope of ~40 pieces
 * per row that V8 has to flatten before `Buffer.from`: ~0.35 s of the bench's
 * 20,000-alert sync). Same bytes: a lone surrogate becomes U+FFFD either way. A
 * row may end in the next chunk (COPY data is one byte stream; its messages need
 * not end at rows).
 */
export function* copyChunks(rows: Row[], columns: string[], chunkBytes = CHUNK_BYTES): Generator<Buffer> {
  let buf = Buffer.allocUnsafe(chunkBytes);
  let used = 0;
  const last = columns.length - 1;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let c = 0; c <= last; c++) {
      const field = copyTextField(row[columns[c]]);
      // UTF-8 takes at most 3 bytes per UTF-16 code unit; 1 more for the tab or newline
      const most = field.length * 3 + 1;
      if (used + most > buf.length) {
        if (used > 0) yield buf.subarray(0, used);
        buf = Buffer.allocUnsafe(Math.max(chunkBytes, most));
        used = 0;
      }
      used += buf.write(field, used);
      buf[used++] = c === last ? 0x0a : 0x09;
    }
  }
  if (used > 0) yield buf.subarray(0, used);
}

interface CopyClient {
  query(stream: unknown): NodeJS.WritableStream;
}

/** Streams `rows` into `table` (`columns` in order) with `COPY ... FROM STDIN` on the transaction's connection. */
export async function pgCopyRows(tx: Knex.Transaction, table: string, columns: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  // the transaction's own connection (knex's transaction client hands it out; releasing is a no-op)
  const connection = (await tx.client.acquireConnection()) as CopyClient;
  try {
    const sql = `copy ${quote(table)} (${columns.map(quote).join(', ')}) from stdin`;
    await pipeline(Readable.from(copyChunks(rows, columns)), connection.query(copyFrom(sql)));
  } finally {
    await tx.client.releaseConnection(connection);
  }
}

/**
 * Upserts `rows` into `table` through a staging table: COPY, then one
 * `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE SET <the other columns>`
 * (`where` a condition on `excluded` and the table, as in `pgInsertRows`).
 * Answers the `returning` column of the rows inserted or updated (none without `returning`).
 */
export async function pgCopyUpsert(
  tx: Knex.Transaction,
  table: string,
  columns: string[],
  rows: Row[],
  conflict: { keys: string[]; where?: string },
  returning?: string,
): Promise<Row[]> {
  if (rows.length === 0) return [];
  const stage = `${table}_stage`;
  const names = columns.map(quote).join(', ');
  // the table's column types, no constraints; dropped at the end of the transaction
  await tx.raw(
    `create temporary table if not exists ${quote(stage)} on commit drop as select ${names} from ${quote(table)} with no data`,
  );
  await pgCopyRows(tx, stage, columns, rows);
  const set = columns
    .filter(c => !conflict.keys.includes(c))
    .map(c => `${quote(c)} = excluded.${quote(c)}`)
    .join(', ');
  const result = await tx.raw(
    `insert into ${quote(table)} (${names}) select ${names} from ${quote(stage)} ` +
      `on conflict (${conflict.keys.map(quote).join(', ')}) do update set ${set}${conflict.where ? ` where ${conflict.where}` : ''}` +
      (returning ? ` returning ${quote(returning)}` : ''),
  );
  // a second upsert in the same transaction starts from an empty stage
  await tx.raw(`truncate ${quote(stage)}`);
  return returning ? (result.rows as Row[]) : [];
}
