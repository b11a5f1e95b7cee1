/**
 * `runtime-risk policy backtest` end to end against the real runtime-risk
 * backend plugin (the demo backend: default policy, demo catalog and signals).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoBackend, type DemoBackend } from '@internal/runtime-risk-test-harness';
import { cliRunner } from './testing/runCli';

const TOKEN = 'ci-policy-backtest-token-0815';
const runCli = cliRunner(TOKEN);

/** The backend's default policy (DESIGN "Configuration"), as an operator would keep it in a file. */
const DEFAULT_POLICY = `id: default
environments:
  production:
    thresholds: { moderate: 30, high: 70 }
    actions: { low: proceed, moderate: approval_required, high: block }
    maxSignalAge: { minutes: 15 }
    onFailure:
      sourceUnavailable: block
      signalsStale: approval_required
      uncorrelated: approval_required
      scoreUnavailable: block
  staging:
    thresholds: { moderate: 50, high: 85 }
    actions: { low: proceed, moderate: proceed, high: approval_required }
    maxSignalAge: { hours: 1 }
    onFailure: { sourceUnavailable: proceed_with_warning, signalsStale: proceed_with_warning,
                 uncorrelated: proceed_with_warning, scoreUnavailable: proceed_with_warning }
scoring:
  severityWeights: { informational: 0, low: 10, medium: 35, high: 70, critical: 100 }
  halfLife: { low: { hours: 12 }, medium: { hours: 24 }, high: { hours: 72 }, critical: { days: 7 } }
`;

/** Stricter production: low needs approval, moderate blocks. */
const STRICT_POLICY = DEFAULT_POLICY.replace('id: default', 'id: stricter').replace(
  'actions: { low: proceed, moderate: approval_required, high: block }',
  'actions: { low: approval_required, moderate: block, high: block }',
);

describe('runtime-risk policy backtest against the real backend plugin', () => {
  let demo: DemoBackend;
  let env: Record<string, string>;
  let dir: string;
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };

  beforeAll(async () => {
    demo = await startDemoBackend({ staticToken: { token: TOKEN, subject: 'ci-gate' } });
    env = { RUNTIME_RISK_URL: demo.url, RUNTIME_RISK_TOKEN: TOKEN };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rr-backtest-'));
    // one block, one proceed, one approval_required in production
    expect((await runCli(['gate', '--entity', 'component:default/payments-api', '--env', 'production'], env)).code).toBe(1);
    expect((await runCli(['gate', '--entity', 'component:default/ledger-service', '--env', 'production'], env)).code).toBe(0);
    expect((await runCli(['gate', '--entity', 'component:default/payments-worker', '--env', 'production'], env)).code).toBe(2);
  });

  afterAll(async () => {
    await demo?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the transitions, environments, entities and changed decisions of a stricter policy', async () => {
    const run = await runCli(['policy', 'backtest', '--policy', file('stricter.yaml', STRICT_POLICY), '--since', '1h'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("policy 'stricter'");
    expect(run.stdout).toContain('3 decision(s) replayed, 2 would change');
    expect(run.stdout).toMatch(/proceed -> approval_required\s+1/);
    expect(run.stdout).toMatch(/approval_required -> block\s+1/);
    expect(run.stdout).toMatch(/block -> block\s+1/);
    expect(run.stdout).toMatch(/production\s+3\s+2\s+proceed -> approval_required: 1, approval_required -> block: 1/);
    expect(run.stdout).toMatch(/component:default\/ledger-service\s+1\s+1\s+proceed -> approval_required: 1/);
    expect(run.stdout).toContain('Changed decisions (2 of 2):');
  });

  it('--json prints the backend answer; the identical policy changes nothing', async () => {
    const json = await runCli(
      ['policy', 'backtest', '--policy', file('same.yaml', DEFAULT_POLICY), '--since', '1h', '--environment', 'production', '--json'],
      env,
    );
    expect(json.code).toBe(0);
    const answer = JSON.parse(json.stdout);
    expect(answer).toMatchObject({ total: 3, changed: 0, changedDecisions: { items: [], totalCount: 0 } });
    const staging = await runCli(['policy', 'backtest', '--policy', file('s.yaml', STRICT_POLICY), '--since', '1h', '--env', 'staging'], env);
    expect(staging.stdout).toContain('0 decision(s) replayed, 0 would change');
    const one = await runCli(
      ['policy', 'backtest', '--policy', file('o.yaml', STRICT_POLICY), '--since', '1h', '--entity', 'component:default/payments-worker', '--json'],
      env,
    );
    expect(JSON.parse(one.stdout)).toMatchObject({ total: 1, changed: 1 });
  });

  it('exits 4 naming the field of a policy the backend refuses, or a missing file', async () => {
    const bad = await runCli(
      ['policy', 'backtest', '--policy', file('bad.yaml', STRICT_POLICY.replace('high: 70', 'high: lots')), '--since', '1h'],
      env,
    );
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain('policyYaml.environments.production.thresholds.high');
    const missing = await runCli(['policy', 'backtest', '--policy', path.join(dir, 'nope.yaml'), '--since', '1h'], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('--policy');
    const noSince = await runCli(['policy', 'backtest', '--policy', file('x.yaml', DEFAULT_POLICY)], env);
    expect(noSince.code).toBe(4);
    expect(noSince.stderr).toContain('--since');
  });
});
