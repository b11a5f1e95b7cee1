import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import {
  ACTIONS,
  DECISION_STATUSES,
  parseDuration as commonParseDuration,
  runtimeRiskOpenApiSpec,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { FakeGateServer } from './testing/fakeGate';
import { cliRunner } from './testing/runCli';

// The CLI is dependency-free JavaScript, so it cannot use -common's typed client; this test
// holds it to the same contract instead: every request the CLI sends (method, path, JSON
// body) and every answer of the fake gate it is tested against must match openapi.yaml
// (through -common's generated copy of it).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseDuration: cliParseDuration } = require('./args.js') as {
  parseDuration(value: string, flag: string): number;
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { asDecision } = require('./format.js') as { asDecision(value: unknown): unknown };

const TOKEN = 'contract-token-5e1d';
const PREFIX = '/api/runtime-risk';
const runCli = cliRunner(TOKEN);

type Spec = {
  paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { $ref?: string; content?: unknown }> }>>;
};
const spec = runtimeRiskOpenApiSpec as unknown as Spec;

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(runtimeRiskOpenApiSpec as object, 'openapi');

const pointer = (...parts: string[]) => parts.map(p => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const validators = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let v = validators.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: `openapi#/${ref}` });
    validators.set(ref, v);
  }
  return v;
}

/** The documented operation a concrete request path matches, e.g. `/v1/decisions/{id}`. */
function operationOf(method: string, path: string): { template: string; method: string } | undefined {
  for (const template of Object.keys(spec.paths)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (re.test(path) && spec.paths[template][method.toLowerCase()]) return { template, method: method.toLowerCase() };
  }
  return undefined;
}

function check(validate: ValidateFunction, value: unknown, what: string) {
  const ok = validate(value);
  expect(ok ? [] : (validate.errors ?? []).map(e => `${what}${e.instancePath} ${e.message}`)).toEqual([]);
}

interface Exchange {
  method: string;
  path: string;
  body?: unknown;
  status: number;
  answer: unknown;
}

describe('the CLI and its fake gate keep to openapi.yaml', () => {
  const gate = new FakeGateServer(TOKEN);
  const exchanges: Exchange[] = [];
  let proxy: http.Server;
  let env: Record<string, string>;

  // A recording proxy between the CLI and the fake gate: sees both sides of every call.
  beforeAll(async () => {
    await gate.start();
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const upstream = await fetch(`${gate.url}${req.url}`, {
          method: req.method,
          headers: Object.fromEntries(
            Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)),
          ) as Record<string, string>,
          body: raw || undefined,
        });
        const text = await upstream.text();
        exchanges.push({
          method: req.method ?? '',
          path: (req.url ?? '').split('?')[0],
          body: raw ? JSON.parse(raw) : undefined,
          status: upstream.status,
          answer: JSON.parse(text),
        });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(text);
      });
    });
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve));
    env = { RUNTIME_RISK_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, RUNTIME_RISK_TOKEN: TOKEN };
    gate.scenarios.set('component:default/quiet', {
      decision: 'proceed',
      riskLevel: 'low',
      score: 0,
      reasons: [{ code: 'no_active_signals', message: 'no active signals on 1 host', signalIds: [] }],
    });
    gate.scenarios.set('component:default/checkout', {
      decision: 'approval_required',
      riskLevel: 'moderate',
      score: 41.5,
      reasons: [{ code: 'signal_active', message: 'medium detection on web-01', signalIds: ['defender:da-9'] }],
    });
  });
  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise(resolve => proxy.close(resolve));
    await gate.stop();
  });

  it('requests and answers of gate, --dry-run, --wait, audit verify and the errors match the documented schemas', async () => {
    gate.audit = { ok: true, checked: 12, head: 'a'.repeat(64) };
    gate.onPoll = (decision, polls) => {
      if (polls === 2) gate.decisions.set(decision.decisionId, { ...decision, status: 'approved' });
    };
    const runs: string[][] = [
      ['gate', '--entity', 'component:default/quiet', '--env', 'production', '--artifact', 'sha256:abc'],
      ['gate', '--entity', 'component:default/quiet', '--env', 'staging', '--dry-run', '--pipeline-provider', 'jenkins', '--pipeline-run-id', '7'],
      ['gate', '--entity', 'component:default/checkout', '--env', 'production', '--wait', '--timeout', '20s', '--poll-interval', '100ms'],
      ['gate', '--entity', 'component:default/ghost', '--env', 'production'],
      ['audit', 'verify'],
    ];
    for (const args of runs) await runCli(args, env);
    gate.audit = { ok: false, checked: 4, brokenAt: 5, problem: 'modified', message: 'record 5 does not match its hash' };
    await runCli(['audit', 'verify', '--json'], env);
    await runCli(['audit', 'verify'], { ...env, RUNTIME_RISK_TOKEN: 'wrong' });

    const seen = new Set<string>();
    for (const x of exchanges) {
      expect(x.path.startsWith(`${PREFIX}/`), x.path).toBe(true);
      const op = operationOf(x.method, x.path.slice(PREFIX.length));
      expect(op, `${x.method} ${x.path} is not a documented operation`).toBeDefined();
      const { template, method } = op!;
      seen.add(`${method} ${template} ${x.status}`);
      const operation = spec.paths[template][method];
      if (x.body !== undefined) {
        expect(operation.requestBody, `${method} ${template} takes no body`).toBeDefined();
        check(validator(pointer('paths', template, method, 'requestBody', 'content', 'application/json', 'schema')), x.body, `request ${method} ${template}`);
      }
      const response = operation.responses[String(x.status)];
      expect(response, `${method} ${template} does not document ${x.status}`).toBeDefined();
      const ref = response.$ref
        ? `${response.$ref.slice(2)}/${pointer('content', 'application/json', 'schema')}`
        : pointer('paths', template, method, 'responses', String(x.status), 'content', 'application/json', 'schema');
      check(validator(ref), x.answer, `answer ${x.status} of ${method} ${template}`);
    }
    expect([...seen].sort()).toEqual([
      'get /v1/audit/verify 200',
      'get /v1/audit/verify 401',
      'get /v1/decisions/{id} 200',
      'post /v1/gate 200',
      'post /v1/gate 404',
    ]);
  });
});

describe("the CLI's parseDuration and -common's", () => {
  it.each(['30m', '10s', '1h30m', '500ms', '2d', '90', '1.5', ' 10M ', '0', '1h 30m', 'soon', '', '10x', '-5s', '1.5h'])(
    'agree on %j',
    input => {
      const outcome = (parse: (value: string, flag: string) => number) => {
        try {
          return { ms: parse(input, '--timeout') };
        } catch (e) {
          return { error: (e as Error).message };
        }
      };
      expect(outcome(cliParseDuration)).toEqual(outcome(commonParseDuration));
    },
  );
});

describe("the CLI's decision and status lists and -common's", () => {
  type Schema = { enum?: string[]; properties?: Record<string, Schema> };
  const schemas = (runtimeRiskOpenApiSpec as unknown as { components: { schemas: Record<string, Schema> } }).components.schemas;

  it('accept exactly the decisions and approval statuses of -common and of the spec', () => {
    expect([...ACTIONS].sort()).toEqual([...(schemas.Decision.enum ?? [])].sort());
    expect([...DECISION_STATUSES].sort()).toEqual([...(schemas.GateDecision.properties?.status.enum ?? [])].sort());
    for (const decision of ACTIONS) {
      expect(asDecision({ decisionId: 'd', decision }), decision).toBeDefined();
      for (const status of DECISION_STATUSES) expect(asDecision({ decisionId: 'd', decision, status }), status).toBeDefined();
    }
    expect(asDecision({ decisionId: 'd', decision: 'maybe' })).toBeUndefined();
    expect(asDecision({ decisionId: 'd', decision: 'block', status: 'revoked' })).toBeUndefined();
  });
});
