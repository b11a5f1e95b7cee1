import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type { Config } from '@backstage/config';
import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import type { EntityIndexStore, HostInventoryStore, IndexedEntity, SignalStore } from '../store/types';
import { readDurationFromConfig } from '@backstage/config';
import { durationToMs } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { buildIndex, KnownAssets, type IndexProblem } from './indexBuilder';
import { InventorySource } from './inventory';

const PAGE_SIZE = 500;
const SIGNAL_PAGE_SIZE = 20_000;
const FIELDS = [
  'kind',
  'metadata.name',
  'metadata.namespace',
  'metadata.annotations',
  'metadata.labels',
  'spec.owner',
  'spec.system',
  'spec.type',
  'spec.environment',
  'spec.dependsOn',
  'spec.dependencyOf',
  'relations',
];

/**
 * Builds the correlation index from the catalog, the known assets (stored
 * signals) and the inventory. The gate reads the index; it never walks the
 * catalog per request.
 *
 * CIDR blocks and Kubernetes label selectors cannot be looked up by exact
 * identifier, so each rebuild resolves them against the assets known at that
 * moment into concrete identifiers (IPs, pods, nodes) stored in the index.
 * Trade-off: an asset that EDR reports for the first time (a new pod, a new
 * IP inside a block) reaches its entity at the next rebuild, i.e. within
 * `runtimeRisk.correlation.frequency`; until then a signal on it counts only
 * through identifiers the catalog names exactly.
 */
export class EntityIndexer {
  private readonly inventory: InventorySource;
  private lastAssets: KnownAssets | undefined;
  private readonly inheritSystemResources: boolean;
  /** `runtimeRisk.coverage.window` (default 7 days): inventory hosts listed longer ago are not known assets. */
  private readonly coverageWindowMs: number;

  constructor(
    private readonly options: {
      catalog: CatalogService;
      auth: AuthService;
      /** With `listInventoryHosts`, the vendor host inventory's pods, nodes and IPs are known assets too. */
      store: EntityIndexStore & Pick<SignalStore, 'listSignalAssets'> & Partial<Pick<HostInventoryStore, 'listInventoryHosts'>>;
      logger: LoggerService;
      /** Root config, for `runtimeRisk.correlation.inventory` / `inventoryFile` (validated here, failing fast). */
      config?: Config;
      /** An inventory given directly (tests); replaces the one from config. */
      inventory?: InventorySource;
      clock?: () => Date;
    },
  ) {
    this.inventory = options.inventory ?? InventorySource.fromConfig(options.config);
    this.inheritSystemResources =
      options.config?.getOptionalBoolean('runtimeRisk.correlation.inheritSystemResources') ?? false;
    const window = options.config?.has('runtimeRisk.coverage.window')
      ? durationToMs(readDurationFromConfig(options.config, { key: 'runtimeRisk.coverage.window' }))
      : undefined;
    this.coverageWindowMs = window && window > 0 ? window : 7 * 24 * 3600 * 1000;
  }

  private now(): string {
    return (this.options.clock?.() ?? new Date()).toISOString();
  }

  /** Every stored signal's asset (any status: a resolved detection still tells where a pod runs). */
  private async knownAssets(): Promise<KnownAssets> {
    const assets = new KnownAssets();
    // keyset paging in listSignals order (last seen first): the newest signal's pod labels win, as before
    let after: { lastSeenAt: string; id: string } | undefined;
    do {
      const page = await this.options.store.listSignalAssets(after ? { after, limit: SIGNAL_PAGE_SIZE } : { limit: SIGNAL_PAGE_SIZE });
      for (const s of page.items) assets.addAsset(s.asset);
      after = page.next;
    } while (after);
    await this.addInventoryAssets(assets);
    return assets;
  }

  /**
   * The vendor host inventory's hosts listed within the coverage window, after
   * the signals' assets (a signal's pod labels and node win; the inventory
   * fills in what no signal mentions, e.g. the node a quiet pod runs on). So a
   * label-selected workload with no detections still reaches its pods.
   */
  private async addInventoryAssets(assets: KnownAssets): Promise<void> {
    const list = this.options.store.listInventoryHosts?.bind(this.options.store);
    if (!list) return;
    const listedSince = new Date((this.options.clock?.() ?? new Date()).getTime() - this.coverageWindowMs).toISOString();
    let after: { source: string; sourceId: string } | undefined;
    do {
      const page = await list(after ? { after, limit: SIGNAL_PAGE_SIZE, listedSince } : { limit: SIGNAL_PAGE_SIZE, listedSince });
      for (const h of page.items) assets.addAsset(h.asset);
      after = page.next;
    } while (after);
  }

  private report(problems: IndexProblem[]): void {
    for (const p of problems.slice(0, 20)) {
      this.options.logger.warn(`runtime-risk correlation: ${p.entityRef}: ${p.message}`);
    }
    if (problems.length > 20) this.options.logger.warn(`runtime-risk correlation: ${problems.length - 20} more problems`);
  }

  /** The inventory on the gate path: an unreadable file is logged and skipped here (the rebuild fails on it). */
  private inventoryForOne() {
    try {
      return this.inventory.entries();
    } catch (e) {
      this.options.logger.warn(`runtime-risk correlation: inventory not used: ${(e as Error).message}`);
      return [];
    }
  }

  /** Pages through the whole catalog and replaces the index. Returns the number of entities indexed. */
  async rebuild(): Promise<number> {
    const { catalog, auth, store, logger } = this.options;
    const credentials = await auth.getOwnServiceCredentials();
    const updatedAt = this.now();
    const readCatalog = async () => {
      const entities: Entity[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const response = await catalog.queryEntities(
          cursor ? { cursor, limit: PAGE_SIZE, fields: FIELDS } : { limit: PAGE_SIZE, fields: FIELDS },
          { credentials },
        );
        entities.push(...response.items);
        cursor = response.pageInfo.nextCursor;
        pages += 1;
      } while (cursor && withinPageLimit(pages));
      return entities;
    };
    // the catalog (HTTP) and the known assets (database) are read at the same time
    const [entities, assets] = await Promise.all([readCatalog(), this.knownAssets()]);
    const inventory = this.inventory.entries();
    const { entries, problems } = buildIndex({
      entities,
      assets,
      inventory,
      updatedAt,
      inheritSystemResources: this.inheritSystemResources,
    });
    this.report(problems);
    await store.replaceEntityIndex(entries);
    this.lastAssets = assets;
    logger.info(
      `runtime-risk correlation index rebuilt: ${entries.length} entities, ${assets.pods.size} pods and ${assets.ips.size} IPs known`,
    );
    return entries.length;
  }

  /**
   * Looks one entity up in the catalog (for an entity the index does not know
   * yet) and indexes it with its annotations, its `dependsOn` Resources, the
   * inventory and the assets known at the last rebuild (a System's Components
   * and Resources, and with `inheritSystemResources` a Component's sibling
   * Resources, join at the next full rebuild). Returns undefined when the catalog does not know it.
   */
  async indexOne(entityRef: string): Promise<IndexedEntity | undefined> {
    const { catalog, auth, store } = this.options;
    const credentials = await auth.getOwnServiceCredentials();
    const entity: Entity | undefined = await catalog.getEntityByRef(entityRef, { credentials });
    if (!entity) return undefined;
    const targets = (entity.relations ?? []).filter(r => r.type === 'dependsOn').map(r => r.targetRef);
    const related = targets.length
      ? (await catalog.getEntitiesByRefs({ entityRefs: targets, fields: FIELDS }, { credentials })).items.filter(
          (e): e is Entity => !!e,
        )
      : [];
    const { entries, problems } = buildIndex({
      entities: [entity, ...related],
      assets: this.lastAssets ?? new KnownAssets(),
      inventory: this.inventoryForOne(),
      updatedAt: this.now(),
      inheritSystemResources: this.inheritSystemResources,
    });
    const ref = stringifyEntityRef(entity).toLowerCase();
    this.report(problems.filter(p => p.entityRef === ref.slice(0, 200)));
    // left out when it cannot be stored (reported above)
    const entry = entries.find(e => e.entityRef === ref);
    if (!entry) return undefined;
    await store.upsertEntity(entry);
    return entry;
  }
}

/** Guards against a catalog that keeps returning cursors: at most 100k pages. */
function withinPageLimit(pages: number): boolean {
  return pages < 100_000;
}
