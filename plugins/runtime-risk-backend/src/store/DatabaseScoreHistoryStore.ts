import type { DatabaseService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import type { Decision, RiskLevel } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { chunks, insertRows, type Row } from './db';
import { transaction } from './transaction';

/** The score snapshot tables (migration 20261204080000_score_snapshots). */
export const SCORE_TABLES = {
  snapshots: 'runtime_risk_score_snapshots',
  latest: 'runtime_risk_score_latest',
} as const;

/** The risk of one entity in one environment at one time. */
export interface ScoreSnapshot {
  entityRef: string;
  environment: string;
  /** ISO 8601 UTC. */
  at: string;
  score: number | null;
  riskLevel: RiskLevel;
  decision: Decision;
}

/**
 * Score snapshots for the "Risk over time" chart (issue 19 part 5). Not a gate
 * input: writes do not bump the data version (the gate's cache stays valid).
 */
export interface ScoreHistoryStore {
  /** The last snapshot of every entity + environment, keyed by {@link snapshotKey}. */
  latestSnapshots(): Promise<Map<string, ScoreSnapshot>>;
  /** Appends snapshots and makes them the latest of their entity + environment, in one transaction. */
  insertSnapshots(snapshots: ScoreSnapshot[]): Promise<void>;
  /** Snapshots of an entity (optionally one environment) taken at or after `since`, oldest first. */
  listSnapshots(options: { entityRef: string; environment?: string; since: string }): Promise<ScoreSnapshot[]>;
  /** Deletes snapshots (and latest entries of entities not seen since) older than `before`; the number deleted. */
  deleteSnapshotsBefore(before: string): Promise<number>;
}

/** The key of an entity + environment in {@link ScoreHistoryStore.latestSnapshots}. */
export function snapshotKey(entityRef: string, environment: string): string {
  return `${entityRef}\u0000${environment}`;
}

const COLUMNS = ['entity_ref', 'environment', 'at', 'score', 'risk_level', 'decision'];

function toRow(s: ScoreSnapshot): Row {
  return { entity_ref: s.entityRef, environment: s.environment, at: s.at, score: s.score, risk_level: s.riskLevel, decision: s.decision };
}

function fromRow(row: Row): ScoreSnapshot {
  return {
    entityRef: String(row.entity_ref),
    environment: String(row.environment),
    at: String(row.at),
    score: row.score === null || row.score === undefined ? null : Number(row.score),
    riskLevel: String(row.risk_level) as RiskLevel,
    decision: String(row.decision) as Decision,
  };
}

/** {@link ScoreHistoryStore} on knex (SQLite and PostgreSQL); the tables are created by the store's migrations. */
export class DatabaseScoreHistoryStore implements ScoreHistoryStore {
  /** On the plugin's database; call after `DatabaseRuntimeRiskStore.create` (which runs the migrations). */
  static async create(options: { database: DatabaseService }): Promise<DatabaseScoreHistoryStore> {
    return new DatabaseScoreHistoryStore(await options.database.getClient());
  }

  constructor(private readonly db: Knex) {}

  async latestSnapshots(): Promise<Map<string, ScoreSnapshot>> {
    const rows: Row[] = await this.db(SCORE_TABLES.latest).select(COLUMNS);
    return new Map(rows.map(fromRow).map(s => [snapshotKey(s.entityRef, s.environment), s]));
  }

  async insertSnapshots(snapshots: ScoreSnapshot[]): Promise<void> {
    if (snapshots.length === 0) return;
    // one row per entity + environment in the latest table: the newest of this batch
    const newest = new Map<string, ScoreSnapshot>();
    for (const s of snapshots) {
      const key = snapshotKey(s.entityRef, s.environment);
      const seen = newest.get(key);
      if (!seen || seen.at <= s.at) newest.set(key, s);
    }
    await transaction(this.db, async tx => {
      await insertRows(tx, SCORE_TABLES.snapshots, COLUMNS, snapshots.map(toRow));
      await insertRows(tx, SCORE_TABLES.latest, COLUMNS, [...newest.values()].map(toRow), { conflictKeys: ['entity_ref', 'environment'] });
    });
  }

  async listSnapshots(options: { entityRef: string; environment?: string; since: string }): Promise<ScoreSnapshot[]> {
    const query = this.db(SCORE_TABLES.snapshots)
      .where('entity_ref', options.entityRef)
      .andWhere('at', '>=', options.since)
      .select(COLUMNS)
      .orderBy([
        { column: 'at', order: 'asc' },
        { column: 'environment', order: 'asc' },
      ]);
    if (options.environment !== undefined) query.andWhere('environment', options.environment);
    return ((await query) as Row[]).map(fromRow);
  }

  async deleteSnapshotsBefore(before: string): Promise<number> {
    // bounded statements: a long outage of the sweep must not make one huge delete
    let deleted = 0;
    for (;;) {
      const ids: Row[] = await this.db(SCORE_TABLES.snapshots).where('at', '<', before).select('id').limit(5000);
      if (ids.length === 0) break;
      for (const chunk of chunks(ids.map(r => r.id as number | string), 500)) {
        deleted += await this.db(SCORE_TABLES.snapshots).whereIn('id', chunk).delete();
      }
    }
    // an entity + environment with no snapshot within the retention is gone from the index
    await this.db(SCORE_TABLES.latest).where('at', '<', before).delete();
    return deleted;
  }
}
