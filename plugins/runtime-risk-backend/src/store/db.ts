import type { Knex } from 'knex';
import { isNestableJson, pgInsertRows } from './bulkWrite';

/**
 * What every part of the store shares: table names, the dialect test, the
 * dialect-aware multi-row insert and the column codecs.
 */

export type Row = Record<string, unknown>;

/** The store's tables (the audit log's are in `DatabaseAuditLogStore`). */
export const TABLES = {
  signals: 'runtime_risk_signals',
  identifiers: 'runtime_risk_signal_identifiers',
  sources: 'runtime_risk_source_state',
  decisions: 'runtime_risk_decisions',
  entities: 'runtime_risk_entities',
  entityHosts: 'runtime_risk_entity_hosts',
  exceptions: 'runtime_risk_exceptions',
  dataVersion: 'runtime_risk_data_version',
} as const;

/** Values per `IN (...)` list. */
export const IN_CHUNK = 500;
/**
 * Bound variables per statement: SQLite allows 32,766, PostgreSQL 65,535; both
 * kept well below.
 */
const MAX_VARIABLES = { sqlite: 30_000, pg: 60_000 } as const;
/**
 * Rows per multi-row insert on SQLite: knex writes them as one compound
 * `SELECT ... UNION ALL ...`, which SQLite caps at 500 terms.
 */
const SQLITE_MAX_ROWS = 500;
/** Rows per multi-row insert on PostgreSQL (bounds the statement's size). */
const PG_MAX_ROWS = 5_000;

export function isPostgres(db: Knex): boolean {
  const client = db.client.config.client;
  return client === 'pg' || client === 'postgres' || client === 'postgresql';
}

/** Rows of `columns` columns per multi-row insert on this database. */
export function rowsPerInsert(db: Knex, columns: number): number {
  const pg = isPostgres(db);
  const byVariables = Math.floor((pg ? MAX_VARIABLES.pg : MAX_VARIABLES.sqlite) / Math.max(1, columns));
  return Math.max(1, Math.min(byVariables, pg ? PG_MAX_ROWS : SQLITE_MAX_ROWS));
}

/** Values per `IN (...)` list on this database (PostgreSQL takes longer lists well). */
export function inListSize(db: Knex): number {
  return isPostgres(db) ? 5_000 : IN_CHUNK;
}

/** Number of columns of a batch of rows (all rows of a batch have the same keys). */
function columnsOf(rows: Row[]): number {
  return rows.length ? Object.keys(rows[0]).length : 1;
}

export function chunks<X>(items: X[], size: number): X[][] {
  const out: X[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Inserts `rows` (values of `columns`), with `conflictKeys` an upsert that
 * replaces every other column. PostgreSQL: one JSON parameter per 10,000 rows
 * (`pgInsertRows`; `jsonColumns` may hold nested values, see {@link jsonText});
 * SQLite: knex multi-row statements as large as its limits allow.
 */
export async function insertRows(
  tx: Knex.Transaction,
  table: string,
  columns: string[],
  rows: Row[],
  options: { conflictKeys?: string[]; jsonColumns?: readonly string[] } = {},
): Promise<void> {
  if (rows.length === 0) return;
  if (isPostgres(tx)) {
    const conflict = options.conflictKeys ? { keys: options.conflictKeys, update: true } : undefined;
    await pgInsertRows(tx, table, columns, rows, conflict, options.jsonColumns);
    return;
  }
  for (const chunk of chunks(rows, rowsPerInsert(tx, columnsOf(rows)))) {
    const insert = tx(table).insert(chunk);
    await (options.conflictKeys ? insert.onConflict(options.conflictKeys).merge() : insert);
  }
}

export function str(v: unknown): string {
  return String(v);
}
export function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
export function json<X>(v: unknown, fallback: X): X {
  if (v === null || v === undefined) return fallback;
  return JSON.parse(String(v)) as X;
}

/**
 * A JSON text column's value: its JSON text, or with `nest` (PostgreSQL bulk
 * writes, see `pgInsertRows`) an array or plain object as is, stringified once
 * with the rest of the parameter.
 */
export function jsonText(v: unknown, nest: boolean): unknown {
  return nest && isNestableJson(v) ? v : JSON.stringify(v);
}

/**
 * One page of a filtered query, newest first (ties by id), with the total count
 * of the filter.
 */
export async function offsetPage<T>(
  filtered: () => Knex.QueryBuilder,
  newestColumn: string,
  options: { limit: number; offset: number },
  map: (row: Row) => T,
): Promise<{ items: T[]; totalCount: number }> {
  const countRow = await filtered().count({ n: '*' }).first();
  const rows: Row[] = await filtered()
    .select()
    .orderBy([
      { column: newestColumn, order: 'desc' },
      { column: 'id', order: 'asc' },
    ])
    .limit(options.limit)
    .offset(options.offset);
  return { items: rows.map(map), totalCount: Number((countRow as Row | undefined)?.n ?? 0) };
}
