// @ts-check
'use strict';

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { UsageError } = require('./args');

/**
 * `runtime-risk policy backtest --policy proposed.yaml --since 7d`: replays the
 * recorded decisions of a window under a proposed policy on the backend
 * (POST /v1/policy/backtest) and prints what would change. The file is sent as
 * it is (`policyYaml`): the backend parses and validates it.
 */

const POLICY_HELP = `Usage: runtime-risk policy backtest --policy <file> --since <when> [options]

Replays the stored inputs of every decision recorded in the window under a proposed
policy (same schema as runtimeRisk.policy, YAML or JSON; an app-config excerpt with
runtimeRisk.policy works too) and prints how many decisions would change, per
transition, environment and entity, and the changed decisions. Nothing is recorded.
Needs runtime-risk.policy.read; only entities you may see are counted.

Options:
      --policy <file>        the proposed policy (required)
      --since <when>         start of the window: a duration before --until (7d, 12h, 30m)
                             or an ISO 8601 date-time (required)
      --until <when>         end of the window (default now)
      --environment <name>   only decisions of this environment (alias --env)
      --entity <ref>         only decisions of this entity
      --limit <n>            changed decisions to list (1-500, default 20)
      --json                 print the backend's JSON answer
      --url <url>            Backstage backend base URL (default $RUNTIME_RISK_URL)
      --token <token>        access token (default $RUNTIME_RISK_TOKEN)

Exit codes: 0 done (whatever changes), 3 backend unreachable or credentials refused,
4 bad usage or a policy the backend refuses (the message names the field).
`;

/** @param {unknown} v */
const asObject = v => (v && typeof v === 'object' ? /** @type {Record<string, any>} */ (v) : {});

/**
 * @param {string[][]} rows first row = header
 * @returns {string}
 */
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => String(r[i] ?? '').length)));
  return rows.map(r => r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** @param {Array<{ from: string, to: string, count: number }>} transitions */
const changedOf = transitions => transitions.filter(t => t.from !== t.to);

/**
 * The backtest as text.
 * @param {Record<string, any>} r the answer of POST /v1/policy/backtest
 * @returns {string}
 */
function formatBacktest(r) {
  const out = [];
  out.push(
    `runtime-risk policy backtest: policy '${r.policy?.id}' (${String(r.policy?.hash ?? '').slice(0, 12)}), ` +
      `decisions from ${r.since} to ${r.until}`,
  );
  out.push(`${r.total} decision(s) replayed, ${r.changed} would change`);
  if (r.notEvaluated?.count) {
    out.push(
      `${r.notEvaluated.count} decision(s) not replayed: the proposed policy does not define ${r.notEvaluated.environments.join(', ')}`,
    );
  }
  if (r.total > 0) {
    out.push('', table([['transition', 'count'], ...r.transitions.map((/** @type {any} */ t) => [`${t.from} -> ${t.to}`, String(t.count)])]));
    out.push(
      '',
      table([
        ['environment', 'decisions', 'changed', 'changes'],
        ...r.byEnvironment.map((/** @type {any} */ g) => [
          g.environment,
          String(g.total),
          String(g.changed),
          changedOf(g.transitions).map(t => `${t.from} -> ${t.to}: ${t.count}`).join(', ') || '-',
        ]),
      ]),
    );
  }
  if (r.byEntity?.length) {
    out.push(
      '',
      table([
        ['entity', 'decisions', 'changed', 'changes'],
        ...r.byEntity.map((/** @type {any} */ g) => [
          g.entityRef,
          String(g.total),
          String(g.changed),
          changedOf(g.transitions).map(t => `${t.from} -> ${t.to}: ${t.count}`).join(', '),
        ]),
      ]),
    );
  }
  const items = r.changedDecisions?.items ?? [];
  if (items.length) {
    out.push('', `Changed decisions (${items.length} of ${r.changedDecisions.totalCount}):`);
    for (const c of items) {
      const why = (c.new.reasons ?? []).find((/** @type {any} */ x) => x.code !== 'dry_run')?.message ?? '';
      out.push(
        `  ${c.createdAt}  ${c.entityRef}  ${c.environment}  ${c.old.decision} -> ${c.new.decision}` +
          `  (level ${c.old.riskLevel} -> ${c.new.riskLevel}${c.dryRun ? ', dry run' : ''})`,
      );
      if (why) out.push(`      ${why}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * @typedef {object} PolicyDeps
 * @property {Record<string, { type: 'string' | 'boolean', short?: string }>} connectionOptions the CLI's connection flags
 * @property {(values: any, io: any) => { client: any }} connection builds the client from them
 */

/**
 * @param {string[]} args
 * @param {import('./cli').SafeIo} io
 * @param {PolicyDeps} deps
 * @returns {Promise<number>}
 */
async function policyCommand(args, io, deps) {
  const parsed = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...deps.connectionOptions,
      policy: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      environment: { type: 'string' },
      env: { type: 'string' },
      entity: { type: 'string', short: 'e' },
      limit: { type: 'string' },
    },
  });
  /** @type {Record<string, string | boolean | undefined>} */
  const values = parsed.values;
  if (values.help) {
    io.stdout.write(POLICY_HELP);
    return 0;
  }
  if (parsed.positionals[0] !== 'backtest' || parsed.positionals.length > 1) {
    throw new UsageError(`expected 'runtime-risk policy backtest'`);
  }
  if (typeof values.policy !== 'string') throw new UsageError('--policy <file> is required (the proposed policy, YAML or JSON)');
  if (typeof values.since !== 'string') throw new UsageError('--since is required (e.g. 7d, or an ISO 8601 date-time)');
  let policyYaml;
  try {
    policyYaml = fs.readFileSync(values.policy, 'utf8');
  } catch (e) {
    throw new UsageError(`--policy: cannot read '${values.policy}': ${/** @type {Error} */ (e).message}`);
  }
  /** @type {Record<string, unknown>} */
  const body = { policyYaml, since: values.since };
  if (typeof values.until === 'string') body.until = values.until;
  const environment = values.environment ?? values.env;
  if (typeof environment === 'string') body.environment = environment;
  if (typeof values.entity === 'string') body.entityRef = values.entity;
  if (typeof values.limit === 'string') {
    const limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > 500) throw new UsageError(`--limit: '${values.limit}' is not a number from 1 to 500`);
    body.limit = limit;
  } else {
    body.limit = 20;
  }
  const { client } = deps.connection(values, io);
  const answer = asObject(await client.backtestPolicy(body));
  io.stdout.write(values.json ? `${JSON.stringify(answer, null, 2)}\n` : formatBacktest(answer));
  return 0;
}

module.exports = { POLICY_HELP, policyCommand, formatBacktest };
