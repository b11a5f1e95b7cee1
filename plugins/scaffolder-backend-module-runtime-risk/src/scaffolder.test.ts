/**
 * The action in a real scaffolder backend: the scaffolder plugin, this module,
 * the real runtime-risk backend plugin with the file source reading the demo
 * signals, and the demo catalog plus the example template
 * (examples/templates/promote-service.yaml), all in one test backend. A task
 * is created through the scaffolder's HTTP API and runs to completion.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SchedulerService } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices, startTestBackend, type TestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import runtimeRiskPlugin from '@internal/plugin-runtime-risk-backend';
import runtimeRiskFileModule from '@internal/plugin-runtime-risk-backend-module-file';
import { parseAllDocuments } from 'yaml';
import scaffolderModuleRuntimeRisk from './index';

const REPO = path.resolve(__dirname, '../../..');

function loadEntities(file: string): Entity[] {
  return parseAllDocuments(fs.readFileSync(path.join(REPO, file), 'utf8'))
    .map(d => d.toJS() as Entity)
    .filter(Boolean)
    .map(e => ({ ...e, metadata: { namespace: 'default', ...e.metadata } }));
}

interface TaskEvent {
  type: string;
  body: { message?: string; status?: string; stepId?: string };
}

describe('runtime-risk:gate in a real scaffolder', () => {
  let backend: TestBackend;
  let base: string;
  const user = mockCredentials.user.header('user:default/sam');

  beforeAll(async () => {
    const scheduler = mockServices.scheduler.mock();
    backend = await startTestBackend({
      features: [
        scaffolderPlugin,
        scaffolderModuleRuntimeRisk,
        runtimeRiskPlugin,
        runtimeRiskFileModule,
        catalogServiceMock.factory({
          entities: [...loadEntities('examples/catalog.yaml'), ...loadEntities('examples/templates/promote-service.yaml')],
        }),
        scheduler.factory,
        mockServices.rootConfig.factory({
          data: {
            app: { baseUrl: 'http://portal.test' },
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
    for (const id of ['runtime-risk-ingest-file', 'runtime-risk-correlate']) {
      const task = tasks.find(t => t.id === id);
      if (!task) throw new Error(`task ${id} not scheduled; have ${tasks.map(t => t.id).join(', ')}`);
      await task.fn(new AbortController().signal);
    }
    const address = backend.server.address();
    if (!address || typeof address === 'string') throw new Error('test backend has no port');
    base = `http://127.0.0.1:${address.port}/api/scaffolder/v2`;
  });

  afterAll(async () => {
    await backend?.stop();
  });

  async function runTemplate(values: Record<string, unknown>) {
    const created = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { authorization: user, 'content-type': 'application/json' },
      body: JSON.stringify({ templateRef: 'template:default/promote-service', values }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const deadline = Date.now() + 20_000;
    for (;;) {
      const task = (await (await fetch(`${base}/tasks/${id}`, { headers: { authorization: user } })).json()) as {
        status: string;
      };
      if (task.status === 'completed' || task.status === 'failed') {
        const events = (await (await fetch(`${base}/tasks/${id}/events`, { headers: { authorization: user } })).json()) as TaskEvent[];
        const log = events.map(e => e.body.message ?? '').join('\n');
        return { status: task.status, log, events };
      }
      if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status}`);
      await new Promise(r => setTimeout(r, 100));
    }
  }

  it('stops the promotion of the high-risk demo service at the gate, naming the reason', async () => {
    const result = await runTemplate({ entityRef: 'component:default/payments-api', environment: 'production' });
    expect(result.status).toBe('failed');
    expect(result.log).toContain('runtime-risk gate: block');
    expect(result.log).toContain('Credential dumping via LSASS access');
    expect(result.log).toMatch(/Runtime Risk gate blocked component:default\/payments-api -> production/);
    expect(result.log).not.toContain('Promoting component:default/payments-api');
  });

  it('promotes a low-risk service: the gate proceeds and the next step runs', async () => {
    const result = await runTemplate({ entityRef: 'component:default/ledger-service', environment: 'production', version: '1.4.2' });
    expect(result.log).toContain('runtime-risk gate: proceed');
    expect(result.status).toBe('completed');
    expect(result.log).toMatch(/Promoting component:default\/ledger-service 1\.4\.2 to production:\s+gate decision \S+ is proceed/);
  });
});
