import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import { ANNOTATION_HOSTS } from '@internal/plugin-runtime-risk-common';
import type { IndexedEntity } from '../store/types';

/** The environment key of hosts that apply to every environment without their own entry. */
export const ALL_ENVIRONMENTS = '*';

/** `matchedBy` of hosts found through the generic annotation. */
export const MATCHED_BY_ANNOTATION = `annotation:${ANNOTATION_HOSTS}`;

function splitHosts(value: string): string[] {
  return [...new Set(value.split(',').map(v => v.trim().toLowerCase()).filter(Boolean))];
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
  return {
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

/** Hosts of an indexed entity for one environment: its own entries if any, else the all-environment ones. */
export function hostsForEnvironment(entity: IndexedEntity, environment: string): IndexedEntity['hosts'] {
  const own = entity.hosts.filter(h => h.environment === environment);
  return own.length > 0 ? own : entity.hosts.filter(h => h.environment === ALL_ENVIRONMENTS);
}

/** What correlation tries, for the `uncorrelated` reason. */
export function correlationTried(environment: string): string[] {
  return [MATCHED_BY_ANNOTATION, `${MATCHED_BY_ANNOTATION}.${environment}`];
}
