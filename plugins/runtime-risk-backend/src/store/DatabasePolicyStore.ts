import type { Knex } from 'knex';
import { TABLES, isPostgres, json, str, strOrNull, type Row } from './db';
import { transaction } from './transaction';
import type { PolicyStore, StoredPolicy, StoredPolicySummary } from './types';

/** The policy history's tables (migration `20261204070000_policy_history`). */
export const POLICY_TABLES = {
  policies: 'runtime_risk_policies',
  periods: 'runtime_risk_policy_periods',
} as const;

function periodsByHash(rows: Row[]): Map<string, { from: string; until: string | null }[]> {
  const out = new Map<string, { from: string; until: string | null }[]>();
  for (const r of rows) {
    const list = out.get(str(r.hash)) ?? [];
    list.push({ from: str(r.active_from), until: strOrNull(r.active_until) });
    out.set(str(r.hash), list);
  }
  return out;
}

/** {@link PolicyStore} on knex: every distinct policy by hash, its body and the periods it was active. */
export class DatabasePolicyStore implements PolicyStore {
  constructor(private readonly db: Knex) {}

  async recordActivePolicy(policy: { hash: string; id: string; body: unknown; at: string }): Promise<boolean> {
    return transaction(this.db, async tx => {
      // replicas starting together serialize here (PostgreSQL; SQLite has one writer anyway)
      if (isPostgres(tx)) await tx(TABLES.dataVersion).where({ id: 1 }).forUpdate().first('id');
      await tx(POLICY_TABLES.policies)
        .insert({ hash: policy.hash, policy_id: policy.id, body: JSON.stringify(policy.body), first_active_at: policy.at })
        .onConflict('hash')
        .ignore();
      const open: Row[] = await tx(POLICY_TABLES.periods).whereNull('active_until').select('seq', 'hash');
      if (open.some(r => str(r.hash) === policy.hash)) {
        // still the active one; close any other left open by a replica with another policy
        const others = open.filter(r => str(r.hash) !== policy.hash).map(r => Number(r.seq));
        if (others.length) await tx(POLICY_TABLES.periods).whereIn('seq', others).update({ active_until: policy.at });
        return false;
      }
      if (open.length) await tx(POLICY_TABLES.periods).whereNull('active_until').update({ active_until: policy.at });
      await tx(POLICY_TABLES.periods).insert({ hash: policy.hash, active_from: policy.at, active_until: null });
      return true;
    });
  }

  async listPolicies(): Promise<StoredPolicySummary[]> {
    const [rows, periods]: [Row[], Row[]] = await Promise.all([
      this.db(POLICY_TABLES.policies).select('hash', 'policy_id', 'first_active_at'),
      this.db(POLICY_TABLES.periods).select('hash', 'active_from', 'active_until').orderBy('seq', 'asc'),
    ]);
    const byHash = periodsByHash(periods);
    const out = rows.map(r => ({
      hash: str(r.hash),
      id: str(r.policy_id),
      firstActiveAt: str(r.first_active_at),
      periods: byHash.get(str(r.hash)) ?? [],
    }));
    const lastFrom = (p: StoredPolicySummary) => p.periods[p.periods.length - 1]?.from ?? p.firstActiveAt;
    // the active (or most recently active) policy first
    return out.sort((a, b) => (lastFrom(a) < lastFrom(b) ? 1 : lastFrom(a) > lastFrom(b) ? -1 : a.hash < b.hash ? -1 : 1));
  }

  async getPolicy(hash: string): Promise<StoredPolicy | undefined> {
    const row: Row | undefined = await this.db(POLICY_TABLES.policies).where({ hash }).first();
    if (!row) return undefined;
    const periods: Row[] = await this.db(POLICY_TABLES.periods)
      .where({ hash })
      .select('hash', 'active_from', 'active_until')
      .orderBy('seq', 'asc');
    return {
      hash: str(row.hash),
      id: str(row.policy_id),
      firstActiveAt: str(row.first_active_at),
      periods: periodsByHash(periods).get(hash) ?? [],
      body: json<unknown>(row.body, null),
    };
  }
}
