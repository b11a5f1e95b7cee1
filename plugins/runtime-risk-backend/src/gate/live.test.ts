import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { createServiceFactory } from '@backstage/backend-plugin-api';
import { signalsServiceRef, type SignalPayload } from '@backstage/plugin-signals-node';
import type { Knex } from 'knex';
import request from 'supertest';
import { startBackend, type Harness } from '../testUtils/backend';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhookBody, signalSourcesModule, signedPushSource } from '../testUtils/pushSources';
import { RiskChangePublisher, readLiveConfig } from './live';
import { watchRiskChanges } from './liveStore';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { RiskChangeReads } from '../store/riskChangeReads';
import { ConfigReader } from '@backstage/config';

/**
 * Issue 18 part 4: live push to the portal. The writes that change an entity's
 * risk publish one data-less message per entity per window on the signals
 * service (channel `runtime-risk:<entityRef>`), only on real changes.
 */
const databases = TestDatabases.create({ ids: ['POSTGRES_15', 'SQLITE_3'] });
const SECRET = 'live-test-secret';
const PATH = '/api/runtime-risk/v1/signals/webhook/edr-push';
const WINDOW_MS = 300;

const CHECKOUT = 'runtime-risk:component:default/checkout';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe.each(databases.eachSupportedId())('live updates on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  const published: SignalPayload[] = [];
  const edr = new MemoryPullSource('edr');
  // what the signals service was asked to publish (the real one hands it to the events service)
  const capture = createServiceFactory({
    service: signalsServiceRef,
    deps: {},
    factory: () => ({
      async publish(signal: SignalPayload) {
        published.push(signal);
      },
    }),
  });

  /** Waits until something was published (or `ms` passed), then one more window, and takes what came. */
  const take = async (ms = 3000) => {
    const until = Date.now() + ms;
    while (published.length === 0 && Date.now() < until) await sleep(20);
    await sleep(WINDOW_MS * 2);
    return published.splice(0).map(p => ({ channel: p.channel, message: p.message, recipients: p.recipients }));
  };
  /** Nothing published within a few windows. */
  const none = async () => {
    await sleep(WINDOW_MS * 3);
    return published.splice(0).map(p => p.channel);
  };

  const at = new Date(Date.now() - 60_000).toISOString();
  const delivery = (signals: unknown[], timestamp: number) => {
    const body = JSON.stringify({ signals });
    return { body, headers: { [TIMESTAMP_HEADER]: String(timestamp), [SIGNATURE_HEADER]: signWebhookBody(SECRET, body, timestamp) } };
  };
  let stamp = Math.floor(Date.now() / 1000);
  const push = async (signals: unknown[]) => {
    stamp += 1;
    const d = delivery(signals, stamp);
    const res = await request(harness.backend.server).post(PATH).set('Content-Type', 'application/json').set(d.headers).send(d.body);
    expect(res.status).toBe(202);
  };
  const onAppHost = (id: string, extra: Record<string, unknown> = {}) => ({
    ...signalInput(id, { hostname: 'app-01', severity: 'high' }),
    firstSeenAt: at,
    lastSeenAt: at,
    ...extra,
  });

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    harness = await startBackend({
      knex,
      sources: [edr],
      config: { runtimeRisk: { ingestion: { frequency: { seconds: 30 } }, live: { debounce: { milliseconds: WINDOW_MS } } } },
      features: [capture, signalSourcesModule('live-push', [signedPushSource({ id: 'edr-push', secret: SECRET })])],
    });
    await harness.runTask('runtime-risk-correlate');
    // the first rebuild fills an empty index: each entity once
    expect((await take()).map(p => p.channel).sort()).toEqual([
      'runtime-risk:component:default/checkout',
      'runtime-risk:component:default/orphan',
      'runtime-risk:component:default/payments',
      'runtime-risk:component:default/split',
    ]);
    // a push on a host no entity names publishes nothing (and creates the source's state: two
    // concurrent first deliveries of a new source race on that row on PostgreSQL, not the subject here)
    await push([{ ...signalInput('nowhere-1', { hostname: 'nowhere-01' }), firstSeenAt: at, lastSeenAt: at }]);
    expect(await none()).toEqual([]);
  });
  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('publishes one coalesced message for the entity a webhook push concerns, none for the others', async () => {
    // two deliveries within one window, two signals on app-01 (only checkout names it)
    await Promise.all([push([onAppHost('live-1'), onAppHost('live-2')]), push([onAppHost('live-3')])]);
    expect(await take()).toEqual([{ channel: CHECKOUT, message: { type: 'changed' }, recipients: { type: 'broadcast' } }]);
  });

  it('publishes nothing when a delivery repeats the stored state, and again when it changes it', async () => {
    await push([onAppHost('live-1'), onAppHost('live-2')]);
    expect(await none()).toEqual([]);
    await push([onAppHost('live-2', { status: 'resolved' })]);
    expect((await take()).map(p => p.channel)).toEqual([CHECKOUT]);
  });

  it('publishes nothing for an index rebuild that changes nothing', async () => {
    await harness.runTask('runtime-risk-correlate');
    await harness.runTask('runtime-risk-correlate');
    expect(await none()).toEqual([]);
  });

  it('publishes for the entities of a pulled batch, and once on runtime-risk:all when a source changes state', async () => {
    edr.pages = [{ signals: [{ ...signalInput('pull-1', { hostname: 'web-01' }), firstSeenAt: at, lastSeenAt: at }] }];
    await harness.runTask('runtime-risk-ingest-edr');
    // web-01: payments and split (checkout's web-010 is another host)
    expect((await take()).map(p => p.channel).sort()).toEqual([
      'runtime-risk:component:default/payments',
      'runtime-risk:component:default/split',
    ]);

    edr.failWith = new Error('vendor down');
    await harness.runTask('runtime-risk-ingest-edr'); // ok -> degraded
    expect((await take()).map(p => p.channel)).toEqual(['runtime-risk:all']);
    await harness.runTask('runtime-risk-ingest-edr'); // still degraded (2 failures): no change
    expect(await none()).toEqual([]);
    edr.failWith = undefined;
    await harness.runTask('runtime-risk-ingest-edr'); // degraded -> ok, nothing new fetched
    expect((await take()).map(p => p.channel)).toEqual(['runtime-risk:all']);
  });

  it('publishes for the entity of an exception when it is created and when its status changes', async () => {
    const sent: string[] = [];
    const publisher = new RiskChangePublisher({ signals: { publish: async p => void sent.push(p.channel) }, logger: mockServices.logger.mock(), debounceMs: 10_000 });
    const store = watchRiskChanges(
      await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex, migrations: { skip: true } }) }),
      { publisher, reads: new RiskChangeReads(knex), logger: mockServices.logger.mock() },
    );
    await store.insertException({
      id: 'live-e1',
      entityRef: 'component:default/payments',
      environment: 'production',
      reason: 'hotfix',
      requestedBy: 'user:default/a',
      status: 'pending',
      approvedBy: null,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      signalIds: null,
      maxLevel: null,
      createdAt: new Date().toISOString(),
    });
    await publisher.flush();
    expect(sent.splice(0)).toEqual(['runtime-risk:component:default/payments']);
    // a transition that does not apply (not pending) changes nothing
    expect(await store.transitionException({ id: 'live-e1', from: ['approved'], to: 'revoked', by: 'user:default/b', at: new Date().toISOString() })).toBe(false);
    await sleep(50);
    await publisher.flush();
    expect(sent.splice(0)).toEqual([]);
    expect(
      await store.transitionException({ id: 'live-e1', from: ['pending'], to: 'approved', by: 'user:default/b', approvedBy: 'user:default/b', at: new Date().toISOString() }),
    ).toBe(true);
    await sleep(50);
    await publisher.flush();
    expect(sent.splice(0)).toEqual(['runtime-risk:component:default/payments']);
    publisher.stop();
  });
});

describe('RiskChangePublisher', () => {
  const logger = mockServices.logger.mock();

  it('sends one message on runtime-risk:all instead of more than maxPerWindow', async () => {
    const sent: string[] = [];
    const publisher = new RiskChangePublisher({
      signals: { publish: async p => void sent.push(p.channel) },
      logger,
      debounceMs: 10_000,
      maxPerWindow: 3,
    });
    publisher.entitiesChanged(['component:default/a', 'Component:default/A', 'component:default/b']);
    await publisher.flush();
    expect(sent.sort()).toEqual(['runtime-risk:component:default/a', 'runtime-risk:component:default/b']);
    sent.length = 0;
    publisher.entitiesChanged(Array.from({ length: 5000 }, (_, i) => `component:default/e${i}`));
    await publisher.flush();
    expect(sent).toEqual(['runtime-risk:all']);
    publisher.stop();
  });

  it('never fails the caller when publishing fails, and sends nothing when disabled or without the service', async () => {
    const failing = new RiskChangePublisher({
      signals: { publish: async () => Promise.reject(new Error('no signals backend')) },
      logger,
      debounceMs: 1,
    });
    failing.entitiesChanged(['component:default/a']);
    await expect(failing.flush()).resolves.toBeUndefined();

    const sent: string[] = [];
    const off = new RiskChangePublisher({ signals: { publish: async p => void sent.push(p.channel) }, logger, enabled: false });
    off.entitiesChanged(['component:default/a']);
    off.allChanged();
    await off.flush();
    const absent = new RiskChangePublisher({ logger });
    absent.entitiesChanged(['component:default/a']);
    await absent.flush();
    expect(sent).toEqual([]);
  });

  it('reads runtimeRisk.live and names a bad key', () => {
    expect(readLiveConfig(new ConfigReader({}))).toEqual({ enabled: true, debounceMs: 500, maxPerWindow: 200 });
    expect(
      readLiveConfig(new ConfigReader({ runtimeRisk: { live: { enabled: false, debounce: { seconds: 2 }, maxPerWindow: 50 } } })),
    ).toEqual({ enabled: false, debounceMs: 2000, maxPerWindow: 50 });
    expect(() => readLiveConfig(new ConfigReader({ runtimeRisk: { live: { maxPerWindow: 0 } } }))).toThrow(/runtimeRisk\.live\.maxPerWindow/);
    expect(() => readLiveConfig(new ConfigReader({ runtimeRisk: { live: { debounce: 'soon' } } }))).toThrow(/runtimeRisk\.live\.debounce/);
  });
});
