// @ts-check

/**
 * Initial schema of the runtime-risk backend.
 *
 * Timestamps are stored as ISO 8601 UTC strings (`toISOString()`), which sort
 * lexicographically and read back identically on SQLite and PostgreSQL, so that
 * stored decision inputs replay byte for byte.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_signals', table => {
    table.comment('Normalized EDR signals, upserted by source + source_id');
    table.string('source', 255).notNullable();
    table.string('source_id', 255).notNullable();
    table.string('id', 512).notNullable().unique().comment('<source>:<source_id>');
    table.string('kind', 32).notNullable();
    table.string('severity', 32).notNullable();
    table.double('confidence').notNullable();
    table.string('status', 32).notNullable();
    table.text('title').notNullable();
    table.text('description').nullable();
    table.text('tactics').notNullable().comment('JSON array');
    table.text('techniques').notNullable().comment('JSON array');
    table.text('asset').notNullable().comment('JSON normalized asset');
    table.string('first_seen_at', 40).notNullable();
    table.string('last_seen_at', 40).notNullable();
    table.string('fetched_at', 40).notNullable();
    table.text('url').nullable();
    table.text('raw').nullable().comment('JSON vendor record');
    table.primary(['source', 'source_id']);
    table.index(['status'], 'runtime_risk_signals_status_idx');
    table.index(['last_seen_at'], 'runtime_risk_signals_last_seen_idx');
  });

  await knex.schema.createTable('runtime_risk_signal_identifiers', table => {
    table.comment('Host identifiers of each signal asset, for index lookups from the gate');
    table.string('signal_id', 512).notNullable();
    table.string('kind', 32).notNullable().comment('hostname | fqdn | device_id | instance_id | ip | mac');
    table.string('value', 512).notNullable().comment('lower-cased identifier');
    table.primary(['signal_id', 'kind', 'value']);
    table.index(['value'], 'runtime_risk_signal_identifiers_value_idx');
  });

  await knex.schema.createTable('runtime_risk_source_state', table => {
    table.comment('Ingestion state of each signal source');
    table.string('id', 255).primary();
    table.string('type', 64).notNullable();
    table.text('cursor').nullable();
    table.string('last_success_at', 40).nullable();
    table.string('last_attempt_at', 40).nullable();
    table.text('last_error').nullable();
    table.integer('consecutive_failures').notNullable().defaultTo(0);
    table.string('as_of', 40).nullable();
    table.integer('rejected_count').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('runtime_risk_decisions', table => {
    table.comment('Gate decisions with everything evaluate() got, so they can be replayed');
    table.bigIncrements('seq');
    table.string('id', 64).notNullable().unique();
    table.string('entity_ref', 512).notNullable();
    table.string('environment', 128).notNullable();
    table.string('decision', 32).notNullable();
    table.string('risk_level', 32).notNullable();
    table.double('score').nullable();
    table.text('reasons').notNullable().comment('JSON');
    table.text('inputs').notNullable().comment('JSON EvaluationInput');
    table.text('result').notNullable().comment('JSON answer as given');
    table.string('policy_id', 255).notNullable();
    table.string('policy_hash', 128).notNullable();
    table.boolean('dry_run').notNullable().defaultTo(false);
    table.string('status', 32).notNullable();
    table.string('created_at', 40).notNullable();
    table.string('prev_hash', 128).nullable();
    table.string('hash', 128).nullable();
    table.index(['entity_ref', 'environment'], 'runtime_risk_decisions_entity_idx');
  });

  await knex.schema.createTable('runtime_risk_entities', table => {
    table.comment('Correlation index: catalog entities');
    table.string('entity_ref', 512).primary();
    table.string('kind', 128).notNullable();
    table.string('namespace', 255).notNullable();
    table.string('name', 255).notNullable();
    table.string('owner', 512).nullable();
    table.string('system', 512).nullable();
    table.string('updated_at', 40).notNullable();
  });

  await knex.schema.createTable('runtime_risk_entity_hosts', table => {
    table.comment('Correlation index: host identifiers of entities per environment (* = all)');
    table.string('entity_ref', 512).notNullable();
    table.string('environment', 128).notNullable();
    table.string('value', 512).notNullable();
    table.string('matched_by', 255).notNullable();
    table.primary(['entity_ref', 'environment', 'value']);
    table.index(['value'], 'runtime_risk_entity_hosts_value_idx');
  });

  await knex.schema.createTable('runtime_risk_exceptions', table => {
    table.comment('Exceptions granted for an entity + environment');
    table.string('id', 64).primary();
    table.string('entity_ref', 512).notNullable();
    table.string('environment', 128).notNullable();
    table.text('reason').notNullable();
    table.string('requested_by', 512).notNullable();
    table.string('status', 32).notNullable().comment('pending | approved | rejected | revoked | expired');
    table.string('approved_by', 512).nullable();
    table.string('expires_at', 40).notNullable();
    table.text('signal_ids').nullable().comment('JSON array');
    table.string('max_level', 32).nullable();
    table.string('created_at', 40).notNullable();
    table.index(['entity_ref', 'environment'], 'runtime_risk_exceptions_entity_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('runtime_risk_exceptions');
  await knex.schema.dropTable('runtime_risk_entity_hosts');
  await knex.schema.dropTable('runtime_risk_entities');
  await knex.schema.dropTable('runtime_risk_decisions');
  await knex.schema.dropTable('runtime_risk_source_state');
  await knex.schema.dropTable('runtime_risk_signal_identifiers');
  await knex.schema.dropTable('runtime_risk_signals');
};
