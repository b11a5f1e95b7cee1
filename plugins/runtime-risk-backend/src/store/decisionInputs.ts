import type { Knex } from 'knex';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonicalJson';
import { pgSelectWhereIn } from './bulkWrite';
import { chunks, inListSize, isPostgres, type Row } from './db';

/**
 * Shared decision inputs (issue 18 part 2). A gate decision's inputs are split in
 * two: its own part (the request's fields and the clock: `entityRef`,
 * `environment`, `now`, `dryRun`), kept on the decision row, and everything read
 * from the store (hosts, signals, source states, exceptions, `uncovered`,
 * `correlationTried`) plus the policy hash, stored once per content hash in
 * {@link DECISION_INPUTS_TABLE}. Busy pipelines asking about the same entity
 * while nothing changed share one row. Decisions written before keep their full
 * inputs inline (no hash); {@link mergeDecisionInputs} reads both.
 */
export const DECISION_INPUTS_TABLE = 'runtime_risk_decision_inputs';

/** Keys of the inputs that stay on the decision row. */
const OWN_KEYS = ['entityRef', 'environment', 'now', 'dryRun'] as const;
/** The key of the body that is not an input (the policy hash is a column of the decision already). */
const POLICY_KEY = 'policyHash';

/** A decision's inputs as stored: its own part and the shared part's hash and canonical JSON body. */
export interface SplitInputs {
  own: Record<string, unknown>;
  hash: string;
  body: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** sha256 (hex) of a canonical JSON text. */
export function inputsHashOf(canonicalBody: string): string {
  return createHash('sha256').update(canonicalBody).digest('hex');
}

/**
 * Splits a decision's inputs; undefined for inputs that are not an object (stored
 * inline as before). The body is the canonical JSON of the store's part with
 * `policyHash`, its hash the sha256 of that text.
 */
export function splitDecisionInputs(inputs: unknown, policyHash: string): SplitInputs | undefined {
  if (!isPlainObject(inputs)) return undefined;
  const own: Record<string, unknown> = {};
  const shared: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) {
    if ((OWN_KEYS as readonly string[]).includes(k)) own[k] = v;
    else shared[k] = v;
  }
  shared[POLICY_KEY] = policyHash;
  const { body, hash } = canonicalBodyOf(shared);
  return { own, hash, body };
}

/**
 * Canonical bodies and hashes of recent shared parts, by their `JSON.stringify`
 * text (busy pipelines ask about the same entity while nothing changes: the same
 * shared part, built in the same key order). The stored inputs are JSON data, for
 * which equal `JSON.stringify` texts mean equal values and so equal canonical
 * bodies; a part built in another key order is a miss, computed as before.
 * Least recently used out past {@link SHARED_BODY_MEMO_MAX}.
 */
const sharedBodies = new Map<string, { body: string; hash: string }>();
export const SHARED_BODY_MEMO_MAX = 1_000;

function canonicalBodyOf(shared: Record<string, unknown>): { body: string; hash: string } {
  const key = JSON.stringify(shared);
  const hit = sharedBodies.get(key);
  if (hit) {
    sharedBodies.delete(key);
    sharedBodies.set(key, hit);
    return hit;
  }
  const body = canonicalJson(shared);
  const made = { body, hash: inputsHashOf(body) };
  sharedBodies.set(key, made);
  if (sharedBodies.size > SHARED_BODY_MEMO_MAX) sharedBodies.delete(sharedBodies.keys().next().value as string);
  return made;
}

/** The full inputs of a decision from its own part and the parsed shared body (the body is not modified). */
export function mergeDecisionInputs(own: unknown, body: unknown): unknown {
  if (!isPlainObject(body)) return own;
  const { [POLICY_KEY]: _policy, ...shared } = body;
  return { ...shared, ...(isPlainObject(own) ? own : {}) };
}

/** The bodies (JSON text) of the given hashes, one query per chunk; each distinct hash is read once. */
export async function loadInputBodies(db: Knex, hashes: Iterable<string>): Promise<Map<string, string>> {
  const distinct = [...new Set(hashes)];
  const out = new Map<string, string>();
  if (distinct.length === 0) return out;
  const put = (rows: Row[]) => {
    for (const r of rows) out.set(String(r.hash), typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
  };
  if (isPostgres(db)) {
    put(await pgSelectWhereIn(db, DECISION_INPUTS_TABLE, 'hash', distinct, ['hash', 'body']));
    return out;
  }
  for (const chunk of chunks(distinct, inListSize(db))) {
    put(await db(DECISION_INPUTS_TABLE).whereIn('hash', chunk).select('hash', 'body'));
  }
  return out;
}

/**
 * Full inputs of scanned decision rows (backtest): parses each distinct shared
 * body once (per `cache`, e.g. one page) and merges it with the row's own part.
 * The parsed body's arrays are shared between the decisions that share it: the
 * engine only reads its input.
 */
export function scannedInputs(
  row: { inputs: string; inputsHash?: string | null; sharedInputs?: string | null },
  cache: { get(hash: string): unknown; set(hash: string, body: unknown): unknown },
): unknown {
  const own: unknown = JSON.parse(row.inputs);
  if (!row.inputsHash) return own;
  let body = cache.get(row.inputsHash);
  if (body === undefined) {
    if (row.sharedInputs === null || row.sharedInputs === undefined) {
      throw new Error(`decision inputs ${row.inputsHash} are missing from ${DECISION_INPUTS_TABLE}`);
    }
    body = JSON.parse(row.sharedInputs);
    cache.set(row.inputsHash, body);
  }
  return mergeDecisionInputs(own, body);
}
