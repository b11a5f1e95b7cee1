import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import { criticalEdrSource, sign, signalInput, testPushSource } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';
import { canonicalEntityRef } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { rowCounts, seededRandom } from './helpers';

/**
 * Fault: 1,000 fuzzed gate bodies and 1,000 fuzzed webhook bodies (seeded,
 * reproducible). Every one is invalid by construction, so the only acceptable
 * answers are 400 (and 401 for unsigned webhooks): never 5xx, no crash, no row
 * written. Runs on SQLite and PostgreSQL: what reaches the database (NUL
 * characters, odd Unicode, over-long values) must never turn into a 5xx there.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const USER = mockCredentials.user.header();
const COUNT = 1000;
const SEED = 0x5eed;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Rand = () => number;

const pick = <X,>(rand: Rand, items: readonly X[]): X => items[Math.floor(rand() * items.length)];
const int = (rand: Rand, max: number) => Math.floor(rand() * max);

function randomString(rand: Rand, max = 40): string {
  const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'ABC:/._-~ ', '\u0000\u0007\n\t"\\', 'éß漢字🙂\u202e', '<>{}[]%$#@!'];
  let out = '';
  const n = int(rand, max);
  for (let i = 0; i < n; i++) {
    const a = pick(rand, alphabets);
    out += Array.from(a)[int(rand, Array.from(a).length)];
  }
  return out;
}

function randomJson(rand: Rand, depth = 0): Json {
  const kind = int(rand, depth > 3 ? 5 : 7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return pick(rand, [0, -1, 1e308, -1e-308, 3.14, Number.MAX_SAFE_INTEGER + 2]);
    case 3:
    case 4:
      return randomString(rand);
    case 5:
      return Array.from({ length: int(rand, 4) }, () => randomJson(rand, depth + 1));
    default: {
      const o: { [key: string]: Json } = {};
      for (let i = int(rand, 4); i > 0; i--) o[randomString(rand, 8) || 'k'] = randomJson(rand, depth + 1);
      return o;
    }
  }
}

/** A value of any type but string. */
function nonString(rand: Rand): Json {
  const v = randomJson(rand);
  return typeof v === 'string' ? pick(rand, [42, true, null, [v], { v }]) : v;
}

/**
 * Entity refs the project's parser rejects: not strings, empty parts, refs that
 * Backstage's lenient parseEntityRef accepts but `canonicalEntityRef` (strict
 * `[kind:][namespace/]name`) rejects (`a/b/c/`, extra separators, bad characters,
 * over-long parts), or random strings kept only when `canonicalEntityRef` throws.
 */
function badEntityRef(rand: Rand): Json {
  const fixed: Json[] = [
    '',
    'component:default/',
    'component:/x',
    ':default/x',
    'component:',
    '/',
    ':/',
    'a/b/c/',
    'component:default/payments/',
    'component:default/a/b',
    'component:a:b/c',
    'a:b:c',
    'component:default/pay ments',
    'component:default/-payments',
    'component:default/payments.',
    'component:default/pay\u0000',
    `component:default/${'x'.repeat(64)}`,
    `component:${'x'.repeat(64)}/payments`,
  ];
  const choice = int(rand, 3);
  if (choice === 0) return nonString(rand);
  if (choice === 1) return pick(rand, fixed);
  for (let attempt = 0; attempt < 20; attempt++) {
    const candidate = `${pick(rand, ['', 'component:', ':', 'a:b:', 'component:default/', 'default/', 'a/b/'])}${randomString(rand, 12)}${pick(rand, ['/', ':/', '/:', ''])}`;
    if (!parses(candidate)) return candidate;
  }
  return pick(rand, fixed);
}

function parses(ref: string): boolean {
  try {
    canonicalEntityRef(ref);
    return true;
  } catch (e) {
    return !(e instanceof Error);
  }
}

/** Serialized gate bodies, each invalid in at least one field (or not JSON, or not an object). */
function fuzzGateBody(rand: Rand): { body: string; contentType: string } {
  const body: Record<string, Json> = { entityRef: 'component:default/payments', environment: 'production' };
  // harmless noise first
  if (rand() < 0.3) body.artifact = randomString(rand);
  if (rand() < 0.3) body.pipeline = { provider: 'github', runId: String(int(rand, 1e6)) };
  if (rand() < 0.3) body.dryRun = rand() < 0.5;
  // then at least one breaking mutation
  const mutations = 1 + int(rand, 3);
  let raw: string | undefined;
  for (let m = 0; m < mutations; m++) {
    switch (int(rand, 13)) {
      case 0:
        body.entityRef = badEntityRef(rand);
        break;
      case 1:
        delete body.entityRef;
        break;
      case 2:
        body.environment = pick(rand, [nonString(rand), '', `moon-${randomString(rand, 8)}`, '__proto__', 'constructor', 'toString']);
        break;
      case 3:
        delete body.environment;
        break;
      case 4:
        body.dryRun = pick(rand, ['yes', 'true', 1, 0, null, [true], { v: true }]);
        break;
      case 5:
        body.pipeline = pick<Json>(rand, [randomString(rand), 7, [1, 2], { runId: nonString(rand) }, { provider: { x: 1 } }]);
        break;
      case 6:
        body.artifact = nonString(rand);
        break;
      case 7: {
        // an unknown field; defineProperty so that `__proto__` becomes an own (serialized) key
        const key = pick(rand, ['colour', '__proto__', 'constructor', 'entityref', 'ENVIRONMENT', ' entityRef', randomString(rand, 12) || 'x']);
        Object.defineProperty(body, key === 'entityRef' || key === 'environment' ? 'colour' : key, {
          value: randomJson(rand),
          enumerable: true,
          configurable: true,
          writable: true,
        });
        break;
      }
      case 8:
        raw = JSON.stringify(body).slice(0, 1 + int(rand, JSON.stringify(body).length - 1));
        break;
      case 9:
        raw = pick(rand, ['[]', '[{"entityRef":"component:default/payments"}]', '42', '"gate"', 'null', 'true', '{', '{"a":NaN}', "{'entityRef':1}"]);
        break;
      case 10: {
        // deep nesting inside an unknown field
        let nested: Json = 1;
        for (let d = 0, n = 50 + int(rand, 400); d < n; d++) nested = { a: nested };
        body.nested = nested;
        break;
      }
      case 11:
        raw = `${JSON.stringify(body).slice(0, -1)},}`;
        break;
      default:
        raw = Buffer.from(Array.from({ length: 1 + int(rand, 200) }, () => int(rand, 256))).toString('latin1');
    }
  }
  return { body: raw ?? JSON.stringify(body), contentType: rand() < 0.9 ? 'application/json' : 'application/json; charset=utf-8' };
}

/** Webhook deliveries: unsigned or wrongly signed (expect 401), or correctly signed but unparseable (expect 400). */
function fuzzWebhook(rand: Rand): { body: string; signature?: string; expected: number } {
  const kind = int(rand, 3);
  let body: string;
  if (rand() < 0.5) {
    // random bytes, as text (superagent sends strings as UTF-8: the signature must cover what is sent)
    body = Buffer.from(Array.from({ length: int(rand, 300) }, () => int(rand, 256))).toString('utf8');
  } else {
    const value = pick(rand, [
      () => ({ signals: pick(rand, [randomString(rand), 42, null, { a: 1 }, true]) }),
      () => ({ nosignals: [signalInput('x')] }),
      () => randomJson(rand),
      () => [signalInput('x')],
    ])();
    body = JSON.stringify(value) ?? 'null';
    if (rand() < 0.3) body = body.slice(0, Math.max(1, body.length - 1 - int(rand, 5)));
  }
  const text = body;
  let parsedOk = true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsedOk = false;
  }
  const signalsIsArray = parsedOk && Array.isArray((parsed as { signals?: unknown } | null)?.signals);
  if (kind === 0) return { body, expected: 401 };
  if (kind === 1) {
    const ascii = Array.from({ length: int(rand, 80) }, () => String.fromCharCode(32 + int(rand, 95))).join('');
    const wrong = pick(rand, [sign(text, 'another-secret'), 'sha256=', `sha256=${'0'.repeat(64)}`, ascii, `${sign(text)}x`, sign(`${text} `)]);
    return { body, signature: wrong, expected: 401 };
  }
  // signed with the right secret: must be invalid JSON or lack a `signals` array (else it would be stored)
  if (signalsIsArray) body = `${body}}`;
  return { body, signature: sign(body), expected: 400 };
}

describe.each(databases.eachSupportedId())('fuzzed bodies on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const edr = criticalEdrSource();
    harness = await startBackend({ knex, sources: [edr, testPushSource] });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it(`answers 400 to ${COUNT} fuzzed gate bodies and writes nothing`, async () => {
    const rand = seededRandom(SEED);
    const before = await rowCounts(knex);
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const { body, contentType } = fuzzGateBody(rand);
      const res = await request(harness.backend.server)
        .post('/api/runtime-risk/v1/gate')
        .set('Authorization', USER)
        .set('Content-Type', contentType)
        .send(body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 400 && unexpected.length < 5) unexpected.push(`#${i} ${res.status} ${body.slice(0, 200)} -> ${res.text.slice(0, 200)}`);
      if (res.status === 400) expect(res.body?.error?.message, `#${i} ${body.slice(0, 100)}`).toEqual(expect.any(String));
    }
    expect(unexpected).toEqual([]);
    expect([...statuses.keys()]).toEqual([400]);
    expect(await rowCounts(knex)).toEqual(before);

    // still alive and correct afterwards
    const ok = await request(harness.backend.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/payments', environment: 'production' });
    expect(ok.status).toBe(200);
    expect(ok.body.decision).toBe('block');
  });

  it(`answers 401/400 to ${COUNT} fuzzed webhook deliveries and writes nothing`, async () => {
    const rand = seededRandom(SEED + 1);
    const before = await rowCounts(knex);
    const unexpected: string[] = [];
    const seen = new Set<number>();
    for (let i = 0; i < COUNT; i++) {
      const { body, signature, expected } = fuzzWebhook(rand);
      let req = request(harness.backend.server).post('/api/runtime-risk/v1/signals/webhook/hooks').set('Content-Type', 'application/json');
      if (signature !== undefined) req = req.set('x-signature', signature);
      const res = await req.send(body);
      seen.add(res.status);
      if (res.status !== expected && unexpected.length < 5) {
        unexpected.push(`#${i} expected ${expected} got ${res.status}: ${body.slice(0, 120)} -> ${res.text.slice(0, 200)}`);
      }
    }
    expect(unexpected).toEqual([]);
    expect([...seen].sort()).toEqual([400, 401]);
    expect(await rowCounts(knex)).toEqual(before);

    // a correctly signed, valid delivery is still accepted afterwards
    const valid = JSON.stringify({ signals: [signalInput('push-1', { hostname: 'web-01' })] });
    const ok = await request(harness.backend.server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .set('x-signature', sign(valid))
      .send(valid);
    expect(ok.status).toBe(202);
    expect(ok.body.accepted).toBe(1);
  });

  it('stores or rejects alone 300 signed deliveries of well-formed signals with poisoned strings (never a 5xx)', async () => {
    const rand = seededRandom(SEED + 2);
    const unexpected: string[] = [];
    let accepted = 0;
    let rejected = 0;
    const long = (n: number) => randomString(rand, 10).repeat(Math.ceil(n / 5)).slice(0, n) || 'x';
    for (let i = 0; i < 300; i++) {
      const text = () => (rand() < 0.2 ? long(pick(rand, [300, 2000, 70_000])) : randomString(rand) || 'x');
      const signal = {
        ...signalInput(`fz-${i}-${randomString(rand, 6)}${rand() < 0.1 ? long(400) : ''}`, { hostname: rand() < 0.1 ? long(600) : `h${i}-${randomString(rand, 8)}` }),
        title: text(),
        description: text(),
        tactics: [text()],
        url: pick(rand, ['https://x.example/a', 'javascript:alert(1)', text()]),
        raw: randomJson(rand),
      };
      const body = JSON.stringify({ signals: [signal] });
      const res = await request(harness.backend.server)
        .post('/api/runtime-risk/v1/signals/webhook/hooks')
        .set('Content-Type', 'application/json')
        .set('x-signature', sign(body))
        .send(body);
      if (res.status === 202) {
        accepted += res.body.accepted;
        rejected += res.body.rejected;
      } else if (res.status !== 400 && unexpected.length < 5) {
        // 400: the fuzzed string made the signal invalid for the source (e.g. an empty field)
        unexpected.push(`#${i} ${res.status}: ${res.text.slice(0, 200)}`);
      }
    }
    expect(unexpected).toEqual([]);
    expect(accepted).toBeGreaterThan(200);
    expect(rejected).toBeGreaterThan(0);
    const state = await knex('runtime_risk_source_state').where({ id: 'hooks' }).first();
    expect(Number(state.rejected_count)).toBeGreaterThanOrEqual(rejected);
    expect(state.last_rejected_reason).toMatch(/longer than/);
  });
});
