// @ts-check

/**
 * The org summary's shadow-mode counts (issue 17 part 5) read the dry runs of
 * the last days: a partial index on `created_at` of the dry runs keeps that read
 * to the dry runs alone (it was a scan of every stored decision, answers
 * included, about 1 s at 100,000 decisions).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.raw('create index runtime_risk_decisions_dry_run_idx on runtime_risk_decisions (created_at) where dry_run');
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.raw('drop index runtime_risk_decisions_dry_run_idx');
};
