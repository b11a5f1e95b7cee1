import {
  mockCredentials,
  mockServices,
  startTestBackend,
  type TestBackend,
  type TestDatabases,
} from '@backstage/backend-test-utils';
import type { PermissionsService, SchedulerService } from '@backstage/backend-plugin-api';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Entity } from '@backstage/catalog-model';
import type { SignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { Knex } from 'knex';
import { runtimeRiskPlugin } from '../plugin';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { MemoryPullSource, component } from './fixtures';
import { signalSourcesModule } from './pushSources';

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
  const sourcesModule = signalSourcesModule('test-sources', options.sources);
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

/** A {@link Harness} with the backend's listening server, for supertest. */
export type SeededHarness = Harness & { server: TestBackend['server'] };

/**
 * {@link startBackend} with one memory pull source `edr` serving `signals` (one
 * page) and the permission policy `authorize` (`permission.enabled: true`);
 * the signals are ingested and correlated before it returns.
 */
export async function startSeededBackend(options: {
  knex: Knex;
  signals: SignalInput[];
  authorize: PermissionsService['authorize'];
  config?: Record<string, unknown>;
  /** The catalog (default {@link entities}). */
  entities?: Entity[];
}): Promise<SeededHarness> {
  const edr = new MemoryPullSource('edr');
  edr.pages = [{ signals: options.signals }];
  const harness = await startBackend({
    knex: options.knex,
    sources: [edr],
    entities: options.entities,
    // without permission.enabled approvals, overrides and exceptions refuse to run
    config: { permission: { enabled: true }, ...(options.config ?? {}) },
    features: [mockServices.permissions.mock({ authorize: options.authorize }).factory],
  });
  await harness.runTask('runtime-risk-ingest-edr');
  await harness.runTask('runtime-risk-correlate');
  return { ...harness, server: harness.backend.server };
}

/** What {@link seededBackendPerDatabase} gives the tests; read it inside tests only (it throws before beforeAll ran). */
export interface SeededContext {
  readonly knex: Knex;
  readonly harness: SeededHarness;
  readonly server: SeededHarness['server'];
}

/**
 * Registers beforeAll/afterAll in the calling `describe` that initialize
 * `databaseId` of `databases`, start {@link startSeededBackend} on it, and stop it.
 */
export function seededBackendPerDatabase(
  databases: TestDatabases,
  databaseId: Parameters<TestDatabases['init']>[0],
  options: Omit<Parameters<typeof startSeededBackend>[0], 'knex'>,
): SeededContext {
  let started: { knex: Knex; harness: SeededHarness } | undefined;
  const get = () => {
    if (!started) throw new Error('the seeded backend is not started yet (read it inside a test)');
    return started;
  };
  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    started = { knex, harness: await startSeededBackend({ knex, ...options }) };
  });
  afterAll(async () => {
    await started?.harness.backend.stop();
  });
  return {
    get knex() {
      return get().knex;
    },
    get harness() {
      return get().harness;
    },
    get server() {
      return get().harness.server;
    },
  };
}

export async function countDecisions(knex: Knex): Promise<number> {
  const row = await knex('runtime_risk_decisions').count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}
