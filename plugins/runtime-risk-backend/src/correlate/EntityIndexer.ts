import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type { Config } from '@backstage/config';
import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import type { EntityIndexStore, HostInventoryStore, IndexedEntity, SignalStore } from '../store/types';
import { readDurationFromConfig } from '@backstage/config';
import { durationToMs } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { buildIndex, KnownAssets, type IndexProblem } from './indexBuilder';
import { InventorySource, type InventoryEntry } from './inventory';
import { createHash } from 'node:crypto';
import { POD_PREFIX, podHostValue } from './identifiers';
import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';

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
  /** What the last rebuild of this process knew: kept for the next (incremental) one; undefined until a full rebuild. */
  private state: IndexState | undefined;
  private readonly fullRebuildEveryMs: number;
  private readonly overlapMs: number;
  /** What the last rebuild did (logs, bench, tests). */
  lastRebuild: RebuildStats | undefined;
  private readonly inheritSystemResources: boolean;
  /** `runtimeRisk.coverage.window` (default 7 days): inventory hosts listed longer ago are not known assets. */
  private readonly coverageWindowMs: number;

  constructor(
    private readonly options: {
      catalog: CatalogService;
      auth: AuthService;
      /** With `listInventoryHosts`, the vendor host inventory's pods, nodes and IPs are known assets too. */
      store: IndexerStore;
      logger: LoggerService;
      /** Root config, for `runtimeRisk.correlation.inventory` / `inventoryFile` (validated here, failing fast). */
      config?: Config;
      /** An inventory given directly (tests); replaces the one from config. */
      inventory?: InventorySource;
      clock?: () => Date;
      /** Every how often a rebuild is a full one (tests, bench); default `runtimeRisk.correlation.fullRebuildEvery`, 6 hours. */
      fullRebuildEveryMs?: number;
      /** How far before the last rebuild's newest `fetchedAt` / `listedAt` an incremental rebuild reads again; default `runtimeRisk.correlation.incrementalOverlap`, 10 minutes. */
      overlapMs?: number;
    },
  ) {
    this.inventory = options.inventory ?? InventorySource.fromConfig(options.config);
    this.inheritSystemResources =
      options.config?.getOptionalBoolean('runtimeRisk.correlation.inheritSystemResources') ?? false;
    const window = options.config?.has('runtimeRisk.coverage.window')
      ? durationToMs(readDurationFromConfig(options.config, { key: 'runtimeRisk.coverage.window' }))
      : undefined;
    this.coverageWindowMs = window && window > 0 ? window : 7 * 24 * 3600 * 1000;
    const duration = (key: string) =>
      options.config?.has(key) ? durationToMs(readDurationFromConfig(options.config, { key })) : undefined;
    this.fullRebuildEveryMs = options.fullRebuildEveryMs ?? duration('runtimeRisk.correlation.fullRebuildEvery') ?? 6 * 3600 * 1000;
    this.overlapMs = options.overlapMs ?? duration('runtimeRisk.correlation.incrementalOverlap') ?? 10 * 60 * 1000;
  }

  private now(): string {
    return (this.options.clock?.() ?? new Date()).toISOString();
  }

  /** Every stored signal's asset (any status: a resolved detection still tells where a pod runs). */
  private async knownAssets(listedSince: string, hosts: Map<string, ListedHost>): Promise<KnownAssets> {
    const assets = new KnownAssets();
    // keyset paging in listSignals order (last seen first): the newest signal's pod labels win, as before
    let after: { lastSeenAt: string; id: string } | undefined;
    do {
      const page = await this.options.store.listSignalAssets(after ? { after, limit: SIGNAL_PAGE_SIZE } : { limit: SIGNAL_PAGE_SIZE });
      for (const s of page.items) assets.addAsset(s.asset);
      after = page.next;
    } while (after);
    await this.addInventoryAssets(assets, listedSince, hosts);
    return assets;
  }

  /**
   * The vendor host inventory's hosts listed within the coverage window, after
   * the signals' assets (a signal's pod labels and node win; the inventory
   * fills in what no signal mentions, e.g. the node a quiet pod runs on). So a
   * label-selected workload with no detections still reaches its pods.
   */
  private async addInventoryAssets(assets: KnownAssets, listedSince: string, hosts: Map<string, ListedHost>): Promise<void> {
    const list = this.options.store.listInventoryHosts?.bind(this.options.store);
    if (!list) return;
    let after: { source: string; sourceId: string } | undefined;
    do {
      const page = await list(after ? { after, limit: SIGNAL_PAGE_SIZE, listedSince } : { limit: SIGNAL_PAGE_SIZE, listedSince });
      for (const h of page.items) {
        assets.addAsset(h.asset);
        hosts.set(hostKey(h), listedHost(h.asset));
      }
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

  private async readCatalog(): Promise<Entity[]> {
    const { catalog, auth } = this.options;
    const credentials = await auth.getOwnServiceCredentials();
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
  }

  private build(entities: Entity[], assets: KnownAssets, updatedAt: string, inventory: InventoryEntry[]) {
    const { entries, problems } = buildIndex({
      entities,
      // the build adds the inventory file's IPs to its copy only
      assets: assets.forBuild(),
      inventory,
      updatedAt,
      inheritSystemResources: this.inheritSystemResources,
    });
    this.report(problems);
    return entries;
  }

  /** Whether the store can answer what an incremental rebuild asks. */
  private canIncrement(): boolean {
    const s = this.options.store;
    return !!(
      s.listSignalAssetsFetchedSince &&
      s.listSignalAssetsByIdentifiers &&
      s.existingSignalIdentifiers
    );
  }

  /**
   * Rebuilds the index. The first rebuild of the process, one every
   * `runtimeRisk.correlation.fullRebuildEvery` (default 6 hours) and one with
   * `{ full: true }` read every stored signal's asset and replace the whole
   * index; the others are incremental: the catalog (diffed per entity), the
   * signals fetched and the inventory hosts listed since the last rebuild (the
   * pods they name recomputed from their own signals and hosts), and only the
   * changed entities' rows written. Returns the number of entities indexed.
   */
  async rebuild(options?: { full?: boolean }): Promise<number> {
    const nowMs = (this.options.clock?.() ?? new Date()).getTime();
    const state = this.state;
    if (!options?.full && state && this.canIncrement() && nowMs - state.fullAt < this.fullRebuildEveryMs) {
      try {
        return await this.incrementalRebuild(state, nowMs);
      } catch (e) {
        // the kept assets may be half updated: the next rebuild is a full one
        this.state = undefined;
        throw e;
      }
    }
    return this.fullRebuild(nowMs);
  }

  private async fullRebuild(nowMs: number): Promise<number> {
    const { store, logger } = this.options;
    const started = Date.now();
    const updatedAt = new Date(nowMs).toISOString();
    const listedSince = new Date(nowMs - this.coverageWindowMs).toISOString();
    // the catalog (HTTP) and the known assets (database) are read at the same time
    const hosts = new Map<string, ListedHost>();
    const [entities, assets] = await Promise.all([this.readCatalog(), this.knownAssets(listedSince, hosts)]);
    const inventory = this.inventory.entries();
    const entries = this.build(entities, assets, updatedAt, inventory);
    await store.replaceEntityIndex(entries);
    this.state = {
      assets,
      hosts,
      readAt: nowMs,
      listedSince,
      entries: new Map(entries.map(e => [e.entityRef, { entry: e, key: entryKey(e) }])),
      fingerprint: await store.entityIndexFingerprint(),
      inputsKey: this.inputsKey(entities, inventory),
      fullAt: nowMs,
    };
    this.lastRebuild = { mode: 'full', entities: entries.length, changed: entries.length, removed: 0, signalsRead: -1, hostsRead: -1, podsRecomputed: -1, ms: Date.now() - started };
    logger.info(
      `runtime-risk correlation index rebuilt (full): ${entries.length} entities, ${assets.pods.size} pods and ${assets.ips.size} IPs known`,
    );
    return entries.length;
  }

  /**
   * The signals fetched and the hosts listed since the last rebuild began (less the
   * overlap: a page fetched before it may have been committed after its reads), and
   * the hosts that left the coverage window since.
   */
  private async readChanges(state: IndexState, listedSince: string) {
    const store = this.options.store;
    const since = new Date(state.readAt - this.overlapMs).toISOString();
    const signals: Asset[] = [];
    let after: { fetchedAt: string; id: string } | undefined;
    do {
      const page = await store.listSignalAssetsFetchedSince!({ since, ...(after ? { after } : {}), limit: SIGNAL_PAGE_SIZE });
      for (const s of page.items) signals.push(s.asset);
      after = page.next;
    } while (after);
    const listed: { key: string; asset: Asset }[] = [];
    const expired: { key: string; asset: Asset }[] = [];
    const list = store.listInventoryHosts?.bind(store);
    if (list) {
      const hostsSince = since > listedSince ? since : listedSince;
      const walk = async (options: { listedSince: string; listedBefore?: string }, into: { key: string; asset: Asset }[]) => {
        let next: { source: string; sourceId: string } | undefined;
        do {
          const page = await list({ ...options, ...(next ? { after: next } : {}), limit: SIGNAL_PAGE_SIZE });
          for (const h of page.items) {
            into.push({ key: hostKey(h), asset: h.asset });
          }
          next = page.next;
        } while (next);
      };
      await walk({ listedSince: hostsSince }, listed);
      if (state.listedSince < listedSince) await walk({ listedSince: state.listedSince, listedBefore: listedSince }, expired);
    }
    return { signals, listed, expired };
  }

  /**
   * Brings the kept assets up to date: new IPs added, IPs only the expired
   * hosts named dropped, and every pod a read asset names rebuilt from all the
   * signals and in-window hosts naming it, in the full rebuild's order (newest
   * signal first, then the inventory), so its labels and node are exactly those
   * a full rebuild finds.
   */
  private async applyChanges(
    state: IndexState,
    changes: { signals: Asset[]; listed: { key: string; asset: Asset }[]; expired: { key: string; asset: Asset }[] },
    listedSince: string,
  ) {
    const { assets, hosts } = state;
    const store = this.options.store;
    const touched = new Set<string>();
    const added = new KnownAssets();
    // what a relisted host named before, and what expired hosts named, may no longer be known
    const maybeGone = new Set<string>();
    const forget = (before: ListedHost | undefined) => {
      if (!before) return;
      if (before.pod) touched.add(before.pod);
      for (const ip of before.ips) maybeGone.add(ip);
    };
    for (const a of changes.signals) {
      added.addAsset(a);
      const key = a.k8s ? podHostValue(a.k8s) : undefined;
      if (key) touched.add(key);
    }
    for (const h of changes.listed) {
      forget(hosts.get(h.key));
      const now = listedHost(h.asset);
      hosts.set(h.key, now);
      added.addAsset(h.asset);
      if (now.pod) touched.add(now.pod);
    }
    for (const h of changes.expired) {
      forget(hosts.get(h.key) ?? listedHost(h.asset));
      hosts.delete(h.key);
    }
    let ipsChanged = 0;
    for (const ip of added.ips) {
      if (assets.ips.has(ip)) continue;
      assets.ips.add(ip);
      ipsChanged += 1;
    }
    const gone = [...maybeGone].filter(ip => !added.ips.has(ip));
    if (gone.length) {
      const still = await store.existingSignalIdentifiers!('ip', gone);
      const rest = gone.filter(ip => !still.has(ip));
      if (rest.length && store.findHostsByIdentifiers) {
        for (const h of await store.findHostsByIdentifiers(rest)) {
          if (h.host.listedAt < listedSince) continue;
          for (const i of h.identifiers) if (i.kind === 'ip') still.add(i.value);
        }
      }
      for (const ip of gone) if (!still.has(ip) && assets.ips.delete(ip)) ipsChanged += 1;
    }
    if (touched.size) {
      for (const key of touched) assets.removePod(key);
      const values = [...touched].map(k => k.slice(POD_PREFIX.length));
      for (const s of await store.listSignalAssetsByIdentifiers!('pod', values)) assets.addAsset(s.asset);
      if (store.findHostsByIdentifiers) {
        const hosts = (await store.findHostsByIdentifiers(values)).filter(
          h => h.host.listedAt >= listedSince && h.identifiers.some(i => i.kind === 'pod'),
        );
        for (const h of hosts) assets.addAsset(h.host.asset);
      }
    }
    return { pods: touched.size, ipsChanged };
  }

  /** Hash of the catalog and inventory an index was built from (with the kept assets, all a build depends on). */
  private inputsKey(entities: Entity[], inventory: InventoryEntry[]): string {
    return createHash('sha256').update(JSON.stringify([entities, inventory, this.inheritSystemResources])).digest('hex');
  }

  private async incrementalRebuild(state: IndexState, nowMs: number): Promise<number> {
    const { store, logger } = this.options;
    const started = Date.now();
    const updatedAt = new Date(nowMs).toISOString();
    const listedSince = new Date(nowMs - this.coverageWindowMs).toISOString();
    const [entities, changes] = await Promise.all([this.readCatalog(), this.readChanges(state, listedSince)]);
    const { pods: podsRecomputed, ipsChanged } = await this.applyChanges(state, changes, listedSince);
    const inventory = this.inventory.entries();
    const inputsKey = this.inputsKey(entities, inventory);
    const fingerprint = await store.entityIndexFingerprint();
    if (inputsKey === state.inputsKey && !podsRecomputed && !ipsChanged && fingerprint === state.fingerprint) {
      // same catalog, inventory and assets, and nobody else wrote: the index is what the last rebuild wrote
      this.state = { ...state, readAt: nowMs, listedSince };
      this.lastRebuild = {
        mode: 'incremental',
        entities: state.entries.size,
        changed: 0,
        removed: 0,
        signalsRead: changes.signals.length,
        hostsRead: changes.listed.length + changes.expired.length,
        podsRecomputed: 0,
        ms: Date.now() - started,
      };
      logger.info(`runtime-risk correlation index unchanged: ${changes.signals.length} signals read, no new pod or IP, same catalog`);
      return state.entries.size;
    }
    const entries = this.build(entities, state.assets, updatedAt, inventory);
    // diffed against what this process wrote last, or against the stored index when someone else wrote since
    let previous = state.entries;
    if (fingerprint !== state.fingerprint) {
      previous = new Map((await store.listEntityIndex()).map(e => [e.entityRef, { entry: e, key: entryKey(e) }]));
    }
    const next = new Map<string, { entry: IndexedEntity; key: string }>();
    const upsert: IndexedEntity[] = [];
    for (const e of entries) {
      const key = entryKey(e);
      const before = previous.get(e.entityRef);
      if (before && before.key === key) {
        next.set(e.entityRef, before);
      } else {
        next.set(e.entityRef, { entry: e, key });
        upsert.push(e);
      }
    }
    const remove = [...previous.keys()].filter(ref => !next.has(ref));
    if (upsert.length || remove.length) await store.applyEntityIndexChanges({ upsert, remove });
    this.state = {
      ...state,
      readAt: nowMs,
      listedSince,
      entries: next,
      inputsKey,
      fingerprint: upsert.length || remove.length ? await store.entityIndexFingerprint() : fingerprint,
    };
    this.lastRebuild = {
      mode: 'incremental',
      entities: entries.length,
      changed: upsert.length,
      removed: remove.length,
      signalsRead: changes.signals.length,
      hostsRead: changes.listed.length + changes.expired.length,
      podsRecomputed,
      ms: Date.now() - started,
    };
    logger.info(
      `runtime-risk correlation index rebuilt (incremental): ${entries.length} entities, ${upsert.length} changed, ${remove.length} removed; ` +
        `${changes.signals.length} signals and ${changes.listed.length + changes.expired.length} hosts read, ${podsRecomputed} pods recomputed`,
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
      assets: (this.state?.assets ?? new KnownAssets()).forBuild(),
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

/** What an indexer reads and writes. The incremental parts are optional: a store without them gets full rebuilds only. */
export type IndexerStore = EntityIndexStore &
  Pick<SignalStore, 'listSignalAssets'> &
  Partial<Pick<SignalStore, 'listSignalAssetsFetchedSince' | 'listSignalAssetsByIdentifiers' | 'existingSignalIdentifiers'>> &
  Partial<Pick<HostInventoryStore, 'listInventoryHosts' | 'findHostsByIdentifiers'>>;

/** What the last rebuild did. `-1`: not counted (a full rebuild reads everything). */
export interface RebuildStats {
  mode: 'full' | 'incremental';
  entities: number;
  /** Entities written (all of them on a full rebuild). */
  changed: number;
  removed: number;
  signalsRead: number;
  hostsRead: number;
  podsRecomputed: number;
  ms: number;
}

interface IndexState {
  /** Every stored signal's asset and the in-window inventory hosts', kept up to date. */
  assets: KnownAssets;
  /** The pod and IPs of each in-window inventory host (by source and vendor id): what a relisting replaces. */
  hosts: Map<string, ListedHost>;
  /** When the last rebuild began (the indexer's clock, ms): the next reads what was fetched or listed since, less the overlap. */
  readAt: number;
  /** The coverage window's start at the last rebuild (inventory hosts listed before it are not known). */
  listedSince: string;
  /** The index as this process wrote it, with each entry's content key. */
  entries: Map<string, { entry: IndexedEntity; key: string }>;
  /** `entityIndexFingerprint` after the last write: differs when another replica (or `indexOne`) wrote since. */
  fingerprint: string;
  /** Hash of the catalog and inventory of the last build. */
  inputsKey: string;
  fullAt: number;
}

/** An entry's content, without `updatedAt`, in a canonical order (as built or as read back). */
export function entryKey(e: IndexedEntity): string {
  const hosts = e.hosts
    .map(h => [h.environment, h.value, h.matchedBy])
    .sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] !== b[1] ? (a[1] < b[1] ? -1 : 1) : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  return JSON.stringify([e.entityRef, e.kind, e.namespace, e.name, e.owner ?? null, e.system ?? null, e.projectSlug ?? null, e.parts ?? null, hosts]);
}

/** What one inventory host contributes to the known assets besides its labels. */
interface ListedHost {
  pod?: string;
  ips: string[];
}

function hostKey(h: { source: string; sourceId: string }): string {
  return `${h.source}\u0000${h.sourceId}`;
}

function listedHost(asset: Asset): ListedHost {
  const known = new KnownAssets();
  known.addAsset(asset);
  const pod = asset.k8s ? podHostValue(asset.k8s) : undefined;
  return { ...(pod ? { pod } : {}), ips: [...known.ips] };
}
