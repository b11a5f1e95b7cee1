// @ts-check

/**
 * Score snapshots (issue 19 part 5): each entity's risk per environment, stored
 * when it changes and at least hourly, for the "Risk over time" chart; kept for
 * `runtimeRisk.history.retention` (default 30 days). Timestamps are ISO 8601 UTC
 * strings like every other table's.
 *
 * `runtime_risk_score_latest` holds the last snapshot of each entity +
 * environment, so the writer compares with it in one small read instead of
 * scanning the history.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_score_snapshots', table => {
    table.comment('Risk of an entity in an environment over time: on every change and at least hourly');
    table.bigIncrements('id').primary();
    table.string('entity_ref', 512).notNullable();
    table.string('environment', 255).notNullable();
    table.string('at', 40).notNullable();
    table.double('score').nullable().comment('0..100; null when no score (uncorrelated, unavailable)');
    table.string('risk_level', 32).notNullable();
    table.string('decision', 32).notNullable();
    table.index(['entity_ref', 'environment', 'at'], 'runtime_risk_score_snapshots_entity_idx');
    table.index(['at'], 'runtime_risk_score_snapshots_at_idx');
  });

  await knex.schema.createTable('runtime_risk_score_latest', table => {
    table.comment('The last score snapshot of each entity + environment');
    table.string('entity_ref', 512).notNullable();
    table.string('environment', 255).notNullable();
    table.string('at', 40).notNullable();
    table.double('score').nullable();
    table.string('risk_level', 32).notNullable();
    table.string('decision', 32).notNullable();
    table.primary(['entity_ref', 'environment']);
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('runtime_risk_score_latest');
  await knex.schema.dropTable('runtime_risk_score_snapshots');
};
