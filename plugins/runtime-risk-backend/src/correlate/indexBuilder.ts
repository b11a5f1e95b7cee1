import { parseEntityRef, stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import type { Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { IndexedEntity } from '../store/types';
import {
  ALL_ENVIRONMENTS,
  RULE_SEPARATOR,
  hostsForEnvironment,
  indexEntity,
  normalizeHostValue,
  splitHosts,
} from './entityIndex';
import { IpIndex, normalizeIp, parseCidr, podHostValue } from './identifiers';
import { MATCHED_BY_INVENTORY, type InventoryEntry } from './inventory';
import {
  ANNOTATION_KUBERNETES_ID,
  ANNOTATION_KUBERNETES_LABEL_SELECTOR,
  ANNOTATION_KUBERNETES_NAMESPACE,
  parseLabelSelector,
  requiredPairs,
  selectorMatches,
  type LabelSelector,
} from './kubernetes';

/** Resource `spec.type`s whose entities are hosts. */
export const HOST_RESOURCE_TYPES = ['host', 'vm', 'node'];
/** Annotations of a host Resource naming its identifiers (comma lists). */
export const ANNOTATION_HOSTNAME = 'runtime-risk.io/hostname';
export const ANNOTATION_INSTANCE_ID = 'runtime-risk.io/instance-id';
export const ANNOTATION_IP = 'runtime-risk.io/ip';
/** Label (or `spec.environment`) scoping a Resource, a cluster or a pod to one environment. */
export const LABEL_ENVIRONMENT = 'runtime-risk.io/environment';
/** Annotation of a `kubernetes-cluster` Resource naming the cluster as EDR reports it (default: metadata.name). */
export const ANNOTATION_CLUSTER = 'runtime-risk.io/cluster';

export const MATCHED_BY_KUBERNETES_ID = 'kubernetes:kubernetes-id';
export const MATCHED_BY_LABEL_SELECTOR = 'kubernetes:label-selector';
export const MATCHED_BY_NODE = 'kubernetes:node';

/** Longest `matchedBy` stored (the column is 255 characters). */
const MAX_MATCHED_BY = 255;

/** A Kubernetes pod as reported by EDR (signal `asset.k8s`). */
export interface KnownPod {
  key: string;
  cluster: string;
  namespace: string;
  pod: string;
  node?: string;
  labels: Record<string, string>;
}

/**
 * The assets known at index time (every stored signal's asset and the
 * inventory's hosts): IPs, to resolve CIDR blocks, and pods, to resolve label
 * selectors. Both are kinds of identifiers that cannot be looked up by exact
 * value at gate time.
 */
export class KnownAssets {
  readonly ips = new Set<string>();
  readonly pods: Map<string, KnownPod>;
  private readonly podsByPair: Map<string, Set<string>>;

  constructor(shared?: { pods: Map<string, KnownPod>; podsByPair: Map<string, Set<string>> }) {
    this.pods = shared?.pods ?? new Map();
    this.podsByPair = shared?.podsByPair ?? new Map();
  }

  addAsset(asset: Asset): void {
    for (const ip of asset.ips ?? []) this.addIp(ip);
    if (asset.hostname) this.addIp(asset.hostname);
    const k8s = asset.k8s;
    const key = k8s ? podHostValue(k8s) : undefined;
    if (!k8s || !key) return;
    const lower = (s: string | undefined) => (s ?? '').trim().toLowerCase();
    const existing = this.pods.get(key);
    const pod: KnownPod = existing ?? {
      key,
      cluster: lower(k8s.cluster),
      namespace: lower(k8s.namespace),
      pod: lower(k8s.pod),
      labels: {},
    };
    if (k8s.node && !pod.node) pod.node = normalizeHostValue(k8s.node);
    for (const [k, v] of Object.entries(k8s.labels ?? {})) {
      if (pod.labels[k] !== undefined) continue;
      pod.labels[k] = v;
      const pair = `${k}=${v}`;
      const set = this.podsByPair.get(pair) ?? new Set<string>();
      set.add(key);
      this.podsByPair.set(pair, set);
    }
    this.pods.set(key, pod);
  }

  addIp(value: string): void {
    const ip = normalizeIp(value);
    if (ip) this.ips.add(ip);
  }

  /** Forgets a pod (its labels and node), before it is added again from its assets (incremental rebuild). */
  removePod(key: string): void {
    const pod = this.pods.get(key);
    if (!pod) return;
    for (const [k, v] of Object.entries(pod.labels)) {
      const pair = `${k}=${v}`;
      const set = this.podsByPair.get(pair);
      set?.delete(key);
      if (set && !set.size) this.podsByPair.delete(pair);
    }
    this.pods.delete(key);
  }

  /**
   * A copy to build an index with: its own IP set (the build adds the inventory
   * file's IPs, which must not stay known after the file drops them), the pods
   * shared (a build only reads them).
   */
  forBuild(): KnownAssets {
    const copy = new KnownAssets({ pods: this.pods, podsByPair: this.podsByPair });
    for (const ip of this.ips) copy.ips.add(ip);
    return copy;
  }

  /** Pods that may match the selector (all pods unless it requires a label value). */
  candidatePods(selector: LabelSelector): KnownPod[] {
    const pairs = requiredPairs(selector);
    if (!pairs) return [...this.pods.values()];
    const keys = new Set<string>();
    for (const p of pairs) for (const k of this.podsByPair.get(p) ?? []) keys.add(k);
    return [...keys].map(k => this.pods.get(k)!);
  }
}

/** What the index build noticed but could not use (logged by the indexer). */
export interface IndexProblem {
  entityRef: string;
  message: string;
}

export interface BuildIndexOptions {
  entities: Entity[];
  assets: KnownAssets;
  inventory: InventoryEntry[];
  updatedAt: string;
  /**
   * `runtimeRisk.correlation.inheritSystemResources`: a Component also reaches
   * every host Resource of its System (`relation:system:<resourceRef>`, the
   * broad rule). Default false.
   */
  inheritSystemResources?: boolean;
}

/**
 * Longest values the index stores (its column sizes, characters). An entity
 * with a longer one (e.g. an over-long host annotation) is left out of the
 * index with a problem logged, instead of failing the whole rebuild.
 */
export const INDEX_LIMITS = {
  entityRef: 512,
  kind: 128,
  namespace: 255,
  name: 255,
  owner: 512,
  system: 512,
  projectSlug: 512,
  environment: 128,
  hostValue: 512,
  matchedBy: 255,
} as const;

/** Why `entry` cannot be stored (the first value over its limit, or holding a NUL character), undefined when it can. */
export function unstorableReason(entry: IndexedEntity): string | undefined {
  const check = (value: string | null | undefined, limit: number, what: string): string | undefined => {
    if (value === null || value === undefined) return undefined;
    if (value.includes('\u0000')) return `${what} holds a NUL character`;
    return value.length > limit ? `${what} is longer than ${limit} characters (${value.length})` : undefined;
  };
  const own =
    check(entry.entityRef, INDEX_LIMITS.entityRef, 'the entity ref') ??
    check(entry.kind, INDEX_LIMITS.kind, 'kind') ??
    check(entry.namespace, INDEX_LIMITS.namespace, 'namespace') ??
    check(entry.name, INDEX_LIMITS.name, 'name') ??
    check(entry.owner, INDEX_LIMITS.owner, 'owner') ??
    check(entry.system, INDEX_LIMITS.system, 'system') ??
    check(entry.projectSlug, INDEX_LIMITS.projectSlug, 'project slug');
  if (own) return own;
  for (const h of entry.hosts) {
    const bad =
      check(h.value, INDEX_LIMITS.hostValue, `host '${h.value.slice(0, 40)}…'`) ??
      check(h.environment, INDEX_LIMITS.environment, `environment '${h.environment.slice(0, 40)}…'`) ??
      check(h.matchedBy, INDEX_LIMITS.matchedBy, `rule '${h.matchedBy.slice(0, 40)}…'`);
    if (bad) return bad;
  }
  return undefined;
}

/** `matchedBy` prefix of a host a System reaches through one of its Components (`system:<componentRef>`). */
export const MATCHED_BY_SYSTEM_PART = 'system:';

type Host = IndexedEntity['hosts'][number];

function refOf(entity: Entity): string {
  return stringifyEntityRef(entity).toLowerCase();
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function environmentOf(entity: Entity): string {
  const spec = (entity.spec ?? {}) as Record<string, unknown>;
  const env = typeof spec.environment === 'string' && spec.environment ? spec.environment : entity.metadata.labels?.[LABEL_ENVIRONMENT];
  return env ? env.trim() : ALL_ENVIRONMENTS;
}

function specType(entity: Entity): string | undefined {
  const t = (entity.spec as Record<string, unknown> | undefined)?.type;
  return typeof t === 'string' ? t.toLowerCase() : undefined;
}

/** Identifiers of a host Resource: its hostname, instance-id and ip annotations, else its name. */
export function hostResourceValues(resource: Entity): string[] {
  const a = resource.metadata.annotations ?? {};
  const values = [ANNOTATION_HOSTNAME, ANNOTATION_INSTANCE_ID, ANNOTATION_IP].flatMap(k => (a[k] ? splitHosts(a[k]) : []));
  return values.length ? values : [normalizeHostValue(resource.metadata.name)];
}

/** Lower-cased refs of the entity's `dependsOn` targets (relations and `spec.dependsOn`). */
function dependsOnRefs(entity: Entity): string[] {
  const namespace = entity.metadata.namespace ?? 'default';
  const refs = new Set<string>();
  for (const r of entity.relations ?? []) if (r.type === 'dependsOn') refs.add(r.targetRef.toLowerCase());
  for (const ref of stringList((entity.spec as Record<string, unknown> | undefined)?.dependsOn)) {
    try {
      refs.add(stringifyEntityRef(parseEntityRef(ref, { defaultNamespace: namespace })).toLowerCase());
    } catch (e) {
      // not an entity ref: the catalog reports it; nothing to follow here
      continue;
    }
  }
  return [...refs].sort();
}

/** Lower-cased refs of the entities a Resource's `spec.dependencyOf` (or `dependencyOf` relations) names. */
function dependencyOfRefs(entity: Entity): string[] {
  const namespace = entity.metadata.namespace ?? 'default';
  const refs = new Set<string>();
  for (const r of entity.relations ?? []) if (r.type === 'dependencyOf') refs.add(r.targetRef.toLowerCase());
  for (const ref of stringList((entity.spec as Record<string, unknown> | undefined)?.dependencyOf)) {
    try {
      refs.add(stringifyEntityRef(parseEntityRef(ref, { defaultKind: 'component', defaultNamespace: namespace })).toLowerCase());
    } catch (e) {
      // not an entity ref: the catalog reports it; nothing to follow here
      continue;
    }
  }
  return [...refs].sort();
}

/** Lower-cased refs of the Systems an entity belongs to (`spec.system`, `partOf` relations to a System). */
function systemsOf(entity: Entity): string[] {
  const refs = new Set<string>();
  const own = systemRefOf(entity);
  if (own) refs.add(own);
  for (const r of entity.relations ?? []) {
    if (r.type === 'partOf' && r.targetRef.toLowerCase().startsWith('system:')) refs.add(r.targetRef.toLowerCase());
  }
  return [...refs].sort();
}

function systemRefOf(entity: Entity): string | undefined {
  const system = (entity.spec as Record<string, unknown> | undefined)?.system;
  if (typeof system !== 'string' || !system) return undefined;
  try {
    return stringifyEntityRef(
      parseEntityRef(system, { defaultKind: 'system', defaultNamespace: entity.metadata.namespace ?? 'default' }),
    ).toLowerCase();
  } catch (e) {
    // a malformed system ref reaches no Resources
    return undefined;
  }
}

/** Collects hosts of one entity, merging the rules of a value seen more than once in the same environment. */
class HostCollector {
  private readonly byKey = new Map<string, { environment: string; value: string; rules: string[] }>();

  add(environment: string, value: string, matchedBy: string): void {
    if (!value) return;
    const key = `${environment}\u0000${value}`;
    const existing = this.byKey.get(key);
    if (!existing) this.byKey.set(key, { environment, value, rules: [matchedBy] });
    else if (!existing.rules.includes(matchedBy)) existing.rules.push(matchedBy);
  }

  entries(): { environment: string; value: string; rules: string[] }[] {
    return [...this.byKey.values()];
  }

  hosts(): Host[] {
    return this.entries()
      .map(e => {
        let matchedBy = e.rules[0];
        for (const r of e.rules.slice(1)) {
          const next = `${matchedBy}${RULE_SEPARATOR}${r}`;
          if (next.length > MAX_MATCHED_BY) break;
          matchedBy = next;
        }
        return { environment: e.environment, value: e.value, matchedBy: matchedBy.slice(0, MAX_MATCHED_BY) };
      })
      .sort((a, b) => (a.environment + a.value < b.environment + b.value ? -1 : 1));
  }
}

/** The Kubernetes selectors of an entity: `kubernetes-id` and `kubernetes-label-selector`. */
function kubernetesSelectors(entity: Entity, problems: IndexProblem[]): { selector: LabelSelector; matchedBy: string }[] {
  const a = entity.metadata.annotations ?? {};
  const out: { selector: LabelSelector; matchedBy: string }[] = [];
  const id = a[ANNOTATION_KUBERNETES_ID]?.trim();
  if (id) out.push({ selector: [{ key: ANNOTATION_KUBERNETES_ID, operator: 'in', values: [id] }], matchedBy: MATCHED_BY_KUBERNETES_ID });
  const text = a[ANNOTATION_KUBERNETES_LABEL_SELECTOR];
  if (text !== undefined) {
    try {
      out.push({ selector: parseLabelSelector(text), matchedBy: MATCHED_BY_LABEL_SELECTOR });
    } catch (e) {
      problems.push({ entityRef: refOf(entity), message: `${ANNOTATION_KUBERNETES_LABEL_SELECTOR}: ${(e as Error).message}` });
    }
  }
  return out;
}

/**
 * Builds the correlation index of every entity from the whole catalog, the
 * known assets and the inventory, in the order of DESIGN "Correlation":
 * annotations, catalog relations, Kubernetes, inventory. CIDR blocks and label
 * selectors are resolved here into the concrete identifiers of known assets
 * (IPs, `pod:` values, node names), so that the gate only ever looks hosts up
 * by exact identifier.
 */
export function buildIndex(options: BuildIndexOptions): { entries: IndexedEntity[]; problems: IndexProblem[] } {
  const { entities, assets, inventory, updatedAt } = options;
  const problems: IndexProblem[] = [];
  const byRef = new Map(entities.map(e => [refOf(e), e]));

  const hostResources = entities.filter(
    e => e.kind.toLowerCase() === 'resource' && HOST_RESOURCE_TYPES.includes(specType(e) ?? ''),
  );
  const isHostResource = new Set(hostResources);
  const resourcesBySystem = new Map<string, Entity[]>();
  for (const r of hostResources) {
    const system = systemRefOf(r);
    if (system) resourcesBySystem.set(system, [...(resourcesBySystem.get(system) ?? []), r]);
  }
  const clusterEnvironments = new Map<string, string>();
  for (const e of entities) {
    if (e.kind.toLowerCase() !== 'resource' || specType(e) !== 'kubernetes-cluster') continue;
    const name = (e.metadata.annotations?.[ANNOTATION_CLUSTER] ?? e.metadata.name).trim().toLowerCase();
    const env = environmentOf(e);
    if (env !== ALL_ENVIRONMENTS) clusterEnvironments.set(name, env);
  }
  const inventoryByRef = new Map<string, InventoryEntry[]>();
  for (const entry of inventory) inventoryByRef.set(entry.entityRef, [...(inventoryByRef.get(entry.entityRef) ?? []), entry]);
  for (const ref of inventoryByRef.keys()) {
    if (!byRef.has(ref)) problems.push({ entityRef: ref, message: 'inventory names an entity the catalog does not have' });
  }
  for (const entry of inventory) for (const h of entry.hosts) assets.addIp(h);
  // built on the first CIDR block only: sorting every known IP costs more than the rest of a build without CIDRs
  let knownIps: IpIndex | undefined;

  // Resources whose spec.dependencyOf names an entity, by that entity's ref
  const dependencyOf = new Map<string, Entity[]>();
  for (const r of hostResources) {
    for (const target of dependencyOfRefs(r)) dependencyOf.set(target, [...(dependencyOf.get(target) ?? []), r]);
  }
  // Components of each System (spec.system or partOf)
  const componentsBySystem = new Map<string, string[]>();
  for (const [ref, e] of byRef) {
    if (e.kind.toLowerCase() !== 'component') continue;
    for (const system of systemsOf(e)) componentsBySystem.set(system, [...(componentsBySystem.get(system) ?? []), ref]);
  }

  const entries: IndexedEntity[] = [];
  const collectors = new Map<string, { base: IndexedEntity; hosts: HostCollector }>();
  for (const [ref, entity] of byRef) {
    const base = indexEntity(entity, updatedAt);
    const hosts = new HostCollector();
    const isSystem = entity.kind.toLowerCase() === 'system';
    // 1. annotations
    for (const h of base.hosts) hosts.add(h.environment, h.value, h.matchedBy);
    // 2. catalog relations: the host Resources the entity depends on, and those naming it in spec.dependencyOf
    for (const target of dependsOnRefs(entity)) {
      const resource = byRef.get(target);
      if (!resource || !isHostResource.has(resource)) continue;
      const env = environmentOf(resource);
      for (const v of hostResourceValues(resource)) hosts.add(env, v, `relation:dependsOn:${target}`);
    }
    for (const resource of dependencyOf.get(ref) ?? []) {
      const env = environmentOf(resource);
      for (const v of hostResourceValues(resource)) hosts.add(env, v, `relation:dependencyOf:${refOf(resource)}`);
    }
    // a System's own host Resources; a Component's sibling Resources only with inheritSystemResources
    const system = systemRefOf(entity);
    if (isSystem) {
      for (const resource of resourcesBySystem.get(ref) ?? []) {
        const env = environmentOf(resource);
        for (const v of hostResourceValues(resource)) hosts.add(env, v, `relation:hasPart:${refOf(resource)}`);
      }
    } else if (options.inheritSystemResources && system && entity.kind.toLowerCase() !== 'resource') {
      for (const resource of resourcesBySystem.get(system) ?? []) {
        const env = environmentOf(resource);
        for (const v of hostResourceValues(resource)) hosts.add(env, v, `relation:system:${refOf(resource)}`);
      }
    }
    // 3. Kubernetes: pods matching the selectors, and the nodes they run on
    const namespace = entity.metadata.annotations?.[ANNOTATION_KUBERNETES_NAMESPACE]?.trim().toLowerCase();
    for (const { selector, matchedBy } of kubernetesSelectors(entity, problems)) {
      for (const pod of assets.candidatePods(selector)) {
        if (namespace && pod.namespace !== namespace) continue;
        if (!selectorMatches(selector, pod.labels)) continue;
        const env = pod.labels[LABEL_ENVIRONMENT] ?? clusterEnvironments.get(pod.cluster) ?? ALL_ENVIRONMENTS;
        hosts.add(env, pod.key, matchedBy);
        if (pod.node) hosts.add(env, pod.node, MATCHED_BY_NODE);
      }
    }
    // 4. inventory
    for (const entry of inventoryByRef.get(ref) ?? []) {
      for (const h of entry.hosts.flatMap(splitHosts)) hosts.add(entry.environment ?? ALL_ENVIRONMENTS, h, MATCHED_BY_INVENTORY);
    }
    // CIDR blocks (of any rule) reach the known IPs inside them, with the block's environment and rules
    for (const e of hosts.entries()) {
      const cidr = parseCidr(e.value);
      if (!cidr) continue;
      knownIps ??= new IpIndex(assets.ips);
      for (const ip of knownIps.within(cidr)) for (const r of e.rules) hosts.add(e.environment, ip, r);
    }
    collectors.set(ref, { base, hosts });
  }
  for (const [ref, { base, hosts }] of collectors) {
    if (base.kind.toLowerCase() === 'system') {
      const parts = (componentsBySystem.get(ref) ?? []).flatMap(c => {
        const part = collectors.get(c);
        return part ? [{ entityRef: c, entry: { ...part.base, hosts: part.hosts.hosts() } }] : [];
      });
      addSystemParts(hosts, parts);
      entries.push({
        ...base,
        hosts: hosts.hosts(),
        parts: parts
          .map(p => ({ entityRef: p.entityRef, environments: environmentsWithHosts(p.entry) }))
          .sort((a, b) => (a.entityRef < b.entityRef ? -1 : 1)),
      });
    } else {
      entries.push({ ...base, hosts: hosts.hosts() });
    }
  }
  // values the index cannot store leave their entity out (logged), never the whole rebuild
  const storable = entries.filter(entry => {
    const why = unstorableReason(entry);
    if (why) problems.push({ entityRef: entry.entityRef.slice(0, 200), message: `left out of the index: ${why}` });
    return !why;
  });
  return { entries: storable, problems };
}

/** The environments in which an indexed entity has hosts (`*`: every environment, through all-environment entries). */
function environmentsWithHosts(entry: IndexedEntity): string[] {
  const envs = new Set<string>();
  for (const e of new Set(entry.hosts.map(h => h.environment))) {
    if (hostsForEnvironment(entry, e).length) envs.add(e);
  }
  return [...envs].sort();
}

/**
 * A System reaches the hosts of its Components (`system:<componentRef>`), as
 * each Component has them per environment: for every environment any Component
 * names, each Component's hosts of that environment (annotation replacement
 * applied); for the rest, their all-environment hosts. `hostsForEnvironment`
 * then takes a System's environment entries instead of its all-environment
 * ones for these rules.
 */
function addSystemParts(hosts: HostCollector, parts: { entityRef: string; entry: IndexedEntity }[]): void {
  const environments = new Set<string>();
  for (const p of parts) for (const h of p.entry.hosts) if (h.environment !== ALL_ENVIRONMENTS) environments.add(h.environment);
  for (const p of parts) {
    const rule = `${MATCHED_BY_SYSTEM_PART}${p.entityRef}`;
    for (const h of hostsForEnvironment(p.entry, ALL_ENVIRONMENTS)) hosts.add(ALL_ENVIRONMENTS, h.value, rule);
    for (const env of environments) for (const h of hostsForEnvironment(p.entry, env)) hosts.add(env, h.value, rule);
  }
}
