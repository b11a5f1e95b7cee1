/**
 * The CLI end to end against the real runtime-risk backend plugin (router,
 * engine, store, file signal source with the demo signals, demo catalog),
 * started with startTestBackend on a loopback port. CI authenticates with a
 * Backstage external-access static token through the real auth services.
 */
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { startDemoBackend, type DemoBackend } from '@internal/runtime-risk-test-harness';
import { cliRunner } from './testing/runCli';

const TOKEN = 'ci-gate-real-backend-token-4711';

/** Runs the real CLI with a clean environment; the token never reaches the output. */
const runCli = cliRunner(TOKEN);

describe('runtime-risk CLI against the real backend plugin', () => {
  let demo: DemoBackend;
  let url: string;

  beforeAll(async () => {
    demo = await startDemoBackend({
      staticToken: { token: TOKEN, subject: 'ci-gate' },
      // the person behind the pipeline, found by the login annotation
      extraEntities: [
        {
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'User',
          metadata: { name: 'octo-dev', namespace: 'default', annotations: { 'github.com/user-login': 'octo-dev' } },
          spec: {},
        },
      ],
    });
    url = demo.url;
  });

  afterAll(async () => {
    await demo?.stop();
  });

  it('blocks the high-risk demo service with its reason and exit 1', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/payments-api', '--env', 'production'], {
      RUNTIME_RISK_URL: url,
      RUNTIME_RISK_TOKEN: TOKEN,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('BLOCK');
    expect(run.stdout).toContain('risk level: high');
    expect(run.stdout).toContain('Credential dumping via LSASS access');
    expect(run.stdout).toContain('file:det-1001');
  });

  it('--json prints a GateDecision; proceed exits 0, approval_required exits 2', async () => {
    const env = { RUNTIME_RISK_URL: url, RUNTIME_RISK_TOKEN: TOKEN, GITLAB_CI: 'true', CI_PIPELINE_ID: '77' };
    const ledger = await runCli(['gate', '--entity', 'component:default/ledger-service', '--env', 'production', '--json'], env);
    expect(ledger.code).toBe(0);
    expect(GateDecisionSchema.parse(JSON.parse(ledger.stdout))).toMatchObject({ decision: 'proceed', riskLevel: 'low' });
    const worker = await runCli(['gate', '--entity', 'component:default/payments-worker', '--env', 'production', '--json'], env);
    expect(worker.code).toBe(2);
    expect(GateDecisionSchema.parse(JSON.parse(worker.stdout))).toMatchObject({
      decision: 'approval_required',
      riskLevel: 'moderate',
    });
  });

  it('audit verify reports the decision log of the gate calls intact (exit 0)', async () => {
    const env = { RUNTIME_RISK_URL: url, RUNTIME_RISK_TOKEN: TOKEN };
    const gate = await runCli(['gate', '--entity', 'component:default/payments-api', '--env', 'production'], env);
    expect(gate.code).toBe(1);
    const run = await runCli(['audit', 'verify'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('decision log intact');
    const json = await runCli(['audit', 'verify', '--json'], env);
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout);
    expect(answer).toMatchObject({ ok: true, head: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // at least the gate call above was recorded
    expect(answer.checked).toBeGreaterThanOrEqual(1);
  });

  it('records who asked (GITHUB_ACTOR resolved to its User, asserted by the token) and answers a repeated key with the first decision', async () => {
    const env = { RUNTIME_RISK_URL: url, RUNTIME_RISK_TOKEN: TOKEN, GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'Octo-Dev' };
    const args = ['gate', '--entity', 'component:default/ledger-service', '--env', 'production', '--json', '--idempotency-key', 'real-backend-1'];
    const once = await runCli(args, env);
    expect(once.code).toBe(0);
    const first = GateDecisionSchema.parse(JSON.parse(once.stdout));
    expect(first.requester).toMatchObject({ provider: 'github', login: 'Octo-Dev', entityRef: 'user:default/octo-dev', resolved: true });
    expect(first.requester?.assertedBy).toContain('ci-gate');
    const again = await runCli(args, env);
    expect(JSON.parse(again.stdout).decisionId).toBe(first.decisionId);
    const changed = await runCli([...args.slice(0, 5), '--idempotency-key', 'real-backend-1', '--artifact', 'v2'], env);
    expect(changed.code).toBe(4);
    expect(changed.stderr).toContain('422');
  });

  it('exits 3 with a wrong token and 4 for an unknown environment or entity', async () => {
    const bad = await runCli(['gate', '--entity', 'component:default/payments-api', '--env', 'production'], {
      RUNTIME_RISK_URL: url,
      RUNTIME_RISK_TOKEN: 'not-the-token',
    });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('401');
    const env = { RUNTIME_RISK_URL: url, RUNTIME_RISK_TOKEN: TOKEN };
    const prod = await runCli(['gate', '--entity', 'component:default/payments-api', '--env', 'prod'], env);
    expect(prod.code).toBe(4);
    expect(prod.stderr).toContain('400');
    const ghost = await runCli(['gate', '--entity', 'component:default/ghost', '--env', 'production'], env);
    expect(ghost.code).toBe(4);
    expect(ghost.stderr).toContain('404');
  });
});
