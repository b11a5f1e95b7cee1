// @ts-check

/**
 * The parts of an indexed System (its Components, and the environments in which
 * each has hosts): a System gate names the Components without hosts in a
 * `partial_coverage` reason (DESIGN "Catalog relations").
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('runtime_risk_entities', table => {
    table.text('parts').nullable().comment('JSON [{ entityRef, environments }] of a System\'s Components; null otherwise');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_entities', table => {
    table.dropColumn('parts');
  });
};
