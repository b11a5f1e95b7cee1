/**
 * Test helpers for source adapters: the fake vendor HTTP server and fake OAuth2
 * token issuer (re-exported from `./fakes`), a fast clock, and a way to see what a module
 * registers through the extension point. Test-only: not exported from the
 * package index; import `@runtime-risk/backstage-plugin-runtime-risk-node/src/http/testing`.
 */
import { createBackendPlugin } from '@backstage/backend-plugin-api';
import type { BackendFeature } from '@backstage/backend-plugin-api';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { runtimeRiskSignalSourcesExtensionPoint } from '../extensions';
import type { SignalSource } from '../source';
import type { Clock } from './clock';
import { SourceHttpError } from './errors';
import type { FakeTokenIssuer } from './fakes/server';

export * from './fakes/server';

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
 * Starts a test backend with `feature` and a stand-in runtime-risk plugin that
 * provides the extension point; returns what the module registered.
 */
export async function registeredSources(feature: BackendFeature, config: JsonObject): Promise<SignalSource[]> {
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
    features: [host, feature, mockServices.rootConfig.factory({ data: config })],
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
