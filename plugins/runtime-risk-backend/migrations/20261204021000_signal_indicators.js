// @ts-check

/**
 * File and process indicators of each signal (SHA-256, path, process, command
 * line): signals of several vendors on one host describing the same incident
 * count once (DESIGN "One incident, several vendors").
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.text('indicators').nullable().comment('JSON { sha256?, filePath?, processName?, commandLine? }; null without any');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.dropColumn('indicators');
  });
};
