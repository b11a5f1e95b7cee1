// @ts-check

/**
 * Shared decision inputs (issue 18 part 2): the part of a gate decision's inputs
 * read from the store (hosts, signals, source states, exceptions, what the index
 * says is uncovered, the policy hash) is stored once per content hash (sha256 of
 * its canonical JSON) in `runtime_risk_decision_inputs`; a decision row keeps its
 * own part (entityRef, environment, now, dryRun) in `inputs` and names the shared
 * row in `inputs_hash`. Rows written before keep their full inputs inline
 * (`inputs_hash` null); the store reads both layouts.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_decision_inputs', table => {
    table.comment('Gate decision inputs read from the store, once per content hash (sha256 of the canonical JSON body)');
    table.string('hash', 64).primary();
    table.text('body').notNullable().comment('canonical JSON: hosts, signals, sources, exceptions, uncovered, correlationTried, policyHash');
  });
  await knex.schema.alterTable('runtime_risk_decisions', table => {
    table.string('inputs_hash', 64).nullable().comment('runtime_risk_decision_inputs.hash; null: the full inputs are inline');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_decisions', table => {
    table.dropColumn('inputs_hash');
  });
  await knex.schema.dropTable('runtime_risk_decision_inputs');
};
