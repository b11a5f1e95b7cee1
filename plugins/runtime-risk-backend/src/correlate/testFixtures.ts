import type { Entity } from '@backstage/catalog-model';

/** A Resource entity for correlation tests. */
export function resource(
  name: string,
  spec: Record<string, unknown>,
  annotations: Record<string, string> = {},
  labels: Record<string, string> = {},
): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Resource',
    metadata: { name, namespace: 'default', annotations, labels },
    spec: { owner: 'team-a', ...spec },
  };
}

/** The entity with `dependsOn` relations as the catalog writes them. */
export function withDependsOn(entity: Entity, ...targets: string[]): Entity {
  return { ...entity, relations: targets.map(targetRef => ({ type: 'dependsOn', targetRef })) };
}

