import type { Knex } from 'knex';
import { IN_CHUNK, TABLES, chunks, insertRows, isPostgres, json, str, strOrNull, type Row } from './db';
import { transaction } from './transaction';
import type { EntityIndexStore, IndexedEntity } from './types';

function rowToIndexedEntity(row: Row, hostRows: Row[]): IndexedEntity {
  const parts = json<IndexedEntity['parts'] | null>(row.parts, null);
  return {
    ...(parts ? { parts } : {}),
    ...(row.project_slug ? { projectSlug: str(row.project_slug) } : {}),
    entityRef: str(row.entity_ref),
    kind: str(row.kind),
    namespace: str(row.namespace),
    name: str(row.name),
    owner: strOrNull(row.owner),
    system: strOrNull(row.system),
    updatedAt: str(row.updated_at),
    hosts: hostRows.map(h => ({ environment: str(h.environment), value: str(h.value), matchedBy: str(h.matched_by) })),
  };
}

/**
 * Serializes the writes of the entity index (until `tx` ends). They delete an
 * entity's rows, then insert its new ones: without the lock, two concurrent
 * writes of an entity not yet indexed (the gate indexes one on demand) both find
 * nothing to delete and collide on the insert (duplicate key on PostgreSQL), or
 * leave a mix of both writes' hosts. SQLite has one writer anyway.
 */
async function lockEntityIndex(tx: Knex.Transaction): Promise<void> {
  if (isPostgres(tx)) await tx.raw("select pg_advisory_xact_lock(hashtext('runtime_risk_entity_index'))");
}

/** {@link EntityIndexStore} on knex. */
export class DatabaseEntityIndexStore implements EntityIndexStore {
  constructor(private readonly db: Knex) {}

  async replaceEntityIndex(entities: IndexedEntity[]): Promise<void> {
    await transaction(this.db, async tx => {
      await lockEntityIndex(tx);
      await tx(TABLES.entityHosts).delete();
      await tx(TABLES.entities).delete();
      await this.insertEntities(tx, entities);
    }, { changesGateInputs: true });
  }

  async upsertEntity(entity: IndexedEntity): Promise<void> {
    await transaction(this.db, async tx => {
      await lockEntityIndex(tx);
      await tx(TABLES.entityHosts).where({ entity_ref: entity.entityRef }).delete();
      await tx(TABLES.entities).where({ entity_ref: entity.entityRef }).delete();
      await this.insertEntities(tx, [entity]);
    }, { changesGateInputs: true });
  }

  async applyEntityIndexChanges(changes: { upsert: IndexedEntity[]; remove: string[] }): Promise<void> {
    const refs = [...new Set([...changes.upsert.map(e => e.entityRef), ...changes.remove])];
    if (!refs.length) return;
    await transaction(this.db, async tx => {
      await lockEntityIndex(tx);
      for (const chunk of chunks(refs, IN_CHUNK)) {
        await tx(TABLES.entityHosts).whereIn('entity_ref', chunk).delete();
        await tx(TABLES.entities).whereIn('entity_ref', chunk).delete();
      }
      await this.insertEntities(tx, changes.upsert);
    }, { changesGateInputs: true });
  }

  async entityIndexFingerprint(): Promise<string> {
    const row = await this.db(TABLES.entities).count({ n: '*' }).max({ m: 'updated_at' }).first();
    return `${Number(row?.n ?? 0)}:${row?.m ? str(row.m) : ''}`;
  }

  private async insertEntities(tx: Knex.Transaction, entities: IndexedEntity[]): Promise<void> {
    const rows = entities.map(e => ({
      entity_ref: e.entityRef,
      kind: e.kind,
      namespace: e.namespace,
      name: e.name,
      owner: e.owner ?? null,
      system: e.system ?? null,
      parts: e.parts ? JSON.stringify(e.parts) : null,
      project_slug: e.projectSlug ?? null,
      updated_at: e.updatedAt,
    }));
    const hostRows = entities.flatMap(e =>
      e.hosts.map(h => ({ entity_ref: e.entityRef, environment: h.environment, value: h.value, matched_by: h.matchedBy })),
    );
    await insertRows(tx, TABLES.entities, ['entity_ref', 'kind', 'namespace', 'name', 'owner', 'system', 'parts', 'project_slug', 'updated_at'], rows);
    await insertRows(tx, TABLES.entityHosts, ['entity_ref', 'environment', 'value', 'matched_by'], hostRows);
  }

  async listEntityIndex(): Promise<IndexedEntity[]> {
    const rows: Row[] = await this.db(TABLES.entities).select().orderBy('entity_ref');
    const hostRows: Row[] = await this.db(TABLES.entityHosts).select().orderBy(['entity_ref', 'environment', 'value']);
    const hosts = new Map<string, Row[]>();
    for (const h of hostRows) {
      const list = hosts.get(str(h.entity_ref)) ?? [];
      list.push(h);
      hosts.set(str(h.entity_ref), list);
    }
    return rows.map(row => rowToIndexedEntity(row, hosts.get(str(row.entity_ref)) ?? []));
  }

  async getEntity(entityRef: string): Promise<IndexedEntity | undefined> {
    const row = await this.db(TABLES.entities).where({ entity_ref: entityRef }).first();
    if (!row) return undefined;
    const hosts: Row[] = await this.db(TABLES.entityHosts)
      .where({ entity_ref: entityRef })
      .orderBy(['environment', 'value']);
    return rowToIndexedEntity(row, hosts);
  }
}
