import type { DatabaseService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { TABLES, chunks, inListSize, json, str, type Row } from './db';

/** What of a stored signal the engine and the correlation read (to tell a real change from a repeat). */
export type StoredSignalState = Pick<
  Signal,
  'id' | 'severity' | 'confidence' | 'status' | 'title' | 'firstSeenAt' | 'lastSeenAt' | 'techniques' | 'asset' | 'indicators'
> & { updatedAt: string | null };

/**
 * The reads that tell which entities a write concerns (issue 18 part 4, live
 * updates): the entities whose index names a host value (the reverse of the
 * entity index, by `runtime_risk_entity_hosts.value`'s index) and the stored
 * state of signals by id (before a batch replaces it).
 */
export class RiskChangeReads {
  constructor(private readonly db: Knex) {}

  static async create(database: DatabaseService): Promise<RiskChangeReads> {
    return new RiskChangeReads(await database.getClient());
  }

  /** The entities (and the host value) whose index names one of `values` (exact, as indexed). */
  async findEntitiesByHostValues(values: string[]): Promise<{ entityRef: string; value: string }[]> {
    const distinct = [...new Set(values.filter(Boolean))];
    const out: { entityRef: string; value: string }[] = [];
    for (const chunk of chunks(distinct, inListSize(this.db))) {
      const rows: Row[] = await this.db(TABLES.entityHosts).distinct('entity_ref', 'value').whereIn('value', chunk);
      for (const r of rows) out.push({ entityRef: str(r.entity_ref), value: str(r.value) });
    }
    return out;
  }

  /** The stored state of the signals with these ids (absent ones are new). */
  async storedSignals(ids: string[]): Promise<Map<string, StoredSignalState>> {
    const out = new Map<string, StoredSignalState>();
    for (const chunk of chunks([...new Set(ids)], inListSize(this.db))) {
      const rows: Row[] = await this.db(TABLES.signals)
        .select('id', 'severity', 'confidence', 'status', 'title', 'first_seen_at', 'last_seen_at', 'techniques', 'asset', 'indicators', 'updated_at')
        .whereIn('id', chunk);
      for (const r of rows) {
        const s: StoredSignalState = {
          id: str(r.id),
          severity: str(r.severity) as Signal['severity'],
          confidence: Number(r.confidence),
          status: str(r.status) as Signal['status'],
          title: str(r.title),
          firstSeenAt: str(r.first_seen_at),
          lastSeenAt: str(r.last_seen_at),
          techniques: json<string[]>(r.techniques, []),
          asset: json<Signal['asset']>(r.asset, { ips: [], macs: [] }),
          updatedAt: r.updated_at === null || r.updated_at === undefined ? null : str(r.updated_at),
        };
        if (r.indicators !== null && r.indicators !== undefined) s.indicators = json<NonNullable<Signal['indicators']>>(r.indicators, {});
        out.set(s.id, s);
      }
    }
    return out;
  }
}
