import type { Knex } from 'knex';
import { withoutLoneSurrogates } from '../lib/loneSurrogates';

/**
 * Bulk statements of the store on PostgreSQL. Inserts send the rows as one JSON
 * parameter that `json_populate_recordset` turns back into rows of the table's
 * own type (measured: about twice as fast as one array parameter per column with
 * `unnest`, and far faster than knex's multi-row `VALUES` with one parameter per
 * value, which also caps a statement at 65,535 parameters). Lookups and deletes
 * by key go through the key's index whatever the table's size (see
 * `pgSelectWhereIn`, `pgDeleteWhereIn`). SQLite keeps knex's multi-row
 * statements (see `rowsPerInsert`).
 */

type Row = Record<string, unknown>;

/** Rows per PostgreSQL bulk statement: bounds the size of one statement's parameter. */
export const PG_BULK_ROWS = 10_000;

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * A value a JSON text column can take as nested JSON in the parameter: an array
 * or a plain object (no `toJSON`). `json_populate_recordset` stores a nested
 * array or object in a `text` column as its JSON text verbatim, which is exactly
 * `JSON.stringify(value)`: written once, inside the parameter, instead of once
 * on its own and again escaped as a string.
 */
export function isNestableJson(value: unknown): value is object {
  return (
    value !== null &&
    typeof value === 'object' &&
    (Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON !== 'function')
  );
}

/**
 * The rows as JSON text for PostgreSQL. `JSON.stringify` writes a lone UTF-16
 * surrogate (possible in vendor text) as a `\udXXX` escape, which PostgreSQL's
 * JSON parser rejects; then nested JSON values (`jsonColumns`) are passed as
 * their JSON text instead (a string, where such an escape is plain text) and
 * top-level strings with a lone surrogate get U+FFFD, which is what a plain text
 * parameter gets from the driver's UTF-8 encoding.
 */
function jsonParameter(rows: Row[], jsonColumns: readonly string[]): string {
  const text = JSON.stringify(rows);
  if (!/\\ud[89a-f]/i.test(text)) return text;
  const flat = jsonColumns.length
    ? rows.map(r => {
        const copy: Row = { ...r };
        for (const c of jsonColumns) if (isNestableJson(copy[c])) copy[c] = JSON.stringify(copy[c]);
        return copy;
      })
    : rows;
  return JSON.stringify(flat, withoutLoneSurrogates);
}

/**
 * PostgreSQL: inserts `rows` (the values of `columns`; missing or undefined
 * values are NULL); with `conflict`, an `ON CONFLICT (keys) DO UPDATE` that sets
 * every other column to the new value (what knex's `onConflict(keys).merge()`
 * does), or `DO NOTHING` when `update` is false. Keys of a row that are not
 * `columns` are ignored. Values of `jsonColumns` (text columns holding JSON) may
 * be arrays or plain objects: they are stored as their `JSON.stringify` text.
 */
export async function pgInsertRows(
  tx: Knex | Knex.Transaction,
  table: string,
  columns: string[],
  rows: Row[],
  conflict?: { keys: string[]; update: boolean; where?: string },
  jsonColumns: readonly string[] = [],
  returning?: string,
): Promise<Row[]> {
  const names = columns.map(quote).join(', ');
  let onConflict = '';
  if (conflict) {
    const target = `(${conflict.keys.map(quote).join(', ')})`;
    const set = columns
      .filter(c => !conflict.keys.includes(c))
      .map(c => `${quote(c)} = excluded.${quote(c)}`)
      .join(', ');
    onConflict =
      conflict.update && set
        ? ` on conflict ${target} do update set ${set}${conflict.where ? ` where ${conflict.where}` : ''}`
        : ` on conflict ${target} do nothing`;
  }
  const out: Row[] = [];
  for (let i = 0; i < rows.length; i += PG_BULK_ROWS) {
    // keys missing from a row (or undefined) are NULL; keys that are not `columns` are not selected
    const chunk = rows.length <= PG_BULK_ROWS ? rows : rows.slice(i, i + PG_BULK_ROWS);
    const result = await tx.raw(
      `insert into ${quote(table)} (${names}) select ${names} from json_populate_recordset(null::${quote(table)}, ?::json)${onConflict}` +
        (returning ? ` returning ${quote(returning)}` : ''),
      [jsonParameter(chunk, jsonColumns)],
    );
    if (returning) out.push(...(result.rows as Row[]));
  }
  return out;
}

/** `and t."<column>" = ?` for each of `also` (with its bindings), for the statements below. */
function alsoWhere(also: Record<string, string>): { sql: string; bindings: string[] } {
  const keys = Object.keys(also);
  return { sql: keys.map(k => ` and t.${quote(k)} = ?`).join(''), bindings: keys.map(k => also[k]) };
}

/**
 * PostgreSQL: the rows of `table` whose `column` is one of `values` (and whose
 * columns `also` have those values), `select` columns. Each value is looked up
 * in the index on `column` (a LATERAL subquery per unnested value; `offset 0`
 * keeps PostgreSQL from flattening it into a join). A plain join of the unnested
 * array, as before, is planned as a hash join over a sequential scan of the
 * whole table once the table is large and its statistics say so: measured for
 * 5,000 signal ids against 800,000 identifier rows after ANALYZE (the full
 * bench's size), 190-400 ms per page instead of 13-27 ms; 72-89 ms instead of
 * 15-27 ms at 120,000 rows. Same rows.
 */
export async function pgSelectWhereIn(
  tx: Knex | Knex.Transaction,
  table: string,
  column: string,
  values: string[],
  select: string[],
  also: Record<string, string> = {},
): Promise<Row[]> {
  const out: Row[] = [];
  const where = alsoWhere(also);
  for (let i = 0; i < values.length; i += PG_BULK_ROWS) {
    const result = await tx.raw(
      `select ${select.map(c => `x.${quote(c)}`).join(', ')} from unnest(?::text[]) as v(value) cross join lateral ` +
        `(select ${select.map(c => `t.${quote(c)}`).join(', ')} from ${quote(table)} t where t.${quote(column)} = v.value${where.sql} offset 0) as x`,
      [values.slice(i, i + PG_BULK_ROWS), ...where.bindings],
    );
    out.push(...(result.rows as Row[]));
  }
  return out;
}

/**
 * Values per delete statement of `pgDeleteWhereIn`: few enough that PostgreSQL
 * joins them to the table through its index (5,000 made it hash-join a
 * sequential scan of a large table: 225-303 ms for 5,000 signal ids against
 * 800,000 identifier rows, 34-37 ms in statements of 500).
 */
const PG_DELETE_VALUES = 500;

/** PostgreSQL: deletes the rows of `table` whose `column` is one of `values` (and whose columns `also` have those values). */
export async function pgDeleteWhereIn(
  tx: Knex | Knex.Transaction,
  table: string,
  column: string,
  values: string[],
  also: Record<string, string> = {},
): Promise<void> {
  const where = alsoWhere(also);
  for (let i = 0; i < values.length; i += PG_DELETE_VALUES) {
    await tx.raw(`delete from ${quote(table)} t using unnest(?::text[]) as v(value) where t.${quote(column)} = v.value${where.sql}`, [
      values.slice(i, i + PG_DELETE_VALUES),
      ...where.bindings,
    ]);
  }
}
