import { NotAllowedError } from '@backstage/errors';
import type { BackstageCredentials } from '@backstage/backend-plugin-api';
import type { Permission } from '@backstage/plugin-permission-common';

/** What a service principal carries when `backend.auth.externalAccess[].accessRestrictions` limit its token. */
interface ServicePrincipalLike {
  type: 'service';
  subject?: string;
  accessRestrictions?: { permissionNames?: string[]; permissionAttributes?: unknown };
}

/**
 * True when `credentials` are a service's whose access restrictions name
 * `permission` explicitly. Backstage's permissions service allows service
 * principals everything their restrictions do not exclude, and an unrestricted
 * static token has none; a human decision asks for more: the name itself.
 */
export function serviceExplicitlyGranted(credentials: BackstageCredentials, permission: Permission): boolean {
  const principal = credentials.principal as ServicePrincipalLike | { type: string };
  if (principal.type !== 'service') return false;
  const names = (principal as ServicePrincipalLike).accessRestrictions?.permissionNames;
  return Array.isArray(names) && names.includes(permission.name);
}

/**
 * Human decisions (approve, reject, override, exception request and revoke)
 * need a user principal. A service principal is refused (403) unless its token's
 * `accessRestrictions` list one of `permissions` by name; anything else
 * (no principal, an unrestricted service token) is refused too.
 */
export function assertHumanOrGranted(credentials: BackstageCredentials, permissions: Permission[], what: string): void {
  const type = (credentials.principal as { type?: string }).type;
  if (type === 'user') return;
  if (type === 'service' && permissions.some(p => serviceExplicitlyGranted(credentials, p))) return;
  const names = permissions.map(p => `'${p.name}'`).join(' or ');
  throw new NotAllowedError(
    `only a person can ${what}; a service token may only if backend.auth.externalAccess[].accessRestrictions grant it ${names} by name`,
  );
}
