// @ts-check

/**
 * Who decided an exception last (approve / reject / revoke) and when.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('runtime_risk_exceptions', table => {
    table.string('decided_by', 512).nullable().comment('who approved, rejected or revoked it');
    table.string('decided_at', 40).nullable();
    table.text('decision_comment').nullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_exceptions', table => {
    table.dropColumn('decision_comment');
    table.dropColumn('decided_at');
    table.dropColumn('decided_by');
  });
};
