// @ts-check
const { randomUUID } = require('node:crypto');

/**
 * A single counter of the data the gate reads (signals, source state, entity
 * index, exceptions): every write of that data bumps it in the same
 * transaction. Gate inputs are cached under the version they were read at, so a
 * bump invalidates them on every replica at once (see docs/performance.md).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_data_version', table => {
    table.comment('Version of the gate inputs; bumped by every write of signals, source state, index or exceptions');
    table.integer('id').primary();
    table.string('epoch', 64).notNullable().comment('random per database: a shared cache never mixes two databases');
    table.bigInteger('version').notNullable();
  });
  await knex('runtime_risk_data_version').insert({ id: 1, epoch: randomUUID(), version: 1 });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('runtime_risk_data_version');
};
