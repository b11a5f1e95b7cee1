/**
 * Test helpers for source adapters: a fast clock, a way to see what a module
 * registers through the extension point, and assertions on source errors and
 * token refreshes. Part of the `testUtils` entry point; it imports only regular
 * dependencies of this package (no test framework).
 */
import { coreServices, createBackendPlugin, createServiceFactory } from '@backstage/backend-plugin-api';
import type { BackendFeature } from '@backstage/backend-plugin-api';
import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { runtimeRiskSignalSourcesExtensionPoint } from '../extensions';
import type {
  HostInventoryFetchOptions,
  HostInventoryFetchResult,
  HostInventoryRecord,
  SignalSource,
  SignalSourceFetchOptions,
  SignalSourceFetchResult,
} from '../source';
import type { Clock } from '../http/clock';
import { SourceHttpError } from '../http/errors';
import type { FakeTokenIssuer } from './fakeServer';

/** A clock whose sleeps return at once and advance its time; `sleeps` records them. */
export function fakeClock(start = Date.parse('2026-01-01T00:00:00Z')): Clock & { sleeps: number[]; advance(ms: number): void } {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async ms => {
      sleeps.push(ms);
      t += ms;
    },
    advance: ms => {
      t += ms;
    },
  };
}

/**
 * Starts a test backend: `startTestBackend` of `@backstage/backend-test-utils`
 * (passed in, so this entry point does not depend on it), or anything with its shape.
 */
export type StartTestBackend = (options: { features: BackendFeature[] }) => Promise<{ stop(): Promise<void> }>;

/**
 * Starts a test backend (with `startTestBackend`) holding `feature`, a stand-in
 * runtime-risk plugin that provides the extension point, and `config` as the root
 * config; returns what the module registered.
 */
export async function registeredSources(
  feature: BackendFeature,
  config: JsonObject,
  startTestBackend: StartTestBackend,
): Promise<SignalSource[]> {
  const sources: SignalSource[] = [];
  const host = createBackendPlugin({
    pluginId: 'runtime-risk',
    register(env) {
      env.registerExtensionPoint(runtimeRiskSignalSourcesExtensionPoint, {
        addSignalSource: (...s) => {
          sources.push(...s);
        },
      });
      env.registerInit({ deps: {}, async init() {} });
    },
  });
  const backend = await startTestBackend({
    features: [
      host,
      feature,
      createServiceFactory({ service: coreServices.rootConfig, deps: {}, factory: () => new ConfigReader(config) }),
    ],
  });
  await backend.stop();
  return sources;
}

/** Awaits a promise that must reject with a {@link SourceHttpError} and returns the error. */
export async function sourceError(promise: Promise<unknown>): Promise<SourceHttpError> {
  const outcome = await promise.then(
    value => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a SourceHttpError, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof SourceHttpError)) throw outcome.error;
  return outcome.error;
}

/**
 * Fetches like the ingestion runner: calls `fetch` from `cursor`, again from each
 * answer's cursor while it has `hasMore`. Returns the `sourceId`s of the signals
 * in order, the last cursor and the number of batches.
 */
export async function syncSignals(
  source: { fetch(options: SignalSourceFetchOptions): Promise<SignalSourceFetchResult> },
  logger: SignalSourceFetchOptions['logger'],
  cursor: string | null = null,
): Promise<{ ids: string[]; cursor: string | null; batches: number }> {
  const ids: string[] = [];
  let batches = 0;
  for (;;) {
    const res: SignalSourceFetchResult = await source.fetch({ cursor, logger });
    batches++;
    ids.push(...res.signals.map(s => s.sourceId));
    cursor = res.cursor;
    if (!res.hasMore) return { ids, cursor, batches };
  }
}

/**
 * Walks a source's host inventory as the backend does: calls `syncHosts` from a
 * null cursor, with each answer's cursor, until an answer has no `hasMore`.
 * Returns every host listed, the number of calls and the last cursor.
 */
export async function walkHostInventory(
  source: { syncHosts?(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> },
  logger: HostInventoryFetchOptions['logger'],
): Promise<{ hosts: HostInventoryRecord[]; calls: number; cursor: string | null }> {
  if (!source.syncHosts) throw new Error('the source has no syncHosts');
  const hosts: HostInventoryRecord[] = [];
  let cursor: string | null = null;
  let calls = 0;
  for (;;) {
    const res: HostInventoryFetchResult = await source.syncHosts({ cursor, logger });
    calls++;
    hosts.push(...res.hosts);
    cursor = res.cursor;
    if (!res.hasMore) return { hosts, calls, cursor };
  }
}

/**
 * Runs `fetch` three times: normally, after the token was revoked (expects a
 * refresh on 401), and after `lifetimeMs` (expects a refresh before expiry).
 * Returns the issuer's token count after each run.
 */
export async function tokenCountsOverLifecycle(
  fetch: () => Promise<unknown>,
  issuer: FakeTokenIssuer,
  clock: { advance(ms: number): void },
  lifetimeMs: number,
): Promise<number[]> {
  const counts: number[] = [];
  await fetch();
  counts.push(issuer.issued);
  issuer.revoked = true;
  await fetch();
  counts.push(issuer.issued);
  clock.advance(lifetimeMs);
  await fetch();
  counts.push(issuer.issued);
  return counts;
}
