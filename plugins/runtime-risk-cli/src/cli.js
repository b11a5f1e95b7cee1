// @ts-check
'use strict';

const { parseArgs } = require('node:util');
const {
  UsageError,
  parseDuration,
  parseNonNegativeInt,
  normalizeBaseUrl,
  assertSecureUrl,
  parseIdempotencyKey,
  parseRequestedBy,
} = require('./args');
const { GateError, createClient, sleep, formatMs } = require('./client');
const { detectPipeline, mergePipeline, detectRequestedBy } = require('./pipeline');
const { randomUUID } = require('node:crypto');
const { auditCommand } = require('./audit');
const { policyCommand } = require('./policy');
const fs = require('node:fs');
const {
  EXIT,
  asDecision,
  outcomeOf,
  exitCodeOf,
  decisionLink,
  formatDecision,
  formatMarkdownSummary,
} = require('./format');

const VERSION = require('../package.json').version;

const MAIN_HELP = `runtime-risk ${VERSION}: deployment gate client for Runtime Risk for Backstage

Usage:
  runtime-risk gate --entity <ref> --env <environment> [options]
  runtime-risk audit verify [--expect-head <seq>:<hash>] [--url URL] [--token TOKEN]
  runtime-risk policy backtest --policy <file> --since <when> [--until] [--environment] [--entity] [--json]
  runtime-risk --help | --version

Exit codes:
  0  proceed (or approval granted while waiting)
  1  block (or approval rejected)
  2  approval required (without --wait), approval timed out or expired
  3  gate unreachable, 5xx, bad or missing credentials (401/403)
  4  bad usage: unknown flag, missing --entity/--env, plain http:// to a remote host
     without --insecure, 400/404/422 from the gate
  5  audit verify --expect-head: the expected head is not in the log (rewritten or cut)

Environment:
  RUNTIME_RISK_URL         Backstage backend base URL (e.g. https://backstage.example.com)
  RUNTIME_RISK_TOKEN       external-access static token (sent as Authorization: Bearer)
  RUNTIME_RISK_PORTAL_URL  Backstage frontend URL for decision links (default: RUNTIME_RISK_URL)

Run 'runtime-risk gate --help' for the gate options.
`;

const GATE_HELP = `Usage: runtime-risk gate --entity <ref> --env <environment> [options]

Asks the Runtime Risk gate whether <ref> may be deployed to <environment> now.

Options:
  -e, --entity <ref>          entity ref, e.g. component:default/payments (required)
      --env <name>            target environment, e.g. production (required; alias --environment)
      --artifact <id>         what is deployed (image digest, version), recorded with the decision
      --dry-run               shadow mode: evaluate and record, never block
      --wait                  on approval_required, wait for an approver (polls the decision)
      --timeout <duration>    how long --wait waits (default 30m; e.g. 90s, 10m, 1h)
      --poll-interval <dur>   how often --wait polls (default 10s)
      --json                  print the gate's raw JSON answer on stdout (progress goes to stderr)
      --github-output         in GitHub Actions, write the step outputs decision, decision-id,
                              status, risk-level, score and decision-url to $GITHUB_OUTPUT
      --url <url>             Backstage backend base URL (default $RUNTIME_RISK_URL)
      --token <token>         access token (default $RUNTIME_RISK_TOKEN; prefer the variable,
                              command lines are visible to other processes)
      --portal-url <url>      frontend URL for the decision link (default $RUNTIME_RISK_PORTAL_URL or --url)
      --pipeline-provider <p> override the detected CI provider (github-actions, gitlab-ci, jenkins)
      --pipeline-run-id <id>  override the detected run id
      --pipeline-url <url>    override the detected run URL
      --requested-by <p:login> the person behind the pipeline, e.g. github:octocat or gitlab:jdoe
                              (default: $GITHUB_TRIGGERING_ACTOR or $GITHUB_ACTOR as github,
                              else $GITLAB_USER_LOGIN as gitlab); the gate resolves it to a
                              catalog User, who may then not approve this deployment
      --idempotency-key <k>   Idempotency-Key of the gate request (default: a random UUID per
                              run, reused by its retries, so a retry never records a second
                              decision); 1-255 characters of A-Z a-z 0-9 . _ ~ : + / = -
      --retries <n>           retries on network errors and 502/503/504 (default 3)
      --request-timeout <d>   timeout of one HTTP request (default 30s)
      --insecure              allow a plain http:// URL to a host other than this machine
  -h, --help                  show this help

The pipeline (provider, run id, URL) is detected from GitHub Actions, GitLab CI
and Jenkins environment variables and recorded with the decision.
`;

/**
 * @typedef {object} Io
 * @property {{ write(chunk: string): unknown }} stdout
 * @property {{ write(chunk: string): unknown, isTTY?: boolean }} stderr
 * @property {Record<string, string | undefined>} env
 */

/**
 * Runs the CLI. Never throws: every failure becomes a message on stderr and an exit code.
 * @param {string[]} argv arguments after the program name
 * @param {Io} rawIo
 * @returns {Promise<number>}
 */
async function main(argv, rawIo) {
  const io = redactingIo(rawIo);
  try {
    const [command, ...rest] = argv;
    if (command === undefined) {
      io.stderr.write(MAIN_HELP);
      return EXIT.USAGE;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    if (command === '--version' || command === '-v') {
      io.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (command === 'gate') return await gateCommand(rest, io);
    if (command === 'audit') return await auditCommand(rest, io, { connectionOptions: CONNECTION_OPTIONS, connection });
    if (command === 'policy') return await policyCommand(rest, io, { connectionOptions: CONNECTION_OPTIONS, connection });
    throw new UsageError(`unknown command '${command}'`);
  } catch (e) {
    return reportError(e, io);
  }
}

/**
 * @typedef {Io & { secrets: string[] }} SafeIo
 */

/**
 * Wraps stdout/stderr so that no registered secret (the token) is ever written,
 * even when a server or proxy echoes it back in an error body.
 * @param {Io} io
 * @returns {SafeIo}
 */
function redactingIo(io) {
  /** @type {string[]} */
  const secrets = [];
  /** @param {string} text */
  const redact = text => secrets.reduce((t, secret) => (secret ? t.split(secret).join('***') : t), text);
  return {
    env: io.env,
    secrets,
    stdout: { write: chunk => io.stdout.write(redact(chunk)) },
    stderr: { write: chunk => io.stderr.write(redact(chunk)), isTTY: io.stderr.isTTY },
  };
}

/**
 * @param {unknown} e
 * @param {Io} io
 * @returns {number}
 */
function reportError(e, io) {
  if (e instanceof UsageError) {
    io.stderr.write(`runtime-risk: ${e.message}\nRun 'runtime-risk --help' for usage.\n`);
    return EXIT.USAGE;
  }
  if (e instanceof GateError) {
    io.stderr.write(`runtime-risk: ${e.message}\n`);
    return e.kind === 'input' ? EXIT.USAGE : EXIT.UNREACHABLE;
  }
  // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed flags.
  const code = /** @type {{ code?: unknown }} */ (e ?? {}).code;
  if (e instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(`runtime-risk: ${e.message}\nRun 'runtime-risk --help' for usage.\n`);
    return EXIT.USAGE;
  }
  io.stderr.write(`runtime-risk: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`);
  return EXIT.UNREACHABLE;
}

const CONNECTION_OPTIONS = /** @type {const} */ ({
  url: { type: 'string' },
  token: { type: 'string' },
  'portal-url': { type: 'string' },
  retries: { type: 'string' },
  'request-timeout': { type: 'string' },
  insecure: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
});

/**
 * @param {{ url?: string, token?: string, 'portal-url'?: string, retries?: string, 'request-timeout'?: string, insecure?: boolean }} values
 * @param {SafeIo} io
 */
function connection(values, io) {
  const rawUrl = values.url ?? io.env.RUNTIME_RISK_URL;
  if (!rawUrl) {
    throw new UsageError('no gate URL: pass --url or set RUNTIME_RISK_URL to the Backstage backend base URL');
  }
  const { apiBase, root } = normalizeBaseUrl(rawUrl, values.url ? '--url' : 'RUNTIME_RISK_URL');
  assertSecureUrl(root, values.url ? '--url' : 'RUNTIME_RISK_URL', values.insecure === true);
  const rawPortal = values['portal-url'] ?? io.env.RUNTIME_RISK_PORTAL_URL;
  const portalRoot = rawPortal
    ? normalizeBaseUrl(rawPortal, values['portal-url'] ? '--portal-url' : 'RUNTIME_RISK_PORTAL_URL').root
    : root;
  const token = values.token ?? io.env.RUNTIME_RISK_TOKEN ?? undefined;
  if (token) io.secrets.push(token);
  const retries = values.retries === undefined ? 3 : parseNonNegativeInt(values.retries, '--retries');
  const requestTimeoutMs =
    values['request-timeout'] === undefined ? 30_000 : parseDuration(values['request-timeout'], '--request-timeout');
  const client = createClient({
    apiBase,
    token: token || undefined,
    retries,
    requestTimeoutMs,
    onRetry: message => io.stderr.write(`runtime-risk: ${message}\n`),
  });
  return { client, portalRoot };
}

/**
 * @param {string[]} args
 * @param {SafeIo} io
 * @returns {Promise<number>}
 */
async function gateCommand(args, io) {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      entity: { type: 'string', short: 'e' },
      env: { type: 'string' },
      environment: { type: 'string' },
      artifact: { type: 'string' },
      'dry-run': { type: 'boolean' },
      wait: { type: 'boolean' },
      'github-output': { type: 'boolean' },
      timeout: { type: 'string' },
      'poll-interval': { type: 'string' },
      'pipeline-provider': { type: 'string' },
      'pipeline-run-id': { type: 'string' },
      'pipeline-url': { type: 'string' },
      'requested-by': { type: 'string' },
      'idempotency-key': { type: 'string' },
    },
  });
  if (values.help) {
    io.stdout.write(GATE_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const entityRef = values.entity?.trim();
  if (!entityRef) throw new UsageError('missing --entity (e.g. --entity component:default/payments)');
  if (values.env && values.environment && values.env !== values.environment) {
    throw new UsageError('--env and --environment disagree; pass one');
  }
  const environment = (values.env ?? values.environment)?.trim();
  if (!environment) throw new UsageError('missing --env (e.g. --env production)');
  const timeoutMs = parseDuration(values.timeout ?? '30m', '--timeout');
  const pollMs = parseDuration(values['poll-interval'] ?? '10s', '--poll-interval');
  if (pollMs <= 0) throw new UsageError('--poll-interval must be greater than zero');
  const idempotencyKey =
    values['idempotency-key'] !== undefined ? parseIdempotencyKey(values['idempotency-key']) : randomUUID();
  const flagRequester = values['requested-by'] !== undefined ? parseRequestedBy(values['requested-by']) : undefined;
  const { client, portalRoot } = connection(values, io);

  /** @type {Record<string, unknown>} */
  const request = { entityRef, environment };
  if (values.artifact) request.artifact = values.artifact;
  const pipeline = mergePipeline(detectPipeline(io.env), {
    provider: values['pipeline-provider'],
    runId: values['pipeline-run-id'],
    url: values['pipeline-url'],
  });
  if (pipeline) request.pipeline = pipeline;
  if (values['dry-run']) request.dryRun = true;
  const detected = flagRequester ? { requestedBy: flagRequester } : detectRequestedBy(io.env);
  if (detected.ignored) io.stderr.write(`runtime-risk: ${detected.ignored}\n`);
  if (detected.requestedBy) request.requestedBy = detected.requestedBy;

  const raw = await client.evaluate(request, { idempotencyKey });
  let decision = asDecision(raw);
  if (!decision) {
    throw new GateError('unreachable', `the gate answered with an unexpected body: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  let last = raw;
  const ctx = { portalRoot, entityRef, environment };
  if (!values.json) io.stdout.write(formatDecision(decision, ctx));

  if (values.wait && outcomeOf(decision) === 'pending') {
    const waited = await waitForApproval(client, decision, { timeoutMs, pollMs, io });
    if (waited.raw !== undefined) {
      last = waited.raw;
      decision = waited.decision;
      if (!values.json) io.stdout.write(formatDecision(decision, ctx));
    }
    if (waited.timedOut) {
      writeStepSummary(decision, ctx, io);
      if (values['github-output']) writeGithubOutput(decision, ctx, io);
      if (values.json) io.stdout.write(`${JSON.stringify(last, null, 2)}\n`);
      io.stderr.write(`runtime-risk: approval timed out after ${formatMs(timeoutMs)} (decision ${decision.decisionId})\n`);
      return EXIT.APPROVAL;
    }
  }
  writeStepSummary(decision, ctx, io);
  if (values['github-output']) writeGithubOutput(decision, ctx, io);
  if (values.json) io.stdout.write(`${JSON.stringify(last, null, 2)}\n`);
  return exitCodeOf(outcomeOf(decision));
}

/**
 * In GitHub Actions, appends the decision to the job summary. A failure to write
 * it is reported but does not change the exit code.
 * @param {import('./format').Decision} decision
 * @param {{ portalRoot: string, entityRef: string, environment: string }} ctx
 * @param {SafeIo} io
 */
function writeStepSummary(decision, ctx, io) {
  const file = io.env.GITHUB_STEP_SUMMARY;
  if (!file) return;
  try {
    fs.appendFileSync(file, formatMarkdownSummary(decision, ctx));
  } catch (e) {
    io.stderr.write(`runtime-risk: could not write the job summary to ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/**
 * With --github-output, writes the decision as step outputs to `$GITHUB_OUTPUT`
 * (used by the runtime-risk-gate action). `decision` is the effective one, as the
 * exit code sees it: an approved request is `proceed`, a rejected one `block`, a
 * pending, expired or timed-out one `approval_required`. A failure to write is
 * reported but does not change the exit code.
 * @param {import('./format').Decision} decision
 * @param {{ portalRoot: string }} ctx
 * @param {SafeIo} io
 */
function writeGithubOutput(decision, ctx, io) {
  const file = io.env.GITHUB_OUTPUT;
  if (!file) {
    io.stderr.write('runtime-risk: --github-output: GITHUB_OUTPUT is not set (not a GitHub Actions step); no outputs written\n');
    return;
  }
  const outcome = outcomeOf(decision);
  /** @type {Record<string, string>} */
  const outputs = {
    decision: outcome === 'proceed' || outcome === 'block' ? outcome : 'approval_required',
    'decision-id': decision.decisionId,
    status: decision.status ?? 'final',
    'risk-level': decision.riskLevel ?? 'unknown',
    score: decision.score === null || decision.score === undefined ? '' : String(decision.score),
    'decision-url': decisionLink(ctx.portalRoot, decision.decisionId),
  };
  // One `name=value` line each; a value never spans lines (GitHub would read the rest as new outputs).
  const lines = Object.entries(outputs).map(([name, value]) => `${name}=${value.replace(/[\r\n]+/g, ' ')}\n`);
  try {
    fs.appendFileSync(file, lines.join(''));
  } catch (e) {
    io.stderr.write(`runtime-risk: could not write the step outputs to ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
}

/**
 * Polls GET /v1/decisions/:id until the decision is approved, rejected or expired,
 * or the timeout passes. Transient failures (network, 5xx) are reported on the
 * progress line and polling goes on; credential or input errors stop it.
 * @param {ReturnType<typeof createClient>} client
 * @param {import('./format').Decision} initial
 * @param {{ timeoutMs: number, pollMs: number, io: Io }} options
 * @returns {Promise<{ decision: import('./format').Decision, raw: unknown, timedOut: boolean }>}
 */
async function waitForApproval(client, initial, { timeoutMs, pollMs, io }) {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const tty = Boolean(io.stderr.isTTY);
  let lastPrinted = 0;
  let decision = initial;
  /** @type {unknown} */
  let raw = undefined;
  /** @param {string} line @param {boolean} force */
  const progress = (line, force) => {
    const now = Date.now();
    if (tty) {
      io.stderr.write(`\r\x1b[2K${line}`);
    } else if (force || now - lastPrinted >= 30_000) {
      io.stderr.write(`${line}\n`);
      lastPrinted = now;
    }
  };
  progress(
    `runtime-risk: waiting for approval of decision ${initial.decisionId} (timeout ${formatMs(timeoutMs)}, polling every ${formatMs(pollMs)})`,
    true,
  );
  let polls = 0;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      if (tty) io.stderr.write('\n');
      return { decision, raw, timedOut: true };
    }
    await sleep(Math.min(pollMs, remaining));
    polls++;
    /** @type {string} */
    let state;
    let failed = false;
    try {
      const answer = await client.getDecision(initial.decisionId);
      const parsed = asDecision(answer);
      if (!parsed) {
        throw new GateError('unreachable', `the gate answered with an unexpected body: ${JSON.stringify(answer).slice(0, 200)}`);
      }
      decision = parsed;
      raw = answer;
      const outcome = outcomeOf(parsed);
      if (outcome !== 'pending') {
        progress(`runtime-risk: decision ${parsed.decisionId} is now ${parsed.status ?? parsed.decision}`, true);
        if (tty) io.stderr.write('\n');
        return { decision, raw, timedOut: false };
      }
      state = 'still pending';
    } catch (e) {
      if (!(e instanceof GateError) || e.kind !== 'unreachable') throw e;
      state = `poll failed (${e.message}), will retry`;
      failed = true;
    }
    const elapsed = formatMs(Math.round((Date.now() - started) / 1000) * 1000);
    progress(`runtime-risk: waiting for approval... ${elapsed} elapsed of ${formatMs(timeoutMs)}, ${state} (poll ${polls})`, failed);
  }
}

module.exports = { main };
