// @ts-check

/**
 * Keyset paging over stored signals (the correlation rebuild's `listSignalAssets`,
 * and `listSignals`) orders by `last_seen_at DESC, id ASC`: an index in exactly
 * that order lets each page start where the last one ended and stop after
 * `limit` rows. It replaces the index on `last_seen_at` alone (its prefix).
 * The gate's reads were already indexed (entities and entity hosts by primary
 * key, identifiers by value, signals by id, exceptions by entity + environment).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.raw(
    'CREATE INDEX runtime_risk_signals_last_seen_id_idx ON runtime_risk_signals (last_seen_at DESC, id ASC)',
  );
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.dropIndex(['last_seen_at'], 'runtime_risk_signals_last_seen_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.index(['last_seen_at'], 'runtime_risk_signals_last_seen_idx');
  });
  await knex.raw('DROP INDEX runtime_risk_signals_last_seen_id_idx');
};
