import type { LoggerService } from '@backstage/backend-plugin-api';
import { evaluate } from '../engine';
import type { IndexedEntity } from '../store/types';
import { snapshotKey, type ScoreHistoryStore, type ScoreSnapshot } from '../store/DatabaseScoreHistoryStore';
import type { RiskService } from './RiskService';
import type { GateReadSession } from './GateReads';

/** Default of `runtimeRisk.history.retention`: 30 days. */
export const DEFAULT_HISTORY_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** Entities evaluated in one read session of the gate's cached inputs. */
const SESSION_ENTITIES = 100;
/** The least score movement (points of 0..100) that counts as a change between hourly points. */
export const MIN_SCORE_CHANGE = 1;
/** A snapshot is written at least this often per entity + environment, changed or not. */
export const SNAPSHOT_INTERVAL_MS = 3600 * 1000;

/**
 * Records each indexed entity's risk per environment (issue 19 part 5), on a
 * schedule: a snapshot when the level or decision differs from the last stored
 * one or the score moved by a point or more, and at least hourly (so a chart line never has a gap longer than
 * an hour); then drops snapshots older than the retention. Cheap by design: the
 * inputs are the gate's cached reads (never a vendor, never the catalog), the
 * comparison is with one read of the latest snapshot per entity + environment,
 * and only changes (plus the hourly point) are written, in one transaction.
 */
export class ScoreHistory {
  constructor(
    private readonly options: {
      risk: RiskService;
      store: { listEntityIndex(): Promise<IndexedEntity[]> };
      history: ScoreHistoryStore;
      /** How long snapshots are kept (ms). */
      retentionMs?: number;
      /**
       * How often {@link snapshot} runs (ms): an unchanged score is written again
       * once its last snapshot is older than an hour minus this, so consecutive
       * points are never more than an hour apart.
       */
      frequencyMs?: number;
      clock?: () => Date;
      logger?: LoggerService;
    },
  ) {}

  /** One pass: evaluates every indexed entity in every environment, writes what changed, sweeps old snapshots. */
  async snapshot(): Promise<{ evaluated: number; written: number; deleted: number }> {
    const { risk, history } = this.options;
    const now = this.options.clock?.() ?? new Date();
    const at = now.toISOString();
    const nowMs = now.getTime();
    const repeatAfterMs = Math.max(60_000, SNAPSHOT_INTERVAL_MS - (this.options.frequencyMs ?? 0));
    const environments = Object.keys(risk.policy.environments).sort();
    const [entities, latest] = await Promise.all([this.options.store.listEntityIndex(), history.latestSnapshots()]);
    const changed: ScoreSnapshot[] = [];
    let evaluated = 0;
    let session: GateReadSession | undefined;
    for (const [i, entity] of entities.entries()) {
      // one read session (one data version read) per batch of entities, not per evaluation
      if (i % SESSION_ENTITIES === 0) session = await risk.readSession();
      for (const environment of environments) {
        let current: ScoreSnapshot;
        try {
          const evaluation = evaluate(await risk.buildInput(entity, environment, false, now, session), risk.policy);
          current = {
            entityRef: entity.entityRef,
            environment,
            at,
            score: evaluation.score,
            riskLevel: evaluation.riskLevel,
            decision: evaluation.decision,
          };
        } catch (e) {
          // one entity that cannot be evaluated (e.g. bad stored data) never stops the others
          this.options.logger?.warn(`runtime-risk score snapshot of ${entity.entityRef} in ${environment} failed: ${(e as Error).message}`);
          continue;
        }
        evaluated += 1;
        const last = latest.get(snapshotKey(entity.entityRef, environment));
        if (!last || differs(last, current) || nowMs - Date.parse(last.at) >= repeatAfterMs) changed.push(current);
      }
    }
    await history.insertSnapshots(changed);
    const retentionMs = this.options.retentionMs ?? DEFAULT_HISTORY_RETENTION_MS;
    const deleted = await history.deleteSnapshotsBefore(new Date(nowMs - retentionMs).toISOString());
    this.options.logger?.debug(`runtime-risk score snapshots: ${evaluated} evaluated, ${changed.length} written, ${deleted} expired`);
    return { evaluated, written: changed.length, deleted };
  }
}

/**
 * A change worth a point on the chart: another level or decision, a score that
 * appeared or went away, or one that moved by at least {@link MIN_SCORE_CHANGE}
 * (scores decay continuously; a tenth of a point every run is not a change).
 */
function differs(a: ScoreSnapshot, b: ScoreSnapshot): boolean {
  if (a.riskLevel !== b.riskLevel || a.decision !== b.decision) return true;
  if (a.score === null || b.score === null) return a.score !== b.score;
  return Math.abs(a.score - b.score) >= MIN_SCORE_CHANGE;
}
