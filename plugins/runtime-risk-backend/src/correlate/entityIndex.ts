import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import { ANNOTATION_HOSTS } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { IndexedEntity } from '../store/types';
import { normalizeIp, parseCidr } from './identifiers';

/** The environment key of hosts that apply to every environment without their own entry. */
export const ALL_ENVIRONMENTS = '*';

/** `matchedBy` of hosts found through the generic annotation. */
export const MATCHED_BY_ANNOTATION = `annotation:${ANNOTATION_HOSTS}`;

/** The repository (`owner/name`) of an entity, as GitHub integrations read it; indexed lower-cased. */
export const ANNOTATION_GITHUB_PROJECT_SLUG = 'github.com/project-slug';

/** A host value as indexed: lower-cased, IPs and CIDR blocks in canonical form. */
export function normalizeHostValue(value: string): string {
  const v = value.trim().toLowerCase();
  return normalizeIp(v) ?? parseCidr(v)?.text ?? v;
}

/** Splits a comma (or whitespace) separated host list into normalized, distinct values. */
export function splitHosts(value: string): string[] {
  return [...new Set(value.split(/[,\s]+/).map(normalizeHostValue).filter(Boolean))];
}

/** Separator of several rules in one `matchedBy` (a host reached by more than one rule). */
export const RULE_SEPARATOR = ', ';

/** The rules of a `matchedBy` value. */
export function rulesOf(matchedBy: string): string[] {
  return matchedBy.split(RULE_SEPARATOR).filter(Boolean);
}

function refOf(value: unknown, defaultKind: string, namespace: string): string | null {
  if (typeof value !== 'string' || !value) return null;
  const hasKind = value.includes(':');
  const hasNs = value.includes('/');
  const ref = `${hasKind ? '' : `${defaultKind}:`}${hasNs || hasKind ? '' : `${namespace}/`}${value}`;
  return ref.toLowerCase();
}

/**
 * The correlation index entry of a catalog entity: `runtime-risk.io/hosts`
 * (comma list) applies to every environment, `runtime-risk.io/hosts.<env>`
 * replaces it for that environment.
 */
export function indexEntity(entity: Entity, updatedAt: string): IndexedEntity {
  const namespace = entity.metadata.namespace ?? 'default';
  const annotations = entity.metadata.annotations ?? {};
  const hosts: IndexedEntity['hosts'] = [];
  for (const [key, value] of Object.entries(annotations)) {
    if (typeof value !== 'string') continue;
    let environment: string | undefined;
    if (key === ANNOTATION_HOSTS) environment = ALL_ENVIRONMENTS;
    else if (key.startsWith(`${ANNOTATION_HOSTS}.`)) environment = key.slice(ANNOTATION_HOSTS.length + 1);
    if (!environment) continue;
    for (const host of splitHosts(value)) {
      hosts.push({ environment, value: host, matchedBy: `annotation:${key}` });
    }
  }
  const spec = (entity.spec ?? {}) as Record<string, unknown>;
  const projectSlug = annotations[ANNOTATION_GITHUB_PROJECT_SLUG]?.trim().toLowerCase();
  return {
    ...(projectSlug ? { projectSlug } : {}),
    entityRef: stringifyEntityRef(entity).toLowerCase(),
    kind: entity.kind,
    namespace,
    name: entity.metadata.name,
    owner: refOf(spec.owner, 'group', namespace),
    system: refOf(spec.system, 'system', namespace),
    hosts: hosts.sort((a, b) => (a.environment + a.value < b.environment + b.value ? -1 : 1)),
    updatedAt,
  };
}

/**
 * Hosts of an indexed entity for one environment. Entries of that environment
 * and of every environment (`*`) both apply, except that hosts of the generic
 * annotation `runtime-risk.io/hosts` are replaced by
 * `runtime-risk.io/hosts.<environment>` when the entity has that annotation
 * (DESIGN "Host annotations"). Hosts of another environment never apply. A
 * host reached by several rules is listed once with all its rules.
 */
export function hostsForEnvironment(entity: IndexedEntity, environment: string): IndexedEntity['hosts'] {
  const envAnnotation = `${MATCHED_BY_ANNOTATION}.${environment}`;
  const replaced = entity.hosts.some(h => h.environment === environment && rulesOf(h.matchedBy).includes(envAnnotation));
  // a System's hosts through its Components are materialised per environment (indexBuilder `addSystemParts`)
  const partsReplaced = entity.hosts.some(h => h.environment === environment && rulesOf(h.matchedBy).some(isSystemPartRule));
  const byValue = new Map<string, { environment: string; rules: string[] }>();
  // environment-specific entries first, so that their environment is the one reported
  const ordered = [
    ...entity.hosts.filter(h => h.environment === environment),
    ...entity.hosts.filter(h => h.environment === ALL_ENVIRONMENTS && environment !== ALL_ENVIRONMENTS),
  ];
  for (const h of ordered) {
    let rules = rulesOf(h.matchedBy);
    if (replaced && h.environment === ALL_ENVIRONMENTS) rules = rules.filter(r => r !== MATCHED_BY_ANNOTATION);
    if (partsReplaced && h.environment === ALL_ENVIRONMENTS) rules = rules.filter(r => !isSystemPartRule(r));
    if (rules.length === 0) continue;
    const existing = byValue.get(h.value);
    if (existing) {
      for (const r of rules) if (!existing.rules.includes(r)) existing.rules.push(r);
    } else {
      byValue.set(h.value, { environment: h.environment, rules: [...rules] });
    }
  }
  return [...byValue.entries()]
    .map(([value, e]) => ({ environment: e.environment, value, matchedBy: e.rules.join(RULE_SEPARATOR) }))
    .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
}

/** Whether a rule is a System's host through one of its Components (`system:<componentRef>`). */
export function isSystemPartRule(rule: string): boolean {
  return rule.startsWith('system:');
}

/**
 * The Components of an indexed System that have no host in the environment
 * (sorted refs); empty for other entities.
 */
export function partsWithoutHosts(entity: IndexedEntity, environment: string): string[] {
  return (entity.parts ?? [])
    .filter(p => !p.environments.includes(environment) && !p.environments.includes(ALL_ENVIRONMENTS))
    .map(p => p.entityRef)
    .sort();
}

/** Every way correlation tries to reach hosts, for the `uncorrelated` reason. */
export function correlationTried(environment: string, entity?: IndexedEntity): string[] {
  const isSystem = entity?.kind.toLowerCase() === 'system';
  const tried = [
    MATCHED_BY_ANNOTATION,
    `${MATCHED_BY_ANNOTATION}.${environment}`,
    ...(isSystem
      ? [
          `system (the hosts of its Components: ${entity?.parts?.length ? entity.parts.map(p => p.entityRef).join(', ') : 'none'})`,
          'relation:hasPart (its own Resources of type host, vm, node)',
        ]
      : [
          'relation:dependsOn (Resources of type host, vm, node)',
          'relation:dependencyOf (Resources of type host, vm, node naming it in spec.dependencyOf)',
        ]),
    'kubernetes:kubernetes-id',
    'kubernetes:label-selector',
    'kubernetes:node',
    'inventory',
  ];
  if (entity) {
    const elsewhere = [...new Set(entity.hosts.map(h => h.environment))].filter(e => e !== environment && e !== ALL_ENVIRONMENTS);
    if (elsewhere.length) tried.push(`(hosts exist only for other environments: ${elsewhere.sort().join(', ')})`);
  }
  return tried;
}
