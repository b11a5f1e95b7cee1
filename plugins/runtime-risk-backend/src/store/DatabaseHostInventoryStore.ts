import type { Knex } from 'knex';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { IN_CHUNK, chunks, inListSize, insertRows, isPostgres, json, jsonText, str, strOrNull, type Row } from './db';
import { pgDeleteWhereIn, pgSelectWhereIn } from './bulkWrite';
import { pgCopyRows, pgCopyUpsert } from './copyRows';
import { assetIdentifiers } from './signalIdentifiers';
import { plus } from './DatabaseSourceStore';
import { transaction } from './transaction';
import type { HostInventoryState, HostInventoryStore, IdentifiedHost, InventoryHost } from './types';

/** The vendor host inventory's tables (migration `20261204010000_host_inventory`). */
export const HOST_TABLES = {
  hosts: 'runtime_risk_hosts',
  identifiers: 'runtime_risk_host_identifiers',
  state: 'runtime_risk_host_inventory_state',
} as const;

const HOST_COLUMNS = [
  'source',
  'source_id',
  'hostname',
  'fqdn',
  'instance_id',
  'k8s_cluster',
  'k8s_namespace',
  'k8s_pod',
  'k8s_node',
  'labels',
  'asset',
  'last_seen_at',
  'listed_at',
];
const HOST_JSON_COLUMNS = ['labels', 'asset'];
const IDENTIFIER_COLUMNS = ['source', 'source_id', 'kind', 'value'];

/** Longest value of a string column (255), cut rather than fail the page. */
function cut(v: string | undefined | null, max = 255): string | null {
  return v ? v.slice(0, max) : null;
}

function hostToRow(source: string, h: Omit<InventoryHost, 'source' | 'listedAt'>, listedAt: string, nest: boolean): Row {
  const k8s = h.asset.k8s;
  return {
    source,
    source_id: h.sourceId,
    hostname: cut(h.asset.hostname),
    fqdn: cut(h.asset.fqdn, 512),
    instance_id: cut(h.asset.instanceId),
    k8s_cluster: cut(k8s?.cluster),
    k8s_namespace: cut(k8s?.namespace),
    k8s_pod: cut(k8s?.pod),
    k8s_node: cut(k8s?.node),
    labels: k8s?.labels && Object.keys(k8s.labels).length ? jsonText(k8s.labels, nest) : null,
    asset: jsonText(h.asset, nest),
    last_seen_at: h.lastSeenAt ?? null,
    listed_at: listedAt,
  };
}

function rowToHost(r: Row): InventoryHost {
  return {
    source: str(r.source),
    sourceId: str(r.source_id),
    asset: json<Signal['asset']>(r.asset, { ips: [], macs: [] }),
    lastSeenAt: strOrNull(r.last_seen_at),
    listedAt: str(r.listed_at),
  };
}

function rowToState(r: Row): HostInventoryState {
  return {
    source: str(r.source),
    type: str(r.type),
    cursor: strOrNull(r.cursor),
    lastSuccessAt: strOrNull(r.last_success_at),
    lastAttemptAt: strOrNull(r.last_attempt_at),
    lastCompleteAt: strOrNull(r.last_complete_at),
    lastError: strOrNull(r.last_error),
    consecutiveFailures: Number(r.consecutive_failures ?? 0),
    rejectedCount: Number(r.rejected_count ?? 0),
  };
}

/**
 * {@link HostInventoryStore} on knex (SQLite and PostgreSQL). A page of hosts
 * and the inventory cursor it leads to commit in one transaction, so a failed
 * sync resumes from the last committed page; hosts are upserted by (source,
 * vendor host id); only a finished walk may delete hosts, those not listed for
 * longer than the retention (`pruneListedBefore`). Writes change gate inputs
 * (coverage), so they bump the data version.
 */
export class DatabaseHostInventoryStore implements HostInventoryStore {
  constructor(private readonly db: Knex) {}

  async commitHostPage(options: Parameters<HostInventoryStore['commitHostPage']>[0]): Promise<void> {
    const pg = isPostgres(this.db);
    // the same host twice in one page: the last one wins
    const byId = new Map<string, Omit<InventoryHost, 'source' | 'listedAt'>>();
    for (const h of options.hosts) {
      byId.delete(h.sourceId);
      byId.set(h.sourceId, h);
    }
    const hosts = [...byId.values()];
    const rows = hosts.map(h => hostToRow(options.sourceId, h, options.at, pg));
    const identifiers = hosts.flatMap(h =>
      assetIdentifiers(h.asset).map(i => ({ source: options.sourceId, source_id: h.sourceId, kind: i.kind, value: i.value.slice(0, 512) })),
    );
    await transaction(
      this.db,
      async tx => {
        if (rows.length && pg) {
          // COPY for pages of 100 hosts or more (far less PostgreSQL work per row than the JSON parameter)
          if (rows.length >= COPY_FROM) await pgCopyUpsert(tx, HOST_TABLES.hosts, HOST_COLUMNS, rows, { keys: ['source', 'source_id'] });
          else await insertRows(tx, HOST_TABLES.hosts, HOST_COLUMNS, rows, { conflictKeys: ['source', 'source_id'], jsonColumns: HOST_JSON_COLUMNS });
          await pgReplaceHostIdentifiers(tx, options.sourceId, [...byId.keys()], dedupe(identifiers));
        } else if (rows.length) {
          await insertRows(tx, HOST_TABLES.hosts, HOST_COLUMNS, rows, { conflictKeys: ['source', 'source_id'], jsonColumns: HOST_JSON_COLUMNS });
          for (const ids of chunks([...byId.keys()], inListSize(tx))) {
            await tx(HOST_TABLES.identifiers).where('source', options.sourceId).whereIn('source_id', ids).delete();
          }
          await insertRows(tx, HOST_TABLES.identifiers, IDENTIFIER_COLUMNS, dedupe(identifiers));
        }
        if (options.complete && options.pruneListedBefore) await this.prune(tx, options.sourceId, options.pruneListedBefore);
        if (options.cursor === undefined) return;
        const rejected = options.rejected ?? 0;
        const state: Row = {
          type: options.sourceType,
          cursor: options.cursor ?? null,
          last_success_at: options.at,
          last_attempt_at: options.at,
          last_error: null,
          consecutive_failures: 0,
        };
        if (options.complete) state.last_complete_at = options.at;
        // one atomic upsert (concurrent first pages of a new source race on the insert)
        await tx(HOST_TABLES.state)
          .insert({ source: options.sourceId, last_complete_at: null, ...state, rejected_count: rejected })
          .onConflict('source')
          .merge({ ...state, rejected_count: plus(tx, HOST_TABLES.state, 'rejected_count', rejected) });
      },
      { changesGateInputs: rows.length > 0 || Boolean(options.complete && options.pruneListedBefore) },
    );
  }

  /** Deletes the source's hosts last listed before `before` (and their identifiers): hosts gone from the vendor for longer than the retention. */
  private async prune(tx: Knex.Transaction, source: string, before: string): Promise<void> {
    const gone = tx(HOST_TABLES.hosts).where('source', source).andWhere('listed_at', '<', before).select('source_id');
    await tx(HOST_TABLES.identifiers).where('source', source).whereIn('source_id', gone).delete();
    await tx(HOST_TABLES.hosts).where('source', source).andWhere('listed_at', '<', before).delete();
  }

  async recordHostInventoryFailure(options: { sourceId: string; sourceType: string; error: string; at: string }): Promise<void> {
    await transaction(this.db, async tx => {
      // one atomic upsert: concurrent failures of a new source neither collide on the insert nor lose a count
      await tx(HOST_TABLES.state)
        .insert({
          source: options.sourceId,
          type: options.sourceType,
          cursor: null,
          last_success_at: null,
          last_attempt_at: options.at,
          last_complete_at: null,
          last_error: options.error,
          consecutive_failures: 1,
          rejected_count: 0,
        })
        .onConflict('source')
        .merge({
          type: options.sourceType,
          last_attempt_at: options.at,
          last_error: options.error,
          consecutive_failures: plus(tx, HOST_TABLES.state, 'consecutive_failures', 1),
        });
    });
  }

  async getHostInventoryState(sourceId: string): Promise<HostInventoryState | undefined> {
    const row = await this.db(HOST_TABLES.state).where({ source: sourceId }).first();
    return row ? rowToState(row) : undefined;
  }

  async findHostsByIdentifiers(values: string[]): Promise<IdentifiedHost[]> {
    const wanted = [...new Set(values.map(v => v.toLowerCase()))];
    const identRows: Row[] = [];
    for (const chunk of chunks(wanted, IN_CHUNK)) {
      identRows.push(...(await this.db(HOST_TABLES.identifiers).whereIn('value', chunk).select()));
    }
    if (identRows.length === 0) return [];
    const byHost = new Map<string, { source: string; sourceId: string; ids: { kind: string; value: string }[] }>();
    for (const r of identRows) {
      const key = `${str(r.source)}\u0000${str(r.source_id)}`;
      const entry = byHost.get(key) ?? { source: str(r.source), sourceId: str(r.source_id), ids: [] };
      entry.ids.push({ kind: str(r.kind), value: str(r.value) });
      byHost.set(key, entry);
    }
    const out: IdentifiedHost[] = [];
    const bySource = new Map<string, string[]>();
    for (const e of byHost.values()) bySource.set(e.source, [...(bySource.get(e.source) ?? []), e.sourceId]);
    for (const [source, ids] of bySource) {
      for (const chunk of chunks(ids, IN_CHUNK)) {
        const rows: Row[] = await this.db(HOST_TABLES.hosts).where('source', source).whereIn('source_id', chunk).select();
        for (const r of rows) {
          const host = rowToHost(r);
          out.push({ host, identifiers: byHost.get(`${host.source}\u0000${host.sourceId}`)?.ids ?? [] });
        }
      }
    }
    return out.sort((a, b) => {
      const ka = `${a.host.source}\u0000${a.host.sourceId}`;
      const kb = `${b.host.source}\u0000${b.host.sourceId}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  }

  async latestHostListedAt(): Promise<string | undefined> {
    const row = await this.db(HOST_TABLES.hosts).max({ m: 'listed_at' }).first();
    return row?.m ? str(row.m) : undefined;
  }

  async listInventoryHosts(options: Parameters<HostInventoryStore['listInventoryHosts']>[0]) {
    const q = this.db(HOST_TABLES.hosts).select();
    if (options.source) q.where('source', options.source);
    if (options.listedSince) q.where('listed_at', '>=', options.listedSince);
    if (options.listedBefore) q.where('listed_at', '<', options.listedBefore);
    const after = options.after;
    if (after) {
      q.where(w => w.where('source', '>', after.source).orWhere(w2 => w2.where('source', after.source).andWhere('source_id', '>', after.sourceId)));
    }
    const rows: Row[] = await q.orderBy([{ column: 'source' }, { column: 'source_id' }]).limit(options.limit);
    const items = rows.map(rowToHost);
    const page: { items: InventoryHost[]; next?: { source: string; sourceId: string } } = { items };
    if (items.length === options.limit && items.length) {
      const last = items[items.length - 1];
      page.next = { source: last.source, sourceId: last.sourceId };
    }
    return page;
  }
}

/** Hosts per page from which PostgreSQL writes the page through COPY (as the signal store's `copyFrom`). */
const COPY_FROM = 100;

type HostIdentifierRow = { source: string; source_id: string; kind: string; value: string };

/**
 * PostgreSQL: makes the stored identifier rows of the hosts `sourceIds` (of
 * `source`) exactly `wanted` (unique rows, of those hosts only). A host whose
 * stored rows already are its wanted ones is left alone (a host listed again
 * unchanged, the common case); the rows of the others are deleted and its
 * wanted rows inserted. The same rows as deleting every host's rows and
 * inserting `wanted`, with far fewer writes (lookups and deletes by index, see
 * `pgSelectWhereIn`). Runs after the hosts' upsert in the
 * same transaction (which holds their row locks), so a concurrent page with the
 * same hosts reads committed rows.
 */
async function pgReplaceHostIdentifiers(tx: Knex.Transaction, source: string, sourceIds: string[], wanted: HostIdentifierRow[]): Promise<void> {
  const stored = new Map<string, Set<string>>();
  for (const r of await pgSelectWhereIn(tx, HOST_TABLES.identifiers, 'source_id', sourceIds, ['source_id', 'kind', 'value'], { source })) {
    const id = str(r.source_id);
    let set = stored.get(id);
    if (!set) stored.set(id, (set = new Set<string>()));
    set.add(`${str(r.kind)}\u0000${str(r.value)}`);
  }
  const byHost = new Map<string, HostIdentifierRow[]>();
  for (const r of wanted) {
    const list = byHost.get(r.source_id);
    if (list) list.push(r);
    else byHost.set(r.source_id, [r]);
  }
  const changed: string[] = [];
  const insert: HostIdentifierRow[] = [];
  for (const id of sourceIds) {
    const rows = byHost.get(id) ?? [];
    const have = stored.get(id);
    if (have) {
      if (have.size === rows.length && rows.every(r => have.has(`${r.kind}\u0000${r.value}`))) continue;
      changed.push(id);
    }
    for (const r of rows) insert.push(r);
  }
  await pgDeleteWhereIn(tx, HOST_TABLES.identifiers, 'source_id', changed, { source });
  // a plain insert: the rows of changed hosts were deleted, new hosts had none
  if (insert.length >= COPY_FROM) await pgCopyRows(tx, HOST_TABLES.identifiers, IDENTIFIER_COLUMNS, insert);
  else await insertRows(tx, HOST_TABLES.identifiers, IDENTIFIER_COLUMNS, insert);
}

function dedupe<R extends Row>(rows: R[]): R[] {
  const seen = new Set<string>();
  return rows.filter(r => {
    const key = IDENTIFIER_COLUMNS.map(c => String(r[c])).join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
