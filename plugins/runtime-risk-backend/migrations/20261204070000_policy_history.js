// @ts-check

/**
 * Policy history (issue 17 part 3): every distinct policy the backend has run,
 * by the hash decisions record, with its body (the `runtimeRisk.policy` value it
 * was compiled from, so a decision made under it can be replayed after the
 * policy changed) and the periods it was active. Also an index on the decisions'
 * time, which backtests and the org summary scan by.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_policies', table => {
    table.comment('Every distinct policy the backend has run, by hash');
    table.string('hash', 128).primary().comment('sha256 of the normalized policy (CompiledPolicy.hash)');
    table.string('policy_id', 255).notNullable();
    table.text('body').notNullable().comment('JSON: the runtimeRisk.policy value it was compiled from');
    table.string('first_active_at', 40).notNullable();
  });
  await knex.schema.createTable('runtime_risk_policy_periods', table => {
    table.comment('When each policy was active: one row per period, active_until null while it is');
    table.increments('seq');
    table.string('hash', 128).notNullable();
    table.string('active_from', 40).notNullable();
    table.string('active_until', 40).nullable();
    table.index(['hash'], 'runtime_risk_policy_periods_hash_idx');
  });
  await knex.schema.alterTable('runtime_risk_decisions', table => {
    table.index(['created_at', 'seq'], 'runtime_risk_decisions_created_idx');
    // the org summary's pending approvals (few rows of many)
    table.index(['status'], 'runtime_risk_decisions_status_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_decisions', table => {
    table.dropIndex(['created_at', 'seq'], 'runtime_risk_decisions_created_idx');
    table.dropIndex(['status'], 'runtime_risk_decisions_status_idx');
  });
  await knex.schema.dropTable('runtime_risk_policy_periods');
  await knex.schema.dropTable('runtime_risk_policies');
};
