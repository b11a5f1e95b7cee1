import {
  mockCredentials,
  mockServices,
  startTestBackend,
  type TestBackend,
} from '@backstage/backend-test-utils';
import { createBackendModule, type SchedulerService } from '@backstage/backend-plugin-api';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Entity } from '@backstage/catalog-model';
import { runtimeRiskSignalSourcesExtensionPoint, type SignalSource } from '@internal/plugin-runtime-risk-node';
import type { Knex } from 'knex';
import { runtimeRiskPlugin } from '../plugin';
import { component } from './fixtures';

/** The demo-like catalog of the router tests. */
export const entities: Entity[] = [
  component('payments', { 'runtime-risk.io/hosts': 'web-01' }),
  component('checkout', { 'runtime-risk.io/hosts': 'web-010, app-01' }),
  component('orphan'),
  component('split', { 'runtime-risk.io/hosts': 'web-01', 'runtime-risk.io/hosts.production': 'db-01' }),
];


export interface Harness {
  backend: TestBackend;
  scheduler: ReturnType<typeof mockServices.scheduler.mock>;
  runTask(id: string): Promise<void>;
}

export async function startBackend(options: {
  knex: Knex;
  sources: SignalSource[];
  entities?: Entity[];
  config?: Record<string, unknown>;
  features?: Parameters<typeof startTestBackend>[0]['features'];
}): Promise<Harness> {
  const scheduler = mockServices.scheduler.mock();
  const sourcesModule = createBackendModule({
    pluginId: 'runtime-risk',
    moduleId: 'test-sources',
    register(env) {
      env.registerInit({
        deps: { sources: runtimeRiskSignalSourcesExtensionPoint },
        async init({ sources }) {
          sources.addSignalSource(...options.sources);
        },
      });
    },
  });
  const backend = await startTestBackend({
    features: [
      runtimeRiskPlugin,
      sourcesModule,
      catalogServiceMock.factory({ entities: options.entities ?? entities }),
      mockServices.database.factory({ knex: options.knex }),
      mockServices.httpAuth.factory({ defaultCredentials: mockCredentials.none() }),
      mockServices.rootConfig.factory({
        data: { runtimeRisk: { ingestion: { frequency: { seconds: 30 } } }, ...(options.config ?? {}) },
      }),
      scheduler.factory,
      ...(options.features ?? []),
    ],
  });
  const runTask = async (id: string) => {
    const calls = (scheduler.scheduleTask as unknown as { mock: { calls: [Parameters<SchedulerService['scheduleTask']>[0]][] } })
      .mock.calls;
    const task = calls.map(c => c[0]).find(t => t.id === id);
    if (!task) throw new Error(`no task ${id} scheduled; have ${calls.map(c => c[0].id).join(', ')}`);
    await task.fn(new AbortController().signal);
  };
  return { backend, scheduler, runTask };
}


export async function countDecisions(knex: Knex): Promise<number> {
  const row = await knex('runtime_risk_decisions').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
