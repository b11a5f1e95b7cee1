// @ts-check
'use strict';

const { parseArgs } = require('node:util');
const { UsageError } = require('./args');
const { GateError } = require('./client');

/**
 * `runtime-risk audit verify [--expect-head <seq>:<hash>]`: verifies the hash
 * chain of the decision log and, with an anchored head, that the log was not
 * rewritten since.
 */

/** Exit codes of `audit verify` (3 and 4 as for every command). */
const AUDIT_EXIT = /** @type {const} */ ({
  INTACT: 0,
  BROKEN: 1,
  UNREACHABLE: 3,
  USAGE: 4,
  /** The chain is intact but does not contain the anchored head: the log was rewritten or cut. */
  HEAD_MISMATCH: 5,
});

const AUDIT_HELP = `Usage: runtime-risk audit verify [--expect-head <seq>:<hash>] [--url URL] [--token TOKEN] [--json]

Verifies the hash chain of the decision log (GET /api/runtime-risk/v1/audit/verify,
needs runtime-risk.admin.read). A chain that verifies can still have been rewritten
as a whole; --expect-head compares it with a head kept elsewhere (the auditor event
audit-head, or GET /v1/audit/head saved earlier): the record <seq> must still exist
and have <hash>.

Options:
      --expect-head <seq>:<hash>  a head anchored earlier, e.g. 1042:9f86d0...
      --json                      print the verification as JSON
      --url <url>                 Backstage backend base URL (default $RUNTIME_RISK_URL)
      --token <token>             access token (default $RUNTIME_RISK_TOKEN)

Exit codes:
  0  the chain is intact (and contains the expected head)
  1  the chain is broken (a record modified, missing or relinked)
  3  the gate is unreachable, or refused the credentials
  4  bad usage
  5  the chain is intact but the expected head is not in it: the log was rewritten or cut
`;

/**
 * @param {string} value
 * @returns {{ seq: number, hash: string }}
 */
function parseExpectHead(value) {
  const match = /^\s*(\d{1,15}):([0-9a-fA-F]{64})\s*$/.exec(value);
  if (!match || Number(match[1]) < 1) {
    throw new UsageError(`--expect-head: '${value}' is not <seq>:<hash> (a positive sequence number and a 64-digit hex hash)`);
  }
  return { seq: Number(match[1]), hash: match[2].toLowerCase() };
}

/**
 * Calls `fn`; a 400/404 means the gate does not offer the route (or the URL is
 * wrong): for audit the usage cannot be at fault, so it reads as "cannot verify" (3).
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function asUnreachable(fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof GateError && e.kind === 'input') throw new GateError('unreachable', e.message, e.status);
    throw e;
  }
}

/** @param {unknown} v */
const asObject = v => (v && typeof v === 'object' ? /** @type {Record<string, unknown>} */ (v) : {});

/**
 * @typedef {object} AuditDeps
 * @property {Record<string, { type: 'string' | 'boolean', short?: string }>} connectionOptions the CLI's connection flags
 * @property {(values: any, io: any) => { client: any }} connection builds the client from them
 */

/**
 * @param {string[]} args
 * @param {import('./cli').SafeIo} io
 * @param {AuditDeps} deps
 * @returns {Promise<number>}
 */
async function auditCommand(args, io, deps) {
  const parsed = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...deps.connectionOptions, 'expect-head': { type: 'string' } },
  });
  const positionals = parsed.positionals;
  /** @type {Record<string, string | boolean | undefined>} */
  const values = parsed.values;
  if (values.help) {
    io.stdout.write(AUDIT_HELP);
    return AUDIT_EXIT.INTACT;
  }
  if (positionals[0] !== 'verify' || positionals.length > 1) {
    throw new UsageError(`expected 'runtime-risk audit verify'`);
  }
  const expected = typeof values['expect-head'] === 'string' ? parseExpectHead(values['expect-head']) : undefined;
  const { client } = deps.connection(values, io);

  const answer = await asUnreachable(() => client.verifyAudit());
  const body = asObject(answer);
  const ok = typeof body.ok === 'boolean' ? body.ok : typeof body.valid === 'boolean' ? body.valid : undefined;
  if (ok === undefined) {
    throw new GateError('unreachable', `the gate answered with an unexpected body: ${JSON.stringify(answer).slice(0, 200)}`);
  }

  /** @type {{ seq: number, hash: string, actualHash: string | null, matches: boolean, message: string } | undefined} */
  let head;
  if (expected) {
    const current = asObject(await asUnreachable(() => client.getAuditHead()));
    const currentSeq = Number(current.seq);
    if (!Number.isInteger(currentSeq)) {
      throw new GateError('unreachable', `the gate answered with an unexpected head: ${JSON.stringify(current).slice(0, 200)}`);
    }
    /** @type {string | null} */
    let actualHash = null;
    if (expected.seq <= currentSeq) {
      try {
        actualHash = String(asObject(await client.getAuditRecord(expected.seq)).hash ?? '') || null;
      } catch (e) {
        if (!(e instanceof GateError && e.status === 404)) throw e;
      }
    }
    const matches = actualHash === expected.hash;
    const message = matches
      ? `record ${expected.seq} has the expected hash`
      : actualHash === null
        ? `record ${expected.seq} of the expected head is missing (the log's head is record ${currentSeq}): the log was cut or rewritten`
        : `record ${expected.seq} has hash ${actualHash}, the expected head says ${expected.hash}: the log was rewritten`;
    head = { seq: expected.seq, hash: expected.hash, actualHash, matches, message };
  }

  if (values.json) {
    io.stdout.write(`${JSON.stringify(head ? { ...body, expectedHead: head } : answer, null, 2)}\n`);
  } else {
    const details = Object.entries(body)
      .filter(([k]) => k !== 'ok' && k !== 'valid')
      .map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    if (head) details.push(`  expected head: ${head.message}`);
    const state = !ok ? 'BROKEN' : head && !head.matches ? 'REWRITTEN (expected head not found)' : 'intact';
    io.stdout.write(`runtime-risk audit: decision log ${state}\n${details.join('\n')}${details.length ? '\n' : ''}`);
  }
  if (!ok) return AUDIT_EXIT.BROKEN;
  if (head && !head.matches) {
    io.stderr.write(`runtime-risk: ${head.message}\n`);
    return AUDIT_EXIT.HEAD_MISMATCH;
  }
  return AUDIT_EXIT.INTACT;
}

module.exports = { AUDIT_EXIT, AUDIT_HELP, auditCommand, parseExpectHead };
