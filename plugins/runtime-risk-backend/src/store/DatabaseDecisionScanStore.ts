import type { Knex } from 'knex';
import { TABLES, str, type Row } from './db';
import { loadInputBodies } from './decisionInputs';
import type { DecisionScanRow, DecisionScanStore, PendingDecisionHead } from './types';

const isTrue = (v: unknown) => v === true || v === 1 || v === '1';
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));
/** The JSON text of a column (PostgreSQL drivers may hand back parsed JSON for json-typed expressions). */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v ?? null));

/**
 * {@link DecisionScanStore} on knex: reads over many decisions, selecting only
 * the columns the caller uses and leaving JSON columns as stored text (a
 * backtest parses the reasons of changed decisions only).
 */
export class DatabaseDecisionScanStore implements DecisionScanStore {
  constructor(private readonly db: Knex) {}

  async scanDecisions(options: {
    since: string;
    until: string;
    environment?: string;
    entityRef?: string;
    afterSeq?: number;
    limit: number;
  }): Promise<DecisionScanRow[]> {
    const q = this.db(TABLES.decisions)
      .where('created_at', '>=', options.since)
      .where('created_at', '<', options.until);
    if (options.environment) q.where('environment', options.environment);
    if (options.entityRef) q.where('entity_ref', options.entityRef);
    if (options.afterSeq !== undefined) q.where('seq', '>', options.afterSeq);
    const rows: Row[] = await q
      .select(
        'seq',
        'id',
        'entity_ref',
        'environment',
        'decision',
        'risk_level',
        'score',
        'dry_run',
        'created_at',
        'policy_hash',
        'reasons',
        'inputs',
        'inputs_hash',
        // the answer only where it says what a dry run would have been
        this.db.raw('case when dry_run = ? then result else null end as result', [true]),
      )
      .orderBy('seq', 'asc')
      .limit(options.limit);
    // the page's shared inputs, each distinct hash read once (many decisions share one)
    const hashes = rows.map(r => r.inputs_hash).filter((h): h is string => typeof h === 'string');
    const bodies = hashes.length ? await loadInputBodies(this.db, hashes) : undefined;
    return rows.map(r => ({
      seq: Number(r.seq),
      id: str(r.id),
      entityRef: str(r.entity_ref),
      environment: str(r.environment),
      decision: str(r.decision),
      riskLevel: str(r.risk_level),
      score: numOrNull(r.score),
      dryRun: isTrue(r.dry_run),
      createdAt: str(r.created_at),
      policyHash: str(r.policy_hash),
      reasons: text(r.reasons),
      inputs: text(r.inputs),
      inputsHash: r.inputs_hash === null || r.inputs_hash === undefined ? null : str(r.inputs_hash),
      sharedInputs: r.inputs_hash === null || r.inputs_hash === undefined ? null : (bodies?.get(str(r.inputs_hash)) ?? null),
      result: r.result === null || r.result === undefined ? null : text(r.result),
    }));
  }

  async listPendingDecisionHeads(options: { environment?: string }): Promise<PendingDecisionHead[]> {
    const q = this.db(TABLES.decisions).where({ status: 'pending' });
    if (options.environment) q.where('environment', options.environment);
    const rows: Row[] = await q
      .select('id', 'entity_ref', 'environment', 'decision', 'risk_level', 'score', 'created_at')
      .orderBy('seq', 'asc');
    return rows.map(r => ({
      id: str(r.id),
      entityRef: str(r.entity_ref),
      environment: str(r.environment),
      decision: str(r.decision),
      riskLevel: str(r.risk_level),
      score: numOrNull(r.score),
      createdAt: str(r.created_at),
    }));
  }

  async listDryRunOutcomes(options: {
    since: string;
    environment?: string;
  }): Promise<{ entityRef: string; environment: string; createdAt: string; wouldHaveBeen: string | null }[]> {
    const q = this.db(TABLES.decisions).where('created_at', '>=', options.since).where('dry_run', true);
    if (options.environment) q.where('environment', options.environment);
    const rows: Row[] = await q.select('entity_ref', 'environment', 'created_at', 'result').orderBy('seq', 'asc');
    return rows.map(r => {
      let wouldHaveBeen: string | null = null;
      try {
        const result = (typeof r.result === 'string' ? JSON.parse(r.result) : r.result) as { wouldHaveBeen?: unknown } | null;
        if (typeof result?.wouldHaveBeen === 'string') wouldHaveBeen = result.wouldHaveBeen;
      } catch {
        // an unreadable answer counts as unknown
      }
      return { entityRef: str(r.entity_ref), environment: str(r.environment), createdAt: str(r.created_at), wouldHaveBeen };
    });
  }
}
