import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { addStandardScenarios } from '@internal/runtime-risk-test-harness';
import { fakeGateForSuite } from './testing/fakeGate';
import { cliRunner } from './testing/runCli';

const TOKEN = 'ci-gate-s3cr3t-7f9a2c';

/** Runs the real CLI with a clean environment; the token never reaches the output. */
const runCli = cliRunner(TOKEN);

describe('runtime-risk CLI against a loopback gate', () => {
  const gate = fakeGateForSuite(TOKEN);
  let env: Record<string, string>;

  beforeEach(() => {
    gate.audit = { ok: true, checked: 0 };
    addStandardScenarios(gate.scenarios, [
      {
        code: 'signal_active',
        message: 'critical detection "Credential dumping" on web-01',
        signalIds: ['crowdstrike:ldt-1', 'crowdstrike:ldt-2'],
      },
    ]);
    env = { RUNTIME_RISK_URL: gate.url, RUNTIME_RISK_TOKEN: TOKEN };
  });

  const gateRequests = () => gate.requests.filter(r => r.path === '/api/runtime-risk/v1/gate');

  it('exits 0 on proceed and prints decision, level, score, reasons and the portal link', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production', '--artifact', 'ghcr.io/acme/quiet@sha256:abc'], env);
    expect(run.code).toBe(0);
    const [decision] = [...gate.decisions.values()];
    expect(run.stdout).toContain('PROCEED');
    expect(run.stdout).toContain('risk level: low');
    expect(run.stdout).toContain('score: 0');
    expect(run.stdout).toContain('no_active_signals: no active signals on 1 host');
    expect(run.stdout).toContain(`${gate.url}/runtime-risk/decisions/${decision.decisionId}`);
    const [request] = gateRequests();
    expect(request.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.body).toEqual({
      entityRef: 'component:default/quiet',
      environment: 'production',
      artifact: 'ghcr.io/acme/quiet@sha256:abc',
    });
  });

  it('exits 1 on block and names the reasons and signals', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/payments', '--env', 'production'], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('BLOCK');
    expect(run.stdout).toContain('risk level: high');
    expect(run.stdout).toContain('score: 97.3');
    expect(run.stdout).toContain('critical detection "Credential dumping" on web-01');
    expect(run.stdout).toContain('crowdstrike:ldt-1, crowdstrike:ldt-2');
  });

  it('exits 2 on approval_required without --wait', async () => {
    const run = await runCli(['gate', '-e', 'component:default/checkout', '--env', 'production'], env);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('APPROVAL REQUIRED (pending)');
    expect(gate.requests.some(r => r.path.includes('/v1/decisions/'))).toBe(false);
  });

  it('--json prints the raw answer, which matches the shared GateDecision schema', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/payments', '--env', 'production', '--json'], env);
    expect(run.code).toBe(1);
    const printed = JSON.parse(run.stdout);
    const stored = [...gate.decisions.values()][0];
    expect(printed).toEqual(JSON.parse(JSON.stringify(stored)));
    expect(GateDecisionSchema.parse(printed).decision).toBe('block');
  });

  it('--dry-run sends dryRun and reports what the gate would have done', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/payments', '--env', 'production', '--dry-run'], env);
    expect(run.code).toBe(0);
    expect(gateRequests()[0].body).toMatchObject({ dryRun: true });
    expect(run.stdout).toContain('the gate would have answered block');
  });

  it('records the GitHub Actions run with the decision and writes the job summary', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-risk-cli-'));
    const summary = path.join(dir, 'summary.md');
    try {
      const run = await runCli(['gate', '--entity', 'component:default/payments', '--env', 'staging'], {
        ...env,
        GITHUB_ACTIONS: 'true',
        GITHUB_RUN_ID: '987654',
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/payments',
        GITHUB_STEP_SUMMARY: summary,
      });
      expect(run.code).toBe(1);
      expect(gateRequests()[0].body).toMatchObject({
        pipeline: { provider: 'github-actions', runId: '987654', url: 'https://github.com/acme/payments/actions/runs/987654' },
      });
      const [decision] = [...gate.decisions.values()];
      const markdown = fs.readFileSync(summary, 'utf8');
      expect(markdown).toContain('Runtime Risk gate: `block`');
      expect(markdown).toContain('risk level **high**');
      expect(markdown).toContain('| `signal_active` | critical detection "Credential dumping" on web-01 |');
      expect(markdown).toContain(`(${gate.url}/runtime-risk/decisions/${decision.decisionId})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('records the GitLab CI pipeline, with explicit flags winning', async () => {
    await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'staging', '--pipeline-run-id', 'custom-1'], {
      ...env,
      GITLAB_CI: 'true',
      CI_PIPELINE_ID: '4242',
      CI_PIPELINE_URL: 'https://gitlab.example.com/acme/quiet/-/pipelines/4242',
    });
    expect(gateRequests()[0].body).toMatchObject({
      pipeline: { provider: 'gitlab-ci', runId: 'custom-1', url: 'https://gitlab.example.com/acme/quiet/-/pipelines/4242' },
    });
  });

  it('--wait polls with a progress line until approval is granted, then exits 0', async () => {
    gate.onPoll = (decision, polls) => {
      if (polls === 2) {
        gate.decisions.set(decision.decisionId, {
          ...decision,
          status: 'approved',
          reasons: [...decision.reasons, { code: 'approval_granted', message: 'approved by user:default/alice', signalIds: [] }],
        });
      }
    };
    const run = await runCli(
      ['gate', '--entity', 'component:default/checkout', '--env', 'production', '--wait', '--timeout', '20s', '--poll-interval', '100ms'],
      env,
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('waiting for approval of decision');
    expect(run.stderr).toMatch(/is now approved/);
    expect(run.stdout).toContain('PROCEED (approved)');
    expect(run.stdout).toContain('approval_granted: approved by user:default/alice');
    expect(gate.requests.filter(r => r.path.includes('/v1/decisions/'))).toHaveLength(2);
  });

  it('--wait exits 1 when the approval is rejected, and --json prints the final state', async () => {
    gate.onPoll = decision => {
      gate.decisions.set(decision.decisionId, { ...decision, status: 'rejected' });
    };
    const run = await runCli(
      ['gate', '--entity', 'component:default/checkout', '--env', 'production', '--wait', '--timeout', '10s', '--poll-interval', '50ms', '--json'],
      env,
    );
    expect(run.code).toBe(1);
    expect(GateDecisionSchema.parse(JSON.parse(run.stdout)).status).toBe('rejected');
  });

  it('--wait exits 2 when the approval times out', async () => {
    const started = Date.now();
    const run = await runCli(
      ['gate', '--entity', 'component:default/checkout', '--env', 'production', '--wait', '--timeout', '1s', '--poll-interval', '200ms'],
      env,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('approval timed out after 1s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(gate.requests.filter(r => r.path.includes('/v1/decisions/')).length).toBeGreaterThanOrEqual(3);
  });

  it('--wait keeps polling through a transient 503', async () => {
    gate.onPoll = (decision, polls) => {
      if (polls === 1) gate.failNext = 1;
      if (polls === 2) gate.decisions.set(decision.decisionId, { ...decision, status: 'approved' });
    };
    const run = await runCli(
      ['gate', '--entity', 'component:default/checkout', '--env', 'production', '--wait', '--timeout', '10s', '--poll-interval', '50ms', '--retries', '0'],
      env,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('PROCEED (approved)');
    expect(run.stderr).toContain('poll failed');
  });

  it('exits 3 on a wrong token (401) without printing it', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], {
      ...env,
      RUNTIME_RISK_TOKEN: `${TOKEN}-wrong`,
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('401 AuthenticationError');
    expect(run.stderr).not.toContain(`${TOKEN}-wrong`);
  });

  it('exits 3 without a token and says how to pass one', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production', '--url', gate.url]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no token was given');
    expect(gateRequests()[0].authorization).toBeUndefined();
  });

  it('--token and --url flags override the environment', async () => {
    const run = await runCli(
      ['gate', '--entity', 'component:default/quiet', '--env', 'production', '--url', `${gate.url}/api/runtime-risk/`, '--token', TOKEN],
      { RUNTIME_RISK_URL: 'http://127.0.0.1:9/nowhere', RUNTIME_RISK_TOKEN: 'other' },
    );
    expect(run.code).toBe(0);
  });

  it('exits 4 with the server message on a 400', async () => {
    const run = await runCli(['gate', '--entity', 'component:', '--env', 'production'], env);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('400 InputError');
    expect(run.stderr).toMatch(/entityRef: malformed entity ref .component:./);
  });

  it('exits 4 for an entity the gate does not know (404)', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/ghost', '--env', 'production'], env);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("entity 'component:default/ghost' not found");
  });

  it('exits 3 when the gate is unreachable (connection refused), after retrying', async () => {
    const closed = http.createServer();
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>(resolve => closed.close(() => resolve()));
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production', '--retries', '2'], {
      ...env,
      RUNTIME_RISK_URL: `http://127.0.0.1:${port}`,
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stderr).toContain('retrying in 500ms (1/2)');
    expect(run.stderr).toContain('retrying in 1s (2/2)');
  });

  it('retries 503 answers and then succeeds', async () => {
    gate.failNext = 2;
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], env);
    expect(run.code).toBe(0);
    expect(gateRequests()).toHaveLength(3);
    expect(run.stderr).toContain('503 ServiceUnavailableError');
  });

  it('exits 3 on a 500 without retrying', async () => {
    gate.forceStatus = 500;
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], env);
    expect(run.code).toBe(3);
    expect(gateRequests()).toHaveLength(1);
    // the server echoed the token; the CLI masks it (runCli asserts it never appears)
    expect(run.stderr).toContain('forced failure (authorization: Bearer ***)');
  });

  it('exits 3 when the URL answers something that is not the gate', async () => {
    gate.answerHtml = true;
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('not with JSON');
  });

  it.each([
    [['gate', '--entity', 'component:default/quiet', '--env', 'production', '--bogus'], "Unknown option '--bogus'"],
    [['gate', '--env', 'production'], 'missing --entity'],
    [['gate', '--entity', 'component:default/quiet'], 'missing --env'],
    [['gate', '--entity', 'component:default/quiet', '--env', 'production', '--wait', '--timeout', 'soon'], "'soon' is not a duration"],
    [['deploy'], "unknown command 'deploy'"],
    [[], 'Usage:'],
  ])('exits 4 on bad usage: %j', async (args, message) => {
    const run = await runCli(args, env);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(message);
    expect(gate.requests).toHaveLength(0);
  });

  it('exits 4 without a gate URL', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], { RUNTIME_RISK_TOKEN: TOKEN });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('RUNTIME_RISK_URL');
  });

  it('--help prints usage and exits 0', async () => {
    const main = await runCli(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain('Exit codes:');
    const gateHelp = await runCli(['gate', '--help']);
    expect(gateHelp.code).toBe(0);
    expect(gateHelp.stdout).toContain('--poll-interval');
  });

  it('uses RUNTIME_RISK_PORTAL_URL for the decision link', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], {
      ...env,
      RUNTIME_RISK_PORTAL_URL: 'https://portal.example.com/',
    });
    const [decision] = [...gate.decisions.values()];
    expect(run.stdout).toContain(`https://portal.example.com/runtime-risk/decisions/${decision.decisionId}`);
  });

  it('--github-output writes the decision as step outputs to $GITHUB_OUTPUT', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-risk-cli-'));
    const output = path.join(dir, 'output');
    try {
      const run = await runCli(['gate', '--entity', 'component:default/payments', '--env', 'production', '--github-output'], {
        ...env,
        GITHUB_ACTIONS: 'true',
        GITHUB_OUTPUT: output,
        RUNTIME_RISK_PORTAL_URL: 'https://portal.example.com',
      });
      expect(run.code).toBe(1);
      const [decision] = [...gate.decisions.values()];
      expect(fs.readFileSync(output, 'utf8')).toBe(
        [
          'decision=block',
          `decision-id=${decision.decisionId}`,
          'status=final',
          'risk-level=high',
          'score=97.3',
          `decision-url=https://portal.example.com/runtime-risk/decisions/${decision.decisionId}`,
          '',
        ].join('\n'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--github-output outside GitHub Actions says no outputs were written and keeps the exit code', async () => {
    const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production', '--github-output'], env);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('GITHUB_OUTPUT is not set');
  });

  describe('who asked (requestedBy)', () => {
    const gateArgs = ['gate', '--entity', 'component:default/quiet', '--env', 'production'];

    it('sends GITHUB_TRIGGERING_ACTOR as the github requester, before GITHUB_ACTOR', async () => {
      await runCli(gateArgs, { ...env, GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'octocat', GITHUB_TRIGGERING_ACTOR: 'Mona-Lisa' });
      expect(gateRequests()[0].body).toMatchObject({ requestedBy: { provider: 'github', login: 'Mona-Lisa' } });
      await runCli(gateArgs, { ...env, GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'dependabot[bot]' });
      expect(gateRequests()[1].body).toMatchObject({ requestedBy: { provider: 'github', login: 'dependabot[bot]' } });
    });

    it('sends GITLAB_USER_LOGIN as the gitlab requester; --requested-by wins over the environment', async () => {
      await runCli(gateArgs, { ...env, GITLAB_CI: 'true', GITLAB_USER_LOGIN: 'jdoe' });
      expect(gateRequests()[0].body).toMatchObject({ requestedBy: { provider: 'gitlab', login: 'jdoe' } });
      await runCli([...gateArgs, '--requested-by', 'gitlab:release.bot'], { ...env, GITHUB_ACTOR: 'octocat' });
      expect(gateRequests()[1].body).toMatchObject({ requestedBy: { provider: 'gitlab', login: 'release.bot' } });
    });

    it('sends no requester without one, ignores a variable that is not a login, and refuses a bad flag (exit 4)', async () => {
      await runCli(gateArgs, env);
      expect(gateRequests()[0].body).not.toHaveProperty('requestedBy');
      const odd = await runCli(gateArgs, { ...env, GITHUB_ACTOR: 'not a login' });
      expect(odd.code).toBe(0);
      expect(odd.stderr).toContain('GITHUB_ACTOR is not a login');
      expect(gateRequests()[1].body).not.toHaveProperty('requestedBy');
      for (const bad of ['octocat', 'bitbucket:x', 'github:', 'github:a b']) {
        const run = await runCli([...gateArgs, '--requested-by', bad], env);
        expect(run.code, bad).toBe(4);
        expect(run.stderr).toContain('--requested-by');
      }
      expect(gateRequests()).toHaveLength(2);
    });
  });

  describe('idempotent gate calls', () => {
    const gateArgs = ['gate', '--entity', 'component:default/payments', '--env', 'production'];

    it('sends a random Idempotency-Key per run and the same one on its retries: a lost answer does not record twice', async () => {
      gate.keys.clear();
      gate.dropAfterRecord = 1;
      const run = await runCli([...gateArgs, '--retries', '2', '--json'], env);
      expect(run.code).toBe(1);
      const [first, retry] = gateRequests();
      expect(first.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
      expect(retry.idempotencyKey).toBe(first.idempotencyKey);
      expect(gate.decisions.size).toBe(1);
      expect(JSON.parse(run.stdout).decisionId).toBe([...gate.decisions.keys()][0]);
      // another run, another key
      await runCli(gateArgs, env);
      expect(gateRequests()[2].idempotencyKey).not.toBe(first.idempotencyKey);
      expect(gate.decisions.size).toBe(2);
    });

    it('--idempotency-key sets the key: the same key answers the first decision, another body exits 4', async () => {
      gate.keys.clear();
      const once = await runCli([...gateArgs, '--idempotency-key', 'deploy-4711', '--json'], env);
      const twice = await runCli([...gateArgs, '--idempotency-key', 'deploy-4711', '--json'], env);
      expect(JSON.parse(twice.stdout).decisionId).toBe(JSON.parse(once.stdout).decisionId);
      expect(gate.decisions.size).toBe(1);
      const changed = await runCli([...gateArgs, '--idempotency-key', 'deploy-4711', '--artifact', 'v2'], env);
      expect(changed.code).toBe(4);
      expect(changed.stderr).toContain('422');
      const bad = await runCli([...gateArgs, '--idempotency-key', 'has space'], env);
      expect(bad.code).toBe(4);
      expect(bad.stderr).toContain('--idempotency-key');
    });
  });

  describe('plain http', () => {
    it('refuses http:// to a remote host without --insecure (exit 4, nothing sent)', async () => {
      for (const [args, extra, from] of [
        [['--url', 'http://backstage.example.com'], {}, '--url'],
        [[], { RUNTIME_RISK_URL: 'http://10.0.0.5:7007/api/runtime-risk' }, 'RUNTIME_RISK_URL'],
      ] as const) {
        const run = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production', ...args], { ...env, ...extra });
        expect(run.code).toBe(4);
        expect(run.stderr).toContain(`${from}: refusing plain http://`);
        expect(run.stderr).toContain('--insecure');
      }
      const audit = await runCli(['audit', 'verify', '--url', 'http://backstage.example.com'], env);
      expect(audit.code).toBe(4);
      expect(gate.requests).toHaveLength(0);
    });

    it('allows http:// to loopback, and to a remote host with --insecure', async () => {
      const local = await runCli(['gate', '--entity', 'component:default/quiet', '--env', 'production'], {
        ...env,
        RUNTIME_RISK_URL: gate.url.replace('127.0.0.1', 'localhost'),
      });
      expect(local.code).toBe(0);
      // with --insecure the CLI tries: the unroutable address fails as unreachable (3), not as usage (4)
      const remote = await runCli(
        ['gate', '--entity', 'component:default/quiet', '--env', 'production', '--insecure', '--retries', '0', '--request-timeout', '1s'],
        { ...env, RUNTIME_RISK_URL: 'http://192.0.2.1:9' },
      );
      expect(remote.code).toBe(3);
    });
  });

  describe('audit verify', () => {
    it('exits 0 when the chain is intact', async () => {
      gate.audit = { ok: true, checked: 12 };
      const run = await runCli(['audit', 'verify'], env);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('decision log intact');
      expect(run.stdout).toContain('checked: 12');
    });

    it('exits 1 when the chain is broken', async () => {
      gate.audit = { ok: false, checked: 12, brokenAt: 'decision-7' };
      const run = await runCli(['audit', 'verify', '--json'], env);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toEqual({ ok: false, checked: 12, brokenAt: 'decision-7' });
    });

    it('exits 3 when the gate has no audit verification (404)', async () => {
      gate.audit = undefined;
      const run = await runCli(['audit', 'verify'], env);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain('404 NotFoundError');
    });

    it('exits 3 when the gate is unreachable', async () => {
      gate.forceStatus = 502;
      const run = await runCli(['audit', 'verify', '--retries', '0'], env);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain('502');
    });
  });
});
