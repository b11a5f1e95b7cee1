import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { addStandardScenarios } from '@internal/runtime-risk-test-harness';
import { FakeGateServer, fakeGateForSuite } from './testing/fakeGate';
import { outputOf } from './testing/runCli';

/**
 * The GitHub Action (.github/actions/runtime-risk-gate/action.yml) run as the runner runs
 * a composite action: each `run:` step written to a file and executed with
 * `bash --noprofile --norc -eo pipefail`, its `env:` expressions evaluated from the
 * inputs (defaults from action.yml), GITHUB_ACTION_PATH, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY set, and the action's outputs read back through their
 * `${{ steps.<id>.outputs.<name> }}` mapping. The CLI it runs is the repository's
 * bin/runtime-risk, against the loopback fake gate.
 */

const REPO_ROOT = path.resolve(__dirname, '../../..');
const ACTION_DIR = path.join(REPO_ROOT, '.github/actions/runtime-risk-gate');
const TOKEN = 'action-gate-t0ken-91c4';

interface ActionStep {
  id?: string;
  shell?: string;
  env?: Record<string, string>;
  run?: string;
  uses?: string;
}
interface ActionManifest {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

const action = parse(fs.readFileSync(path.join(ACTION_DIR, 'action.yml'), 'utf8')) as ActionManifest;

/** Evaluates the only expression forms the action uses; anything else fails the test. */
function evaluate(text: string, context: { inputs: Record<string, string>; steps: Record<string, Record<string, string>> }) {
  return text.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_, expression: string) => {
    const input = /^inputs\.([\w-]+)$/.exec(expression);
    if (input) {
      if (!(input[1] in action.inputs)) throw new Error(`action.yml uses undeclared input ${input[1]}`);
      return context.inputs[input[1]] ?? '';
    }
    const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
    if (output) return context.steps[output[1]]?.[output[2]] ?? '';
    throw new Error(`the test does not evaluate \${{ ${expression} }}`);
  });
}

/** Reads a GITHUB_OUTPUT file: `name=value` lines (and `name<<delimiter` blocks). */
function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const block = /^([^=]+)<<(.+)$/.exec(line);
    if (block) {
      const end = lines.indexOf(block[2], i + 1);
      outputs[block[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

function runStep(script: string, env: Record<string, string>, dir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = path.join(dir, `step-${Math.random().toString(36).slice(2)}.sh`);
  fs.writeFileSync(file, script);
  return outputOf(spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/**
 * Runs the action's steps in order, stopping at the first failing one as the runner does.
 * `jobEnv` is the workflow's env (e.g. RUNTIME_RISK_URL set at job level).
 */
async function runAction(given: Record<string, string>, jobEnv: Record<string, string> = {}): Promise<ActionRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-risk-action-'));
  try {
    const inputs: Record<string, string> = {};
    for (const [name, spec] of Object.entries(action.inputs)) {
      if (spec.default !== undefined) inputs[name] = String(spec.default);
    }
    Object.assign(inputs, given);
    const summaryFile = path.join(dir, 'step-summary.md');
    fs.writeFileSync(summaryFile, '');
    const steps: Record<string, Record<string, string>> = {};
    let last = { code: 0 as number | null, stdout: '', stderr: '' };
    for (const [index, step] of action.runs.steps.entries()) {
      expect(step.uses, 'the test runs run: steps only').toBeUndefined();
      expect(step.shell).toBe('bash');
      const outputFile = path.join(dir, `output-${index}`);
      fs.writeFileSync(outputFile, '');
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(String(v), { inputs, steps })]));
      const run = await runStep(
        evaluate(step.run ?? '', { inputs, steps }),
        {
          PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
          HOME: dir,
          RUNNER_TEMP: dir,
          GITHUB_ACTIONS: 'true',
          GITHUB_SERVER_URL: 'https://github.com',
          GITHUB_REPOSITORY: 'acme/payments',
          GITHUB_RUN_ID: '4242',
          GITHUB_ACTION_PATH: ACTION_DIR,
          GITHUB_OUTPUT: outputFile,
          GITHUB_STEP_SUMMARY: summaryFile,
          ...jobEnv,
          ...stepEnv,
        },
        dir,
      );
      expect(`${run.stdout}\n${run.stderr}`).not.toContain(TOKEN);
      if (step.id) steps[step.id] = readOutputs(outputFile);
      last = {
        code: run.code,
        stdout: last.stdout + run.stdout,
        stderr: last.stderr + run.stderr,
      };
      if (run.code !== 0) break;
    }
    const outputs = Object.fromEntries(
      Object.entries(action.outputs).map(([name, { value }]) => [name, evaluate(value, { inputs, steps })]),
    );
    return { ...last, outputs, summary: fs.readFileSync(summaryFile, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the runtime-risk-gate GitHub Action', () => {
  const gate = fakeGateForSuite(TOKEN);
  let connection: Record<string, string>;

  beforeEach(() => {
    addStandardScenarios(gate.scenarios, [{ code: 'signal_active', message: 'critical detection on web-01', signalIds: ['crowdstrike:ldt-1'] }]);
    connection = { 'backstage-url': gate.url, token: TOKEN };
  });

  const gateBodies = () => gate.requests.filter(r => r.path === '/api/runtime-risk/v1/gate').map(r => r.body);
  const onlyDecision = () => {
    expect(gate.decisions.size).toBe(1);
    return [...gate.decisions.values()][0];
  };

  it('is a composite action with the documented inputs and outputs', () => {
    expect(action.runs.using).toBe('composite');
    expect(action.inputs.entity.required).toBe(true);
    expect(action.inputs.environment.required).toBe(true);
    expect(action.inputs['wait-for-approval'].default).toBe('false');
    expect(Object.keys(action.inputs)).toEqual(
      expect.arrayContaining(['backstage-url', 'token', 'dry-run', 'timeout', 'artifact', 'portal-url', 'poll-interval', 'requested-by', 'idempotency-key']),
    );
    expect(Object.keys(action.outputs)).toEqual(
      expect.arrayContaining(['decision', 'decision-id', 'status', 'risk-level', 'score', 'decision-url', 'exit-code']),
    );
  });

  it('proceed: exit 0, outputs decision and decision-id, job summary, the run recorded', async () => {
    const run = await runAction({
      ...connection,
      entity: 'component:default/quiet',
      environment: 'production',
      artifact: 'ghcr.io/acme/quiet@sha256:abc',
    });
    expect(run.code, run.stderr).toBe(0);
    const decision = onlyDecision();
    expect(run.outputs).toMatchObject({
      decision: 'proceed',
      'decision-id': decision.decisionId,
      status: 'final',
      'risk-level': 'low',
      score: '0',
      'decision-url': `${gate.url}/runtime-risk/decisions/${decision.decisionId}`,
      'exit-code': '0',
    });
    expect(run.stdout).toContain('runtime-risk gate: PROCEED  component:default/quiet -> production');
    expect(run.stdout).not.toContain('::error');
    expect(run.summary).toContain('Runtime Risk gate: `proceed`');
    expect(gateBodies()).toEqual([
      {
        entityRef: 'component:default/quiet',
        environment: 'production',
        artifact: 'ghcr.io/acme/quiet@sha256:abc',
        pipeline: { provider: 'github-actions', runId: '4242', url: 'https://github.com/acme/payments/actions/runs/4242' },
      },
    ]);
    expect(gate.requests[0].authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('block: exit 1 fails the step with an error annotation; outputs are still set', async () => {
    const run = await runAction({ ...connection, entity: 'component:default/payments', environment: 'production' });
    expect(run.code).toBe(1);
    const decision = onlyDecision();
    expect(run.outputs).toMatchObject({
      decision: 'block',
      'decision-id': decision.decisionId,
      'risk-level': 'high',
      score: '97.3',
      'exit-code': '1',
    });
    expect(run.stdout).toContain('::error title=Runtime Risk gate::blocked: component:default/payments -> production');
    expect(run.summary).toContain('| `signal_active` | critical detection on web-01 |');
  });

  it('approval required without wait-for-approval: exit 2, decision approval_required, nothing polled', async () => {
    const run = await runAction({ ...connection, entity: 'component:default/checkout', environment: 'production' });
    expect(run.code).toBe(2);
    expect(run.outputs).toMatchObject({
      decision: 'approval_required',
      'decision-id': onlyDecision().decisionId,
      status: 'pending',
      'exit-code': '2',
    });
    expect(run.stdout).toContain('::error title=Runtime Risk gate::approval required: component:default/checkout -> production');
    expect(gate.polls).toBe(0);
  });

  it('wait-for-approval: true waits until approved, then exit 0 and decision proceed', async () => {
    gate.onPoll = (decision, polls) => {
      if (polls === 2) gate.decisions.set(decision.decisionId, { ...decision, status: 'approved' });
    };
    const run = await runAction({
      ...connection,
      entity: 'component:default/checkout',
      environment: 'production',
      'wait-for-approval': 'true',
      timeout: '20s',
      'poll-interval': '100ms',
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ decision: 'proceed', status: 'approved', 'decision-id': onlyDecision().decisionId, 'exit-code': '0' });
    expect(run.stderr).toContain('waiting for approval of decision');
    expect(gate.polls).toBe(2);
  });

  it('wait-for-approval: a rejection is exit 1 and decision block', async () => {
    gate.onPoll = decision => gate.decisions.set(decision.decisionId, { ...decision, status: 'rejected' });
    const run = await runAction({
      ...connection,
      entity: 'component:default/checkout',
      environment: 'production',
      'wait-for-approval': 'true',
      'poll-interval': '50ms',
    });
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({ decision: 'block', status: 'rejected', 'exit-code': '1' });
  });

  it('wait-for-approval: no approval within the timeout is exit 2', async () => {
    const run = await runAction({
      ...connection,
      entity: 'component:default/checkout',
      environment: 'production',
      'wait-for-approval': 'true',
      timeout: '600ms',
      'poll-interval': '100ms',
    });
    expect(run.code).toBe(2);
    expect(run.outputs).toMatchObject({ decision: 'approval_required', status: 'pending', 'exit-code': '2' });
    expect(run.stdout).toContain('::error title=Runtime Risk gate::approval not granted within 600ms: component:default/checkout -> production');
  });

  it('dry-run: the gate records what it would do and the step passes', async () => {
    const run = await runAction({ ...connection, entity: 'component:default/payments', environment: 'staging', 'dry-run': 'true' });
    expect(run.code, run.stderr).toBe(0);
    expect(gateBodies()[0]).toMatchObject({ dryRun: true });
    expect(run.outputs).toMatchObject({ decision: 'proceed', 'exit-code': '0' });
    expect(run.stdout).toContain('the gate would have answered block');
  });

  it('takes URL and token from the job environment when the inputs are empty', async () => {
    const run = await runAction(
      { entity: 'component:default/quiet', environment: 'production' },
      { RUNTIME_RISK_URL: gate.url, RUNTIME_RISK_TOKEN: TOKEN },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.outputs.decision).toBe('proceed');
  });

  it('inputs win over the job environment', async () => {
    const run = await runAction(
      { ...connection, entity: 'component:default/quiet', environment: 'production' },
      { RUNTIME_RISK_URL: 'http://127.0.0.1:9/nowhere', RUNTIME_RISK_TOKEN: 'a-wrong-token' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(gate.requests[0].authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('unreachable gate: exit 3, no decision output', async () => {
    const closed = new FakeGateServer(TOKEN);
    await closed.start();
    const url = closed.url;
    await closed.stop();
    const run = await runAction({ 'backstage-url': url, token: TOKEN, entity: 'component:default/quiet', environment: 'production' });
    expect(run.code).toBe(3);
    expect(run.outputs).toMatchObject({ decision: '', 'decision-id': '', 'exit-code': '3' });
    expect(run.stderr).toContain('cannot reach the gate');
    expect(run.stdout).toContain('::error title=Runtime Risk gate::the gate is unreachable or refused the credentials');
  });

  it('passes the actor of the run to the gate as requestedBy; the requested-by input overrides it', async () => {
    const actor = await runAction(
      { ...connection, entity: 'component:default/quiet', environment: 'production' },
      { GITHUB_ACTOR: 'octocat', GITHUB_TRIGGERING_ACTOR: 'mona' },
    );
    expect(actor.code, actor.stderr).toBe(0);
    const input = await runAction(
      { ...connection, entity: 'component:default/quiet', environment: 'production', 'requested-by': 'github:release-captain' },
      { GITHUB_ACTOR: 'octocat' },
    );
    expect(input.code, input.stderr).toBe(0);
    expect(gateBodies().map(b => (b as { requestedBy?: unknown }).requestedBy)).toEqual([
      { provider: 'github', login: 'mona' },
      { provider: 'github', login: 'release-captain' },
    ]);
    const bad = await runAction({ ...connection, entity: 'component:default/quiet', environment: 'production', 'requested-by': 'mona' });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain('--requested-by');
  });

  it('sends an Idempotency-Key: the idempotency-key input makes a re-run answer the first decision', async () => {
    gate.keys.clear();
    const inputs = { ...connection, entity: 'component:default/quiet', environment: 'production', 'idempotency-key': 'run-4242-attempt-1' };
    const first = await runAction(inputs);
    const rerun = await runAction(inputs);
    expect(rerun.outputs['decision-id']).toBe(first.outputs['decision-id']);
    expect(gate.decisions.size).toBe(1);
    const keys = gate.requests.filter(r => r.path === '/api/runtime-risk/v1/gate').map(r => r.idempotencyKey);
    expect(keys).toEqual(['run-4242-attempt-1', 'run-4242-attempt-1']);
    // without the input, a random key per step
    await runAction({ ...connection, entity: 'component:default/quiet', environment: 'production' });
    expect(gate.requests[2].idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('bad usage: exit 4 for a non-boolean flag input and for a missing entity', async () => {
    const bad = await runAction({ ...connection, entity: 'component:default/quiet', environment: 'production', 'wait-for-approval': 'yes' });
    expect(bad.code).toBe(4);
    expect(bad.outputs['exit-code']).toBe('4');
    expect(bad.stdout).toContain("::error title=Runtime Risk gate::wait-for-approval must be true or false, got 'yes'");
    const missing = await runAction({ ...connection, entity: '', environment: 'production' });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('missing --entity');
    expect(gate.requests).toHaveLength(0);
  });
});
