import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import type { EntitySourceHealth } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';

/** A pull source whose data is as of `asOfAgoMs` before each fetch (a batch feed). */
class DelayedFeed extends MemoryPullSource {
  constructor(
    id: string,
    private readonly asOfAgoMs: number,
  ) {
    super(id);
  }

  override async fetch(options: { cursor: string | null }) {
    const page = await super.fetch(options);
    return { ...page, asOf: new Date(Date.now() - this.asOfAgoMs).toISOString() };
  }
}

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const USER = mockCredentials.user.header();

/**
 * Issue 16 part 1 / issue 19 part 2: the entity's risk answer and the gate answer
 * carry the health and data age of the sources that cover the entity, with the
 * environments each one is stale for (the default policy: production allows 15
 * minutes, staging an hour).
 */
describe.each(databases.eachSupportedId())('per-entity source health on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    // `feed` covers payments (web-01) with data 30 minutes old: stale for production, fresh for staging
    const feed = new DelayedFeed('feed', 30 * 60_000);
    feed.pages = [{ signals: [signalInput('feed-1', { hostname: 'web-01', severity: 'low', confidence: 0.5 })] }];
    // `live` covers checkout (app-01) only, freshly synced
    const live = new MemoryPullSource('live');
    live.pages = [{ signals: [signalInput('live-1', { hostname: 'app-01', severity: 'low', confidence: 0.5 })] }];
    harness = await startBackend({ knex, sources: [feed, live] });
    await harness.runTask('runtime-risk-ingest-feed');
    await harness.runTask('runtime-risk-ingest-live');
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  const server = () => harness.backend.server;

  it('the risk answer names only the covering source, with its data age and "stale for production"', async () => {
    const res = await request(server()).get('/api/runtime-risk/v1/entities/component/default/payments/risk?environment=staging').set('Authorization', USER);
    expect(res.status).toBe(200);
    const sources = res.body.sources as EntitySourceHealth[];
    expect(sources.map(s => s.id)).toEqual(['feed']);
    const [feed] = sources;
    expect(feed).toMatchObject({ id: 'feed', vendor: 'memory', status: 'ok', staleFor: ['production'] });
    expect(feed.lastSuccessAt).not.toBeNull();
    // the data is as of the feed's own time, 30 minutes before the sync
    expect(Date.parse(feed.lastSuccessAt!) - Date.parse(feed.newestDataAt!)).toBeGreaterThanOrEqual(30 * 60_000 - 1000);
    expect(feed.dataAgeSeconds).toBeGreaterThanOrEqual(30 * 60 - 1);
    expect(feed.dataAgeSeconds).toBeLessThan(40 * 60);
    // staging allows an hour: the answer there carries no signals_stale
    expect(res.body.reasons.map((r: { code: string }) => r.code)).not.toContain('signals_stale');
  });

  it('a source that does not cover the entity is not in its answer; a fresh one is stale nowhere', async () => {
    const res = await request(server()).get('/api/runtime-risk/v1/entities/component/default/checkout/risk').set('Authorization', USER);
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { environment: string }) => i.environment)).toEqual(['production', 'staging']);
    for (const item of res.body.items) {
      expect(item.sources).toEqual([
        expect.objectContaining({ id: 'live', vendor: 'memory', status: 'ok', staleFor: [], dataAgeSeconds: expect.any(Number) }),
      ]);
      expect(item.sources[0].dataAgeSeconds).toBeLessThan(120);
    }
  });

  it('an entity no source covers answers no sources', async () => {
    const res = await request(server()).get('/api/runtime-risk/v1/entities/component/default/orphan/risk?environment=production').set('Authorization', USER);
    expect(res.status).toBe(200);
    expect(res.body.sources).toEqual([]);
  });

  it('the gate answer carries the same health, and staleFor agrees with its signals_stale reason', async () => {
    const res = await request(server())
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/payments', environment: 'production' });
    expect(res.status).toBe(200);
    expect(GateDecisionSchema.parse(res.body).sources).toEqual([expect.objectContaining({ id: 'feed', staleFor: ['production'] })]);
    expect(res.body.reasons).toContainEqual(expect.objectContaining({ code: 'signals_stale', source: 'feed' }));
    // the recorded decision answers it too
    const stored = await request(server()).get(`/api/runtime-risk/v1/decisions/${res.body.decisionId}`).set('Authorization', USER);
    expect(stored.body.sources).toEqual(res.body.sources);
  });

  it('the admin source list says what each source is stale for too', async () => {
    const res = await request(server()).get('/api/runtime-risk/v1/sources').set('Authorization', USER);
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.items.map((s: { id: string; staleFor: string[] }) => [s.id, s.staleFor]));
    expect(byId).toEqual({ feed: ['production'], live: [] });
  });
});
