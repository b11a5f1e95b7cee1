import { TestDatabases } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import { T0, createRiskServices, edrSignal, iso } from '../testUtils/services';
import { DatabaseScoreHistoryStore, SCORE_TABLES, snapshotKey, type ScoreSnapshot } from '../store/DatabaseScoreHistoryStore';
import { ScoreHistory } from './ScoreHistory';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

async function countSnapshots(knex: Knex): Promise<number> {
  const row = await knex(SCORE_TABLES.snapshots).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

function snap(environment: string, at: number, score: number | null, overrides: Partial<ScoreSnapshot> = {}): ScoreSnapshot {
  return { entityRef: 'component:default/payments', environment, at: iso(at), score, riskLevel: 'low', decision: 'proceed', ...overrides };
}

describe.each(databases.eachSupportedId())('score snapshots on %p', databaseId => {
  it('the store keeps every snapshot, the latest per entity + environment, lists a window oldest first and sweeps by age', async () => {
    const knex = await databases.init(databaseId);
    await createRiskServices(knex); // runs the migrations
    const history = new DatabaseScoreHistoryStore(knex);
    await history.insertSnapshots([snap('production', T0, 10), snap('staging', T0, 10)]);
    await history.insertSnapshots([snap('production', T0 + HOUR, 42.5, { riskLevel: 'moderate', decision: 'approval_required' })]);
    await history.insertSnapshots([snap('production', T0 + 2 * HOUR, null, { riskLevel: 'unknown', decision: 'block' })]);
    expect(await countSnapshots(knex)).toBe(4);

    const latest = await history.latestSnapshots();
    expect(latest.size).toBe(2);
    expect(latest.get(snapshotKey('component:default/payments', 'production'))).toEqual(
      snap('production', T0 + 2 * HOUR, null, { riskLevel: 'unknown', decision: 'block' }),
    );
    expect(latest.get(snapshotKey('component:default/payments', 'staging'))?.score).toBe(10);

    const all = await history.listSnapshots({ entityRef: 'component:default/payments', since: iso(T0) });
    expect(all.map(s => [s.environment, s.at, s.score])).toEqual([
      ['production', iso(T0), 10],
      ['staging', iso(T0), 10],
      ['production', iso(T0 + HOUR), 42.5],
      ['production', iso(T0 + 2 * HOUR), null],
    ]);
    expect((await history.listSnapshots({ entityRef: 'component:default/payments', environment: 'staging', since: iso(T0) })).length).toBe(1);
    expect((await history.listSnapshots({ entityRef: 'component:default/payments', since: iso(T0 + 30 * MINUTE) })).length).toBe(2);
    expect(await history.listSnapshots({ entityRef: 'component:default/other', since: iso(T0) })).toEqual([]);

    // retention: everything before T0 + 90 minutes goes; staging's latest (T0) with it
    expect(await history.deleteSnapshotsBefore(iso(T0 + 90 * MINUTE))).toBe(3);
    expect(await countSnapshots(knex)).toBe(1);
    expect([...(await history.latestSnapshots()).keys()]).toEqual([snapshotKey('component:default/payments', 'production')]);
  });

  it('the writer stores changes only, an unchanged score hourly, and sweeps past the retention', async () => {
    const knex = await databases.init(databaseId);
    const { store, time, clock, risk } = await createRiskServices(knex);
    const history = new DatabaseScoreHistoryStore(knex);
    const writer = new ScoreHistory({ risk, store, history, clock, frequencyMs: 5 * MINUTE, retentionMs: 3 * HOUR });

    // the source syncs before every pass (it would be down after 3 missed 30 s syncs)
    const sync = (ms: number) => store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [], cursor: String(ms), at: iso(ms) });

    // a first pass writes every entity + environment (payments in production and staging)
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('low-1', 'low', T0)], cursor: '1', at: iso(T0) });
    expect(await writer.snapshot()).toEqual({ evaluated: 2, written: 2, deleted: 0 });

    // five minutes later the low detection decayed a little (less than a point): nothing written
    time.now = T0 + 5 * MINUTE;
    await sync(time.now);
    expect((await writer.snapshot()).written).toBe(0);

    // a critical detection changes the score in both environments: both written
    time.now = T0 + 10 * MINUTE;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [edrSignal('crit-1', 'critical', time.now)], cursor: '2', at: iso(time.now) });
    const changed = await writer.snapshot();
    expect(changed.written).toBe(2);
    const afterChange = await history.listSnapshots({ entityRef: 'component:default/payments', environment: 'production', since: iso(T0) });
    expect(afterChange.map(s => s.at)).toEqual([iso(T0), iso(T0 + 10 * MINUTE)]);
    expect(afterChange[1].score!).toBeGreaterThan(afterChange[0].score!);
    expect(afterChange[1]).toMatchObject({ riskLevel: 'high', decision: 'block' });

    // the source keeps syncing and the score stays put: no write before the hourly point
    const before = await countSnapshots(knex);
    time.now = T0 + 40 * MINUTE;
    await sync(time.now);
    // a decaying score that moved by less than a point is not a change
    expect((await writer.snapshot()).written).toBe(0);
    const midScore = (await history.latestSnapshots()).get(snapshotKey('component:default/payments', 'production'))!;
    expect(midScore.at).toBe(iso(T0 + 10 * MINUTE));

    // an hour (less one run) after the last point, an unchanged score is written again
    time.now = Date.parse(midScore.at) + 56 * MINUTE;
    await sync(time.now);
    const hourly = await writer.snapshot();
    expect(hourly.written).toBe(2);
    expect(await countSnapshots(knex)).toBe(before + 2);
    const latest = (await history.latestSnapshots()).get(snapshotKey('component:default/payments', 'production'))!;
    expect(latest.at).toBe(iso(time.now));

    // retention of 3 hours: the first points go
    const total = await countSnapshots(knex);
    time.now = T0 + 3 * HOUR + 12 * MINUTE;
    await sync(time.now);
    const swept = await writer.snapshot();
    expect(swept.deleted).toBe(4); // T0 and T0 + 10 min, both environments
    expect(await countSnapshots(knex)).toBe(total + swept.written - swept.deleted);
    const left = await history.listSnapshots({ entityRef: 'component:default/payments', since: iso(0) });
    expect(left.every(s => Date.parse(s.at) >= T0 + 12 * MINUTE)).toBe(true);
  });
});
