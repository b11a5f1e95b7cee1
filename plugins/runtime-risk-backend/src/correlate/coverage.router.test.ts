import { TestDatabases, type TestBackend } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import request from 'supertest';
import { startBackend, type Harness } from '../testUtils/backend';
import { postGate, reasonCodes } from '../testUtils/gateRequests';
import { MemoryPullSource, PUSH_SECRET, component, sign, signalInput, testPushSource } from '../testUtils/fixtures';

/*
 * DESIGN "Coverage": a source covers the hosts it has reported (a signal on
 * them) within the coverage window; its being down or stale matters only to
 * entities with such a host. Push sources are never stale for being quiet,
 * unless they promised a heartbeat.
 */

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const HOUR = 3600_000;

const entities = [
  component('clean', { 'runtime-risk.io/hosts': 'clean-01' }),
  component('batchy', { 'runtime-risk.io/hosts': 'batch-01' }),
  component('half', { 'runtime-risk.io/hosts': 'clean-01, ghost-01' }),
  component('ghost', { 'runtime-risk.io/hosts': 'ghost-01, ghost-02' }),
  component('pushed', { 'runtime-risk.io/hosts': 'push-01' }),
  component('beating', { 'runtime-risk.io/hosts': 'beat-01' }),
];

describe.each(databases.eachSupportedId())('coverage through the router on %p', databaseId => {
  let knex: Knex;
  let harness: Harness;
  let server: TestBackend['server'];

  const gate = (name: string) => postGate(server, `component:default/${name}`);
  const codes = reasonCodes;
  const push = (source: string, path = '', body: unknown = {}) => {
    const text = JSON.stringify(body);
    return request(server)
      .post(`/api/runtime-risk/v1/signals/webhook/${source}${path}`)
      .set('content-type', 'application/json')
      .set('x-signature', sign(text))
      .send(text);
  };
  /** Moves a source's last success into the past (and invalidates cached gate inputs). */
  const quietFor = async (source: string, ms: number) => {
    await knex('runtime_risk_source_state')
      .where({ id: source })
      .update({ last_success_at: new Date(Date.now() - ms).toISOString() });
    await knex('runtime_risk_data_version').increment('version', 1);
  };

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signalInput('seen-clean', { hostname: 'clean-01', severity: 'low', status: 'resolved' })] }];
    const batch = new MemoryPullSource('batch');
    batch.pages = [{ signals: [signalInput('seen-batch', { hostname: 'batch-01', severity: 'low', status: 'resolved' })] }];
    harness = await startBackend({
      knex,
      sources: [edr, batch, testPushSource, { ...testPushSource, id: 'beat', heartbeatMs: 5 * 60_000 }],
      entities,
    });
    server = harness.backend.server;
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-ingest-batch');
    const seen = (id: string, hostname: string) => ({ signals: [signalInput(id, { hostname, severity: 'low', status: 'resolved' })] });
    expect((await push('hooks', '', seen('seen-push', 'push-01'))).status).toBe(202);
    expect((await push('beat', '', seen('seen-beat', 'beat-01'))).status).toBe(202);
    await harness.runTask('runtime-risk-correlate');
  });

  afterAll(async () => {
    await harness?.backend.stop();
  });

  it('a clean service stays proceed while an unrelated source is stale', async () => {
    await quietFor('batch', 2 * HOUR);
    const clean = await gate('clean');
    expect(clean.body.decision).toBe('proceed');
    expect(codes(clean.body)).toEqual(['no_active_signals']);
    // the stale source (2 hours without a success: also down) matters to the entity whose host it covers
    const batchy = await gate('batchy');
    expect(codes(batchy.body)).toEqual(['no_active_signals', 'source_unavailable', 'signals_stale']);
    expect(batchy.body.reasons.slice(1).map((r: { source: string }) => r.source)).toEqual(['batch', 'batch']);
    expect(batchy.body.decision).toBe('block');
  });

  it('a push source is never stale for being quiet', async () => {
    await quietFor('hooks', 2 * HOUR);
    const pushed = await gate('pushed');
    expect(pushed.body.decision).toBe('proceed');
    expect(codes(pushed.body)).toEqual(['no_active_signals']);
    expect(pushed.body.hosts).toEqual([{ id: 'push-01', matchedBy: 'annotation:runtime-risk.io/hosts', value: 'push-01', sources: ['hooks'] }]);
  });

  it('a push source with a heartbeat is stale once it misses it, until a signed heartbeat', async () => {
    expect(codes((await gate('beating')).body)).toEqual(['no_active_signals']);
    await quietFor('beat', 10 * 60_000);
    const missed = await gate('beating');
    expect(codes(missed.body)).toEqual(['no_active_signals', 'signals_stale']);
    expect(missed.body.reasons[1].message).toContain("Push source 'beat' missed its heartbeat");
    expect(missed.body.decision).toBe('approval_required');

    const unsigned = await request(server).post('/api/runtime-risk/v1/signals/webhook/beat/heartbeat').send('{}');
    expect(unsigned.status).toBe(401);
    expect((await push('nope', '/heartbeat')).status).toBe(404);
    const beat = await push('beat', '/heartbeat');
    expect(beat.status).toBe(202);
    expect(beat.body.at).toEqual(expect.any(String));
    const back = await gate('beating');
    expect(codes(back.body)).toEqual(['no_active_signals']);
    expect(back.body.decision).toBe('proceed');
  });

  it('decides on the covered hosts and names the unseen ones in partial_coverage', async () => {
    const half = await gate('half');
    expect(half.body.decision).toBe('proceed');
    expect(half.body.riskLevel).toBe('low');
    expect(codes(half.body)).toEqual(['no_active_signals', 'partial_coverage']);
    expect(half.body.reasons[1].message).toContain('ghost-01');
    expect(half.body.hosts.map((h: { id: string }) => h.id)).toEqual(['clean-01', 'ghost-01']);
  });

  it('is uncorrelated when no source has seen any of its hosts, naming them', async () => {
    const ghost = await gate('ghost');
    expect(ghost.body.riskLevel).toBe('unknown');
    expect(codes(ghost.body)).toEqual(['uncorrelated']);
    expect(ghost.body.reasons[0].message).toContain('hosts no source has seen: ghost-01, ghost-02');
  });
});
