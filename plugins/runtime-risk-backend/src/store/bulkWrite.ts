import type { Knex } from 'knex';

/**
 * Bulk statements of the store on PostgreSQL. Inserts send the rows as one JSON
 * parameter that `json_populate_recordset` turns back into rows of the table's
 * own type (measured: about twice as fast as one array parameter per column with
 * `unnest`, and far faster than knex's multi-row `VALUES` with one parameter per
 * value, which also caps a statement at 65,535 parameters). Lookups and deletes
 * by key join an unnested `text[]` parameter, so they use the key's index.
 * SQLite keeps knex's multi-row statements (see `rowsPerInsert`).
 */

type Row = Record<string, unknown>;

/** Rows per PostgreSQL bulk statement: bounds the size of one statement's parameter. */
export const PG_BULK_ROWS = 10_000;

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The rows as JSON text for PostgreSQL. `JSON.stringify` writes a lone UTF-16
 * surrogate (possible in vendor text) as a `\udXXX` escape, which PostgreSQL's
 * JSON-to-text conversion rejects; such strings get U+FFFD instead, which is what
 * a plain text parameter gets from the driver's UTF-8 encoding.
 */
function jsonParameter(rows: Row[]): string {
  const text = JSON.stringify(rows);
  if (!/\\ud[89a-f]/i.test(text)) return text;
  return JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'string' ? value.replace(LONE_SURROGATE, '\ufffd') : value));
}

/**
 * PostgreSQL: inserts `rows` (the values of `columns`; missing or undefined
 * values are NULL); with `conflict`, an `ON CONFLICT (keys) DO UPDATE` that sets
 * every other column to the new value (what knex's `onConflict(keys).merge()`
 * does), or `DO NOTHING` when `update` is false.
 */
export async function pgInsertRows(
  tx: Knex | Knex.Transaction,
  table: string,
  columns: string[],
  rows: Row[],
  conflict?: { keys: string[]; update: boolean },
): Promise<void> {
  const names = columns.map(quote).join(', ');
  let onConflict = '';
  if (conflict) {
    const target = `(${conflict.keys.map(quote).join(', ')})`;
    const set = columns
      .filter(c => !conflict.keys.includes(c))
      .map(c => `${quote(c)} = excluded.${quote(c)}`)
      .join(', ');
    onConflict = conflict.update && set ? ` on conflict ${target} do update set ${set}` : ` on conflict ${target} do nothing`;
  }
  for (let i = 0; i < rows.length; i += PG_BULK_ROWS) {
    const chunk = rows.slice(i, i + PG_BULK_ROWS).map(r => {
      const picked: Row = {};
      for (const c of columns) picked[c] = r[c] === undefined ? null : r[c];
      return picked;
    });
    await tx.raw(
      `insert into ${quote(table)} (${names}) select ${names} from json_populate_recordset(null::${quote(table)}, ?::json)${onConflict}`,
      [jsonParameter(chunk)],
    );
  }
}

/** PostgreSQL: the rows of `table` whose `column` is one of `values` (joined on an unnested array, so it uses the index). */
export async function pgSelectWhereIn(
  tx: Knex | Knex.Transaction,
  table: string,
  column: string,
  values: string[],
  select: string[],
): Promise<Row[]> {
  const out: Row[] = [];
  for (let i = 0; i < values.length; i += PG_BULK_ROWS) {
    const result = await tx.raw(
      `select ${select.map(c => `t.${quote(c)}`).join(', ')} from unnest(?::text[]) as v(value) join ${quote(table)} t on t.${quote(column)} = v.value`,
      [values.slice(i, i + PG_BULK_ROWS)],
    );
    out.push(...(result.rows as Row[]));
  }
  return out;
}

/** PostgreSQL: deletes the rows of `table` whose `column` is one of `values`. */
export async function pgDeleteWhereIn(tx: Knex | Knex.Transaction, table: string, column: string, values: string[]): Promise<void> {
  for (let i = 0; i < values.length; i += PG_BULK_ROWS) {
    await tx.raw(`delete from ${quote(table)} t using unnest(?::text[]) as v(value) where t.${quote(column)} = v.value`, [
      values.slice(i, i + PG_BULK_ROWS),
    ]);
  }
}
