/**
 * The real runtime-risk backend plugin with the demo data of examples/: the
 * demo catalog, the file signal source reading examples/signals.ndjson, and the
 * engine's default policy (no `runtimeRisk.policy` configured), started with startTestBackend
 * on a loopback port. The demo signals are ingested and correlated before it
 * returns. For tests of the packages that reach the backend over HTTP.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { SchedulerService } from '@backstage/backend-plugin-api';
import { authServiceFactory } from '@backstage/backend-defaults/auth';
import { httpAuthServiceFactory } from '@backstage/backend-defaults/httpAuth';
import { mockServices, startTestBackend, type TestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import runtimeRiskPlugin from '@runtime-risk/backstage-plugin-runtime-risk-backend';
import runtimeRiskFileModule from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-file';
import { parseAllDocuments } from 'yaml';

/** The repository root (examples/ lives there). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');

/** The entities of a YAML file of the repository (path relative to the root), namespace defaulted to `default`. */
export function loadDemoEntities(file: string): Entity[] {
  return parseAllDocuments(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'))
    .map(d => d.toJS() as Entity)
    .filter(Boolean)
    .map(e => ({ ...e, metadata: { namespace: 'default', ...e.metadata } }));
}

export interface DemoBackend {
  backend: TestBackend;
  /** `http://127.0.0.1:<port>` of the listening backend, no trailing slash. */
  url: string;
  stop(): Promise<void>;
}

export interface DemoBackendOptions {
  /**
   * Real auth services with this Backstage external-access static token. Without
   * it the mock auth services of startTestBackend are used (mockCredentials headers).
   */
  staticToken?: { token: string; subject: string };
  /** Extra features started in the same backend (e.g. the scaffolder plugin). */
  features?: Parameters<typeof startTestBackend>[0]['features'];
  /** Entities added to the demo catalog (examples/catalog.yaml). */
  extraEntities?: Entity[];
  /** Extra top-level config merged in (must not contain `runtimeRisk` or `backend`). */
  config?: Record<string, unknown>;
}

/** Starts the demo backend; the caller stops it with {@link DemoBackend.stop}. */
export async function startDemoBackend(options: DemoBackendOptions = {}): Promise<DemoBackend> {
  const scheduler = mockServices.scheduler.mock();
  const auth = options.staticToken
    ? {
        features: [authServiceFactory, httpAuthServiceFactory],
        config: { backend: { auth: { externalAccess: [{ type: 'static', options: options.staticToken }] } } },
      }
    : { features: [], config: {} };
  const backend = await startTestBackend({
    features: [
      runtimeRiskPlugin,
      runtimeRiskFileModule,
      catalogServiceMock.factory({
        entities: [...loadDemoEntities('examples/catalog.yaml'), ...(options.extraEntities ?? [])],
      }),
      ...auth.features,
      scheduler.factory,
      mockServices.rootConfig.factory({
        data: {
          ...options.config,
          ...auth.config,
          runtimeRisk: {
            // no policy: the backend applies its default policy
            sources: { file: { path: path.join(REPO_ROOT, 'examples/signals.ndjson') } },
          },
        },
      }),
      ...(options.features ?? []),
    ],
  });
  try {
    const tasks = (scheduler.scheduleTask as unknown as {
      mock: { calls: [Parameters<SchedulerService['scheduleTask']>[0]][] };
    }).mock.calls.map(c => c[0]);
    // ingest the demo signals, then build the correlation index
    for (const id of ['runtime-risk-ingest-file', 'runtime-risk-correlate']) {
      const task = tasks.find(t => t.id === id);
      if (!task) throw new Error(`task ${id} not scheduled; have ${tasks.map(t => t.id).join(', ')}`);
      await task.fn(new AbortController().signal);
    }
    const address = backend.server.address() as AddressInfo | string | null;
    if (!address || typeof address === 'string') throw new Error('test backend has no port');
    return { backend, url: `http://127.0.0.1:${address.port}`, stop: () => backend.stop() };
  } catch (error) {
    await backend.stop();
    throw error;
  }
}
