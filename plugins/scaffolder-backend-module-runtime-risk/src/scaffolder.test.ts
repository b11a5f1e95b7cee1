/**
 * The action in a real scaffolder backend: the scaffolder plugin, this module,
 * the real runtime-risk backend plugin with the file source reading the demo
 * signals, and the demo catalog plus the example template
 * (examples/templates/promote-service.yaml), all in one test backend. A task
 * is created through the scaffolder's HTTP API and runs to completion.
 */
import { mockCredentials } from '@backstage/backend-test-utils';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import { loadDemoEntities, startDemoBackend, type DemoBackend } from '@internal/runtime-risk-test-harness';
import scaffolderModuleRuntimeRisk from './index';

interface TaskEvent {
  type: string;
  body: { message?: string; status?: string; stepId?: string };
}

describe('runtime-risk:gate in a real scaffolder', () => {
  let demo: DemoBackend;
  let base: string;
  const user = mockCredentials.user.header('user:default/sam');

  beforeAll(async () => {
    demo = await startDemoBackend({
      features: [scaffolderPlugin, scaffolderModuleRuntimeRisk],
      extraEntities: loadDemoEntities('examples/templates/promote-service.yaml'),
      config: { app: { baseUrl: 'http://portal.test' } },
    });
    base = `${demo.url}/api/scaffolder/v2`;
  });

  afterAll(async () => {
    await demo?.stop();
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
