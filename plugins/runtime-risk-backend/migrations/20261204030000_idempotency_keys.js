// @ts-check

/**
 * Idempotency keys of gate requests (issue 16 part 5): one row per (caller, key),
 * claimed by the first request under a unique primary key before it evaluates, so
 * concurrent requests with one key on any replica record a single decision.
 * Rows older than 24 hours are swept.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_idempotency_keys', table => {
    table.comment('Idempotency-Key of POST /v1/gate per caller -> the decision its first request recorded');
    table.string('caller', 255).notNullable().comment('principal of the request: user ref or service subject, lower-cased');
    table.string('idempotency_key', 255).notNullable().comment('the Idempotency-Key header');
    table.string('request_hash', 64).notNullable().comment('sha256 of the canonical request body');
    table.string('decision_id', 64).notNullable().comment('the decision recorded (or being recorded) for the key');
    table.string('created_at', 40).notNullable();
    table.primary(['caller', 'idempotency_key']);
    table.index(['created_at'], 'runtime_risk_idempotency_keys_created_at_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('runtime_risk_idempotency_keys');
};
