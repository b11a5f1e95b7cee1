import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type { Entity } from '@backstage/catalog-model';
import type { IndexedEntity, RuntimeRiskStore } from '../store/types';
import { indexEntity } from './entityIndex';

const PAGE_SIZE = 500;
const FIELDS = ['kind', 'metadata.name', 'metadata.namespace', 'metadata.annotations', 'spec.owner', 'spec.system'];

/**
 * Builds the correlation index from the catalog. The gate reads the index; it
 * never walks the catalog per request.
 */
export class EntityIndexer {
  constructor(
    private readonly options: {
      catalog: CatalogService;
      auth: AuthService;
      store: RuntimeRiskStore;
      logger: LoggerService;
      clock?: () => Date;
    },
  ) {}

  private now(): string {
    return (this.options.clock?.() ?? new Date()).toISOString();
  }

  /** Pages through the whole catalog and replaces the index. Returns the number of entities indexed. */
  async rebuild(): Promise<number> {
    const { catalog, auth, store, logger } = this.options;
    const credentials = await auth.getOwnServiceCredentials();
    const updatedAt = this.now();
    const entries = new Map<string, IndexedEntity>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const response = await catalog.queryEntities(
        cursor ? { cursor, limit: PAGE_SIZE, fields: FIELDS } : { limit: PAGE_SIZE, fields: FIELDS },
        { credentials },
      );
      for (const entity of response.items) {
        const entry = indexEntity(entity, updatedAt);
        entries.set(entry.entityRef, entry);
      }
      cursor = response.pageInfo.nextCursor;
      pages += 1;
    } while (cursor && withinPageLimit(pages));
    await store.replaceEntityIndex([...entries.values()]);
    logger.info(`runtime-risk correlation index rebuilt: ${entries.size} entities`);
    return entries.size;
  }

  /**
   * Looks one entity up in the catalog (for an entity the index does not know
   * yet) and indexes it. Returns undefined when the catalog does not know it.
   */
  async indexOne(entityRef: string): Promise<IndexedEntity | undefined> {
    const { catalog, auth, store } = this.options;
    const credentials = await auth.getOwnServiceCredentials();
    const entity: Entity | undefined = await catalog.getEntityByRef(entityRef, { credentials });
    if (!entity) return undefined;
    const entry = indexEntity(entity, this.now());
    await store.upsertEntity(entry);
    return entry;
  }
}

/** Guards against a catalog that keeps returning cursors: at most 100k pages. */
function withinPageLimit(pages: number): boolean {
  return pages < 100_000;
}
