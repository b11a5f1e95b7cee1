import { NotAllowedError } from '@backstage/errors';
import type { BackstageCredentials, PermissionsService } from '@backstage/backend-plugin-api';
import { AuthorizeResult, type BasicPermission } from '@backstage/plugin-permission-common';
import { catalogEntityReadPermission } from '@backstage/plugin-catalog-common/alpha';

/** How long a positive "may read this entity" answer is reused for the same principal. */
export const VISIBILITY_CACHE_MS = 5_000;
const VISIBILITY_CACHE_MAX = 10_000;

export interface AccessOptions {
  permissions: PermissionsService;
  /** `permission.enabled` of the app config; approvals, overrides and exceptions refuse to run without it. */
  permissionsEnabled: boolean;
  clock?: () => number;
}

/** One key per principal: the user's ref, or the service's subject with its restrictions. */
export function principalKey(credentials: BackstageCredentials): string {
  const p = credentials.principal as { type: string; userEntityRef?: string; subject?: string; accessRestrictions?: unknown };
  if (p.type === 'user') return `user:${p.userEntityRef}`;
  if (p.type === 'service') return `service:${p.subject}:${JSON.stringify(p.accessRestrictions ?? null)}`;
  return p.type;
}

/**
 * Who may do what, for the routes: plugin permissions (`runtime-risk.*`), the
 * fail-closed check of `permission.enabled` for human decisions, and entity
 * visibility, which follows the catalog: `catalog.entity.read` with the entity
 * as resource, asked of Backstage's permissions service with the caller's
 * credentials (a user goes to the permission policy; a service token is
 * decided by its access restrictions). An entity the caller may not read must
 * look unknown, so the routes answer it with their usual 404.
 */
export class Access {
  /** Positive answers: principal key -> entity ref -> until (ms); two levels, so a lookup builds no key string. */
  private readonly seen = new Map<string, Map<string, number>>();
  private seenSize = 0;

  constructor(private readonly options: AccessOptions) {}

  private now(): number {
    return this.options.clock?.() ?? Date.now();
  }

  /** 403 unless `credentials` hold `permission` (a basic, non-resource permission). */
  async require(credentials: BackstageCredentials, permission: BasicPermission): Promise<void> {
    const [answer] = await this.options.permissions.authorize([{ permission }], { credentials });
    if (answer.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(`not allowed: this needs the permission '${permission.name}'`);
    }
  }

  /**
   * 403 naming `permission.enabled` when the permission framework is off: then
   * every permission check answers ALLOW, so anyone signed in could `what`.
   */
  requireFramework(what: string): void {
    if (!this.options.permissionsEnabled) {
      throw new NotAllowedError(
        `refusing to ${what}: the permission framework is off (set permission.enabled: true and a permission policy in app-config)`,
      );
    }
  }

  /** True when the caller may read `entityRef` in the catalog. */
  async canRead(credentials: BackstageCredentials, entityRef: string): Promise<boolean> {
    return (await this.readable(credentials, [entityRef])).has(entityRef);
  }

  /**
   * The subset of `entityRefs` the caller may read in the catalog, asked in one
   * batched permission request (positive answers are reused for a few seconds).
   */
  async readable(credentials: BackstageCredentials, entityRefs: Iterable<string>): Promise<Set<string>> {
    const key = principalKey(credentials);
    const now = this.now();
    const out = new Set<string>();
    const ask: string[] = [];
    const mine = this.seen.get(key);
    for (const ref of new Set(entityRefs)) {
      const until = mine?.get(ref);
      if (until !== undefined && until > now) out.add(ref);
      else ask.push(ref);
    }
    if (ask.length === 0) return out;
    const answers = await this.options.permissions.authorize(
      ask.map(resourceRef => ({ permission: catalogEntityReadPermission, resourceRef })),
      { credentials },
    );
    if (this.seenSize > VISIBILITY_CACHE_MAX) this.prune(now);
    let forKey = this.seen.get(key);
    ask.forEach((ref, i) => {
      if (answers[i]?.result === AuthorizeResult.ALLOW) {
        out.add(ref);
        if (!forKey) this.seen.set(key, (forKey = new Map()));
        if (!forKey.has(ref)) this.seenSize++;
        forKey.set(ref, now + VISIBILITY_CACHE_MS);
      }
    });
    return out;
  }

  private prune(now: number) {
    for (const [k, refs] of this.seen) {
      for (const [ref, until] of refs) {
        if (until <= now) {
          refs.delete(ref);
          this.seenSize--;
        }
      }
      if (refs.size === 0) this.seen.delete(k);
    }
    if (this.seenSize > VISIBILITY_CACHE_MAX) {
      this.seen.clear();
      this.seenSize = 0;
    }
  }
}
