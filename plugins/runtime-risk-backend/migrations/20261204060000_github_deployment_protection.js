// @ts-check

/**
 * GitHub custom deployment protection rule (issue 17 part 2):
 * - `runtime_risk_entities.project_slug`: the entity's `github.com/project-slug`
 *   annotation (lower-cased), so a webhook finds the entities of a repository
 *   in the index without walking the catalog;
 * - `runtime_risk_github_deliveries`: one row per processed `X-GitHub-Delivery`
 *   (primary key), so a replayed delivery is answered without a second decision;
 * - `runtime_risk_github_callbacks`: the status report and the final
 *   approve/reject call of each protection-rule event, kept until sent (any
 *   replica sends them; rows are claimed with `claimed_until`).
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  await knex.schema.alterTable('runtime_risk_entities', table => {
    table.string('project_slug', 512).nullable().comment('github.com/project-slug annotation, lower-cased');
    table.index(['project_slug'], 'runtime_risk_entities_project_slug_idx');
  });

  await knex.schema.createTable('runtime_risk_github_deliveries', table => {
    table.comment('GitHub webhook deliveries processed (X-GitHub-Delivery), for idempotency');
    table.string('delivery_id', 128).primary();
    table.string('event', 64).notNullable();
    table.string('status', 16).notNullable().comment('processing | done');
    table.text('decision_ids').nullable().comment('JSON array of the gate decisions it recorded');
    table.string('received_at', 40).notNullable();
  });

  await knex.schema.createTable('runtime_risk_github_callbacks', table => {
    table.comment('Calls back to GitHub deployment protection rules, kept until sent');
    table.string('id', 64).primary();
    table.string('delivery_id', 128).notNullable();
    table.string('kind', 16).notNullable().comment('report (no state) | final (approved / rejected)');
    table.text('decision_ids').notNullable().comment('JSON array of the gate decisions it waits on');
    table.string('repository', 512).notNullable();
    table.string('environment_name', 255).notNullable();
    table.text('callback_url').notNullable();
    table.string('installation_id', 64).notNullable();
    table.string('state', 16).nullable().comment('approved | rejected; null for reports and while waiting');
    table.text('comment').nullable();
    table.string('status', 16).notNullable().comment('waiting | queued | sent | failed | skipped');
    table.integer('attempts').notNullable().defaultTo(0);
    table.string('next_attempt_at', 40).notNullable();
    table.string('claimed_until', 40).nullable();
    table.string('claimed_by', 128).nullable();
    table.text('last_error').nullable();
    table.string('created_at', 40).notNullable();
    table.string('sent_at', 40).nullable();
    table.unique(['delivery_id', 'kind'], { indexName: 'runtime_risk_github_callbacks_delivery_kind_uq' });
    table.index(['status', 'next_attempt_at'], 'runtime_risk_github_callbacks_status_idx');
  });
};

/**
 * @param {import('knex').Knex} knex
 */
exports.down = async function down(knex) {
  await knex.schema.dropTable('runtime_risk_github_callbacks');
  await knex.schema.dropTable('runtime_risk_github_deliveries');
  await knex.schema.alterTable('runtime_risk_entities', table => {
    table.dropIndex(['project_slug'], 'runtime_risk_entities_project_slug_idx');
    table.dropColumn('project_slug');
  });
};
