/**
 * Signed push deliveries to backends that share one database, for the tests of
 * the push route across replicas: two backends (as replicas are), each with its
 * own instance of a signed push source with the replay guard on.
 */
import type { TestDatabases } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import { startBackend, type Harness } from './backend';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhookBody, signalSourcesModule, signedPushSource } from './pushSources';

/** Two backends on `knex`, each adding a replay-guarded {@link signedPushSource} `sourceId` from module `moduleId`. */
export async function startPushReplicas(
  knex: Knex,
  options: { moduleId: string; sourceId: string; secret: string },
): Promise<{ a: Harness; b: Harness; stop(): Promise<void> }> {
  const replica = () =>
    startBackend({
      knex,
      sources: [],
      features: [
        signalSourcesModule(options.moduleId, [signedPushSource({ id: options.sourceId, secret: options.secret, replayGuard: true })]),
      ],
    });
  const a = await replica();
  let b: Harness;
  try {
    b = await replica();
  } catch (e) {
    await a.backend.stop();
    throw e;
  }
  return {
    a,
    b,
    async stop() {
      await a.backend.stop();
      await b.backend.stop();
    },
  };
}

/** What {@link pushReplicasPerDatabase} gives the tests; read it inside tests or later hooks only. */
export interface PushReplicasContext {
  readonly knex: Knex;
  readonly a: Harness;
  readonly b: Harness;
}

/**
 * Registers beforeAll/afterAll in the calling `describe` that initialize
 * `databaseId` of `databases`, start {@link startPushReplicas} on it, and stop them.
 */
export function pushReplicasPerDatabase(
  databases: TestDatabases,
  databaseId: Parameters<TestDatabases['init']>[0],
  options: Parameters<typeof startPushReplicas>[1],
): PushReplicasContext {
  let started: ({ knex: Knex } & Awaited<ReturnType<typeof startPushReplicas>>) | undefined;
  const get = () => {
    if (!started) throw new Error('the replicas are not started yet (read them inside a test)');
    return started;
  };
  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    started = { knex, ...(await startPushReplicas(knex, options)) };
  });
  afterAll(async () => {
    await started?.stop();
  });
  return {
    get knex() {
      return get().knex;
    },
    get a() {
      return get().a;
    },
    get b() {
      return get().b;
    },
  };
}

export type SignedDelivery = { body: string; headers: Record<string, string> };

/** One signed delivery of `{ signals }`: the same object may be sent several times (a replay). */
export function signedDelivery(secret: string, signals: unknown[], timestamp = Math.floor(Date.now() / 1000)): SignedDelivery {
  const body = JSON.stringify({ signals });
  return { body, headers: { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signWebhookBody(secret, body, timestamp) } };
}

/** POSTs `delivery` as JSON to `path` of `to` (chain `.set(...)` for more headers). */
export function sendDelivery(to: Harness, path: string, delivery: SignedDelivery) {
  return request(to.backend.server).post(path).set('Content-Type', 'application/json').set(delivery.headers).send(delivery.body);
}
