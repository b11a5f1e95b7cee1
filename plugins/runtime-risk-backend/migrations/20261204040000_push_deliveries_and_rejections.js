// @ts-check

/**
 * Issue 16 parts 7 and 8:
 * - `runtime_risk_push_deliveries`: the webhook replay guard shared by every
 *   replica: one row per accepted delivery (its replay key, hashed) until it
 *   expires; a second delivery with the same key fails on the primary key.
 * - `runtime_risk_signals.updated_at`: the vendor's time of the signal's state
 *   (`updatedAt`, else `lastSeenAt`); an upsert only replaces a row with an
 *   equal or newer one, so a late or replayed delivery never brings an older
 *   state back (a resolved signal never becomes active again by replay).
 * - `runtime_risk_source_state.last_rejected_reason`: why the last rejected
 *   record of a source was rejected (with `rejected_count`, in source health).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.createTable('runtime_risk_push_deliveries', table => {
    table.comment('Accepted push deliveries, by replay key, until they expire (webhook replay guard of all replicas)');
    table.string('source', 255).notNullable();
    table.string('delivery_key', 64).notNullable().comment('sha256 hex of the replay key the source derived');
    table.string('expires_at', 40).notNullable();
    table.primary(['source', 'delivery_key']);
    table.index(['expires_at'], 'runtime_risk_push_deliveries_expires_idx');
  });
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.string('updated_at', 40).nullable().comment("vendor's time of this state (updatedAt, else lastSeenAt)");
  });
  await knex('runtime_risk_signals').update({ updated_at: knex.ref('last_seen_at') });
  await knex.schema.alterTable('runtime_risk_source_state', table => {
    table.text('last_rejected_reason').nullable();
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.alterTable('runtime_risk_source_state', table => {
    table.dropColumn('last_rejected_reason');
  });
  await knex.schema.alterTable('runtime_risk_signals', table => {
    table.dropColumn('updated_at');
  });
  await knex.schema.dropTable('runtime_risk_push_deliveries');
};
