import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import { signalInput } from '../testUtils/fixtures';
import { startBackend, type Harness } from '../testUtils/backend';
import { HttpEdrSource, rowCounts, startFakeEdr, type EdrMode, type FakeEdr } from './helpers';

/**
 * Fault: the EDR API answers 500, 429, garbage and bad shapes for many
 * consecutive sync cycles. The gate never answers 5xx, applies the configured
 * source-down / stale failure modes, and the signals stored before the outage
 * stay as they were.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const USER = mockCredentials.user.header();
const FAULTS: EdrMode[] = ['500', '429', 'garbage', 'wrong-shape', 'hang-up'];

describe.each(databases.eachSupportedId())('EDR outage on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  let edr: FakeEdr;

  const gate = async (environment: string) => {
    const res = await request(harness.backend.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/payments', environment });
    return res;
  };
  const codes = (body: { reasons: { code: string; message: string }[] }) => body.reasons.map(r => r.code);

  afterEach(async () => {
    await harness?.backend.stop();
    await edr?.server.close();
  });

  it('keeps answering 200 with source_unavailable through 15 failed syncs, keeps the signals, then recovers', async () => {
    knex = await databases.init(databaseId);
    // one low signal on web-01: on its own, production proceeds
    edr = await startFakeEdr([[signalInput('low-1', { hostname: 'web-01', severity: 'low', confidence: 0.5 })]]);
    harness = await startBackend({ knex, sources: [new HttpEdrSource('edr', edr.server.url)] });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');

    const healthy = await gate('production');
    expect(healthy.status).toBe(200);
    expect(healthy.body.decision).toBe('proceed');
    expect(codes(healthy.body)).not.toContain('source_unavailable');

    const signalsBefore = await knex('runtime_risk_signals').select('id', 'last_seen_at', 'severity').orderBy('id');
    const cursorBefore = (await knex('runtime_risk_source_state').where({ id: 'edr' }).first()).cursor;
    expect(signalsBefore).toHaveLength(1);

    const requestsBefore = edr.server.requests.length;
    for (let cycle = 1; cycle <= 15; cycle++) {
      edr.mode = FAULTS[cycle % FAULTS.length];
      await harness.runTask('runtime-risk-ingest-edr');
      const prod = await gate('production');
      const staging = await gate('staging');
      expect([prod.status, staging.status]).toEqual([200, 200]);
      if (cycle >= 3) {
        // down after 3 consecutive failures: production blocks, staging proceeds with a warning
        expect(prod.body.decision).toBe('block');
        expect(codes(prod.body)).toContain('source_unavailable');
        expect(prod.body.reasons.find((r: { code: string }) => r.code === 'source_unavailable').message).toContain('edr');
        expect(staging.body.decision).toBe('proceed');
        expect(codes(staging.body)).toContain('source_unavailable');
      }
    }
    // the fake EDR was really called on every cycle (the runner did not give up)
    expect(edr.server.requests.length).toBeGreaterThanOrEqual(requestsBefore + 15);

    const sources = await request(harness.backend.server).get('/api/runtime-risk/v1/sources').set('Authorization', USER);
    expect(sources.status).toBe(200);
    expect(sources.body.items[0]).toMatchObject({ id: 'edr', status: 'down', consecutiveFailures: 15, cursor: cursorBefore });
    expect(sources.body.items[0].lastError).toEqual(expect.any(String));

    // stored signals and the cursor are untouched by the outage
    expect(await knex('runtime_risk_signals').select('id', 'last_seen_at', 'severity').orderBy('id')).toEqual(signalsBefore);
    expect((await knex('runtime_risk_source_state').where({ id: 'edr' }).first()).cursor).toBe(cursorBefore);

    // the vendor comes back: one good sync and the gate is back to normal
    edr.mode = 'ok';
    edr.pages.push([signalInput('low-2', { hostname: 'web-01', severity: 'low', confidence: 0.5 })]);
    await harness.runTask('runtime-risk-ingest-edr');
    const recovered = await gate('production');
    expect(recovered.status).toBe(200);
    expect(recovered.body.decision).toBe('proceed');
    expect(codes(recovered.body)).not.toContain('source_unavailable');
    expect(recovered.body.signals.count).toBe(2);
  });

  it('answers with the signals_stale mode when failures leave the data older than maxSignalAge', async () => {
    knex = await databases.init(databaseId);
    edr = await startFakeEdr([[signalInput('low-1', { hostname: 'web-01', severity: 'low', confidence: 0.5 })]]);
    // hourly source: two failures are not "down", but the data goes stale (production maxSignalAge 15 min)
    const source = new HttpEdrSource('edr', edr.server.url, { schedule: { frequency: { hours: 1 }, timeout: { minutes: 1 } } });
    harness = await startBackend({ knex, sources: [source] });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');

    for (const mode of ['429', '500'] as const) {
      edr.mode = mode;
      await harness.runTask('runtime-risk-ingest-edr');
    }
    // the last success was 20 minutes ago
    await knex('runtime_risk_source_state')
      .where({ id: 'edr' })
      .update({ last_success_at: new Date(Date.now() - 20 * 60_000).toISOString() });
    const before = await rowCounts(knex);

    const prod = await gate('production');
    const staging = await gate('staging');
    expect([prod.status, staging.status]).toEqual([200, 200]);
    expect(prod.body.decision).toBe('approval_required');
    expect(prod.body.signals.stale).toBe(true);
    expect(codes(prod.body)).toContain('signals_stale');
    expect(codes(prod.body)).not.toContain('source_unavailable');
    expect(staging.body.decision).toBe('proceed');
    // staging's maxSignalAge is one hour: 20 minutes is fresh there
    expect(codes(staging.body)).not.toContain('signals_stale');

    // only the two decisions were written
    const after = await rowCounts(knex);
    expect(after.runtime_risk_decisions).toBe(before.runtime_risk_decisions + 2);
    expect(after.runtime_risk_signals).toBe(before.runtime_risk_signals);
  });
});
