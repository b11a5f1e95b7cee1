/**
 * The CLI end to end against the real runtime-risk backend plugin (router,
 * engine, store, file signal source with the demo signals, demo catalog),
 * started with startTestBackend on a loopback port. CI authenticates with a
 * Backstage external-access static token through the real auth services.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { SchedulerService } from '@backstage/backend-plugin-api';
import { authServiceFactory } from '@backstage/backend-defaults/auth';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { mockServices, startTestBackend, type TestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { GateDecisionSchema } from '@internal/plugin-runtime-risk-common';
import runtimeRiskPlugin from '@internal/plugin-runtime-risk-backend';
import runtimeRiskFileModule from '@internal/plugin-runtime-risk-backend-module-file';
import { parseAllDocuments } from 'yaml';

const REPO = path.resolve(__dirname, '../../..');
const BIN = path.resolve(__dirname, '../bin/runtime-risk');
const TOKEN = 'ci-gate-real-backend-token-4711';

function runCli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => {
      expect(`${stdout}${stderr}`).not.toContain(TOKEN);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('runtime-risk CLI against the real backend plugin', () => {
  let backend: TestBackend;
  let url: string;

  beforeAll(async () => {
    const entities = parseAllDocuments(fs.readFileSync(path.join(REPO, 'examples/catalog.yaml'), 'utf8'))
      .map(d => d.toJS() as Entity)
      .filter(Boolean);
    const scheduler = mockServices.scheduler.mock();
    backend = await startTestBackend({
      features: [
        runtimeRiskPlugin,
        runtimeRiskFileModule,
        catalogServiceMock.factory({ entities }),
        authServiceFactory,
        httpAuthServiceFactory,
        scheduler.factory,
        mockServices.rootConfig.factory({
          data: {
            backend: {
              auth: {
                externalAccess: [{ type: 'static', options: { token: TOKEN, subject: 'ci-gate' } }],
              },
            },
            runtimeRisk: {
              sources: { file: { path: path.join(REPO, 'examples/signals.ndjson') } },
              policy: {
                id: 'default',
                environments: {
                  production: {
                    thresholds: { moderate: 30, high: 70 },
                    actions: { low: 'proceed', moderate: 'approval_required', high: 'block' },
                    maxSignalAge: { minutes: 15 },
                    onFailure: {
                      sourceUnavailable: 'block',
                      signalsStale: 'approval_required',
                      uncorrelated: 'approval_required',
                      scoreUnavailable: 'block',
                    },
                  },
                },
              },
            },
          },
        }),
      ],
    });
    const tasks = (scheduler.scheduleTask as unknown as {
      mock: { calls: [Parameters<SchedulerService['scheduleTask']>[0]][] };
    }).mock.calls.map(c => c[0]);
    // ingest the demo signals, then build the correlation index
    for (const id of ['runtime-risk-ingest-file', 'runtime-risk-correlate']) {
      const task = tasks.find(t => t.id === id);
      if (!task) throw new Error(`task ${id} not scheduled; have ${tasks.map(t => t.id).join(', ')}`);
      await task.fn(new AbortController().signal);
    }
    const address = backend.server.address();
    if (!address || typeof address === 'string') throw new Error('test backend has no port');
    url = `http://127.0.0.1:${address.port}`;
  });

  afterAll(async () => {
    await backend?.stop();
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
