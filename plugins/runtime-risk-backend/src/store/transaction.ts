import type { Knex } from 'knex';
import { TABLES } from './db';

/**
 * The store's one transaction helper. Every write runs in it.
 *
 * With `changesGateInputs` (writes of what the gate reads: signals, source
 * state, the entity index, exceptions) it bumps the data version last, in the
 * same transaction, so cached gate inputs of the old version are never used
 * again once the change is visible. (Lock order: the audit head, then the
 * version.) Decisions are not gate inputs: their writes leave the version alone.
 */
export async function transaction<X>(
  db: Knex,
  fn: (tx: Knex.Transaction) => Promise<X>,
  options: { changesGateInputs?: boolean } = {},
): Promise<X> {
  return db.transaction(async tx => {
    const result = await fn(tx);
    if (options.changesGateInputs) await tx(TABLES.dataVersion).where({ id: 1 }).increment('version', 1);
    return result;
  });
}

/** The data version (see `DataVersionStore.getDataVersion`): `<database epoch>.<counter>`. */
export async function readDataVersion(db: Knex): Promise<string> {
  const row = await db(TABLES.dataVersion).where({ id: 1 }).first('epoch', 'version');
  if (!row) throw new Error(`${TABLES.dataVersion} has no row; the migrations did not run`);
  return `${row.epoch}.${row.version}`;
}
