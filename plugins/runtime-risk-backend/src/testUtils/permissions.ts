import type { PermissionsService } from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';

/** The users of the router tests. */
export const DEV = 'user:default/dev';
export const LEAD = 'user:default/security-lead';
export const SECURITY = 'user:default/security';
export const OUTSIDER = 'user:default/outsider';
/** The security people: they may approve. */
export const APPROVERS = new Set([LEAD, SECURITY]);

/**
 * The permission policy of the router tests: anyone but the outsider may request
 * an exception (only users when `createRequiresUser`), the security people may
 * approve, and only `overrider` (if any) may override a decision; everyone may
 * read every entity, ask the gate and read decisions, sources and audit
 * (see {@link EVERYONE}). Everything else is denied.
 */
export function securityTeamPolicy(options: { createRequiresUser?: boolean; overrider?: string } = {}): PermissionsService['authorize'] {
  return async (requests, authorizeOptions) => {
    const principal = authorizeOptions.credentials.principal as { type: string; userEntityRef?: string };
    const user = principal.type === 'user' ? principal.userEntityRef : undefined;
    return requests.map(r => {
      const name = r.permission.name;
      let allow = EVERYONE.has(name);
      if (name === 'runtime-risk.exception.create') allow = (!options.createRequiresUser || !!user) && user !== OUTSIDER;
      if (name === 'runtime-risk.exception.approve') allow = !!user && APPROVERS.has(user);
      if (name === 'runtime-risk.decision.override') allow = options.overrider !== undefined && user === options.overrider;
      return { result: allow ? AuthorizeResult.ALLOW : AuthorizeResult.DENY };
    });
  };
}

/** What the router tests' policy grants every caller. */
export const EVERYONE = new Set([
  'catalog.entity.read',
  'runtime-risk.gate.evaluate',
  'runtime-risk.decision.read',
  'runtime-risk.admin.read',
  'runtime-risk.policy.read',
]);

/** A permission policy allowing everything. */
export const allowAll: PermissionsService['authorize'] = async requests =>
  requests.map(() => ({ result: AuthorizeResult.ALLOW }));
