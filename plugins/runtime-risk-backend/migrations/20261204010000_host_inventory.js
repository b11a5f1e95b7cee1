// @ts-check

/**
 * The vendor host inventory (issue 15 part 3): the hosts each source lists
 * through its Hosts / Machines / Agents API, upserted by (source, source_id),
 * with the identifiers they are looked up by (the same kinds as a signal's
 * asset) and each source's inventory walk state (its own cursor). Not to be
 * confused with the entity -> hosts inventory file (`matchedBy: inventory`).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_hosts', table => {
    table.comment('Vendor host inventory: hosts listed by each source, upserted by source + source_id');
    table.string('source', 255).notNullable();
    table.string('source_id', 255).notNullable().comment("the vendor's host id (device id, machine id, agent id)");
    table.string('hostname', 255).nullable();
    table.string('fqdn', 512).nullable();
    table.string('instance_id', 255).nullable();
    table.string('k8s_cluster', 255).nullable();
    table.string('k8s_namespace', 255).nullable();
    table.string('k8s_pod', 255).nullable();
    table.string('k8s_node', 255).nullable();
    table.text('labels').nullable().comment('JSON Kubernetes pod labels');
    table.text('asset').notNullable().comment('JSON normalized asset');
    table.string('last_seen_at', 40).nullable().comment("the vendor's last contact with the host");
    table.string('listed_at', 40).notNullable().comment('when the source last listed the host');
    table.primary(['source', 'source_id']);
    table.index(['listed_at'], 'runtime_risk_hosts_listed_idx');
  });

  await knex.schema.createTable('runtime_risk_host_identifiers', table => {
    table.comment('Identifiers of each inventory host (kinds of signal identifiers), for lookups from the gate');
    table.string('source', 255).notNullable();
    table.string('source_id', 255).notNullable();
    table.string('kind', 32).notNullable().comment('hostname | fqdn | device_id | instance_id | ip | mac | pod');
    table.string('value', 512).notNullable().comment('lower-cased identifier');
    table.primary(['source', 'source_id', 'kind', 'value']);
    table.index(['value'], 'runtime_risk_host_identifiers_value_idx');
  });

  await knex.schema.createTable('runtime_risk_host_inventory_state', table => {
    table.comment('Inventory walk state of each source (separate from its signal cursor and health)');
    table.string('source', 255).primary();
    table.string('type', 64).notNullable();
    table.text('cursor').nullable();
    table.string('last_success_at', 40).nullable();
    table.string('last_attempt_at', 40).nullable();
    table.string('last_complete_at', 40).nullable().comment('end of the last finished walk');
    table.text('last_error').nullable();
    table.integer('consecutive_failures').notNullable().defaultTo(0);
    table.integer('rejected_count').notNullable().defaultTo(0);
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('runtime_risk_host_inventory_state');
  await knex.schema.dropTable('runtime_risk_host_identifiers');
  await knex.schema.dropTable('runtime_risk_hosts');
};
