// @ts-check

/**
 * Incremental correlation rebuilds (issue 18 part 6) read only the signals
 * fetched since the last rebuild: an index on `fetched_at` (the ingestion
 * time) keeps that read independent of the number of stored signals.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.index(['fetched_at'], 'runtime_risk_signals_fetched_at_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.dropIndex(['fetched_at'], 'runtime_risk_signals_fetched_at_idx');
  });
};
