// @ts-check

/**
 * Append-only, hash-chained decision log (`runtime_risk_audit_log`), the single-row
 * head that serializes appends (`runtime_risk_audit_head`, locked FOR UPDATE on
 * PostgreSQL), and the final outcome of pending decisions (approval, rejection,
 * expiry, override) on `runtime_risk_decisions`.
 *
 * `seq` is assigned by the appender as head + 1 (not by a sequence), so a rolled-back
 * transaction never leaves a gap that would read as a removed record.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_audit_log', table => {
    table.comment('Append-only decision log; each record carries the hash of the previous one');
    table.bigInteger('seq').primary();
    table.string('at', 40).notNullable();
    table.string('type', 64).notNullable();
    table.string('actor', 512).notNullable();
    table.string('subject', 512).notNullable().comment('decision id or exception id');
    table.text('payload').notNullable().comment('JSON');
    table.string('prev_hash', 64).notNullable();
    table.string('hash', 64).notNullable();
    table.index(['subject'], 'runtime_risk_audit_log_subject_idx');
  });

  await knex.schema.createTable('runtime_risk_audit_head', table => {
    table.comment('The last record of the audit log; its row lock serializes appends');
    table.integer('id').primary();
    table.bigInteger('seq').notNullable();
    table.string('hash', 64).notNullable();
  });
  await knex('runtime_risk_audit_head').insert({ id: 1, seq: 0, hash: '0'.repeat(64) });

  await knex.schema.alterTable('runtime_risk_decisions', table => {
    table.text('outcome').nullable().comment('JSON: final decision of a pending one (approval, rejection, override)');
    table.string('decided_by', 512).nullable();
    table.string('decided_at', 40).nullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_decisions', table => {
    table.dropColumn('decided_at');
    table.dropColumn('decided_by');
    table.dropColumn('outcome');
  });
  await knex.schema.dropTable('runtime_risk_audit_head');
  await knex.schema.dropTable('runtime_risk_audit_log');
};
