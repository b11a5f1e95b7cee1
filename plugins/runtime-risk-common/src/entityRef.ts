import { makeValidator } from '@backstage/catalog-model';

const validators = makeValidator();

/**
 * Kind: a letter, then letters and digits, with single dashes inside (Backstage's
 * default kind validator, widened by the dash), at most 63 characters.
 */
const KIND = /^[a-zA-Z][a-zA-Z0-9]*(?:-[a-zA-Z0-9]+)*$/;

/** The parts of a strictly parsed entity ref. */
export interface StrictEntityRef {
  kind: string;
  namespace: string;
  name: string;
}

/**
 * Parses `[kind:][namespace/]name` strictly: at most one `:` (before the `/`), at most
 * one `/`, every part present non-empty and valid by Backstage's validators
 * (namespace and name: `[a-zA-Z0-9]` with `-_.` inside, at most 63 characters).
 * Unlike `parseEntityRef`, refs such as `a/b/c/` or `component:default/` are rejected.
 * Throws an Error saying what is wrong.
 */
export function parseEntityRefStrict(
  ref: string,
  defaults: { defaultKind: string; defaultNamespace: string },
): StrictEntityRef {
  if (typeof ref !== 'string') throw new Error('must be a string');
  const colons = ref.split(':').length - 1;
  const slashes = ref.split('/').length - 1;
  if (colons > 1) throw new Error('more than one ":"');
  if (slashes > 1) throw new Error('more than one "/"');
  const colon = ref.indexOf(':');
  const slash = ref.indexOf('/');
  if (colon >= 0 && slash >= 0 && colon > slash) throw new Error('":" after "/"');
  const kind = colon >= 0 ? ref.slice(0, colon) : defaults.defaultKind;
  const rest = colon >= 0 ? ref.slice(colon + 1) : ref;
  const namespace = slash >= 0 ? rest.slice(0, rest.indexOf('/')) : defaults.defaultNamespace;
  const name = slash >= 0 ? rest.slice(rest.indexOf('/') + 1) : rest;
  if (!kind) throw new Error('empty kind');
  if (kind.length > 63 || !KIND.test(kind)) throw new Error('invalid kind');
  if (!namespace) throw new Error('empty namespace');
  // as the name (Backstage's default namespace validator is the stricter DNS label; refs are case-insensitive)
  if (!validators.isValidEntityName(namespace)) throw new Error('invalid namespace');
  if (!name) throw new Error('empty name');
  if (!validators.isValidEntityName(name)) throw new Error('invalid name');
  return { kind, namespace, name };
}

/**
 * The comparison key of an entity ref: refs name entities case-insensitively
 * (`user:default/Alice` is `user:default/alice`), so every comparison of refs
 * (requester and approver, owners, group membership) goes through this key.
 */
export function entityRefKey(ref: string): string {
  return ref.trim().toLocaleLowerCase('en-US');
}

/** True when `a` and `b` name the same entity (case-insensitive; either may be absent). */
export function sameEntityRef(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  return entityRefKey(a) === entityRefKey(b);
}
