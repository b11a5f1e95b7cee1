import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import { stringifyEntityRef } from '@backstage/catalog-model';
import {
  entityRefKey,
  sameEntityRef,
  type RequestedBy,
  type Requester,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

export type { RequestedBy, Requester };

/** The catalog annotation naming a User's login at each provider the gate request may name. */
export const REQUESTER_ANNOTATIONS: Record<RequestedBy['provider'], string> = {
  github: 'github.com/user-login',
  gitlab: 'gitlab.com/user-login',
};

/** How long a lookup is reused (a login's user rarely changes; a new user shows within this). */
export const REQUESTER_CACHE_MS = 60_000;
const CACHE_MAX = 5_000;

type Lookup = { entityRef: string | null; note?: string };

/**
 * Resolves `requestedBy` to a User entity with the plugin's own credentials:
 * one filtered catalog query by annotation per login (never a crawl), reused
 * for {@link REQUESTER_CACHE_MS}; concurrent lookups of one login share a query.
 */
export class RequesterResolver {
  private readonly cache = new Map<string, { until: number; lookup: Promise<Lookup> }>();

  constructor(
    private readonly options: {
      catalog: Pick<CatalogService, 'getEntities'>;
      auth: Pick<AuthService, 'getOwnServiceCredentials'>;
      logger?: LoggerService;
      clock?: () => number;
      ttlMs?: number;
    },
  ) {}

  async resolve(requestedBy: RequestedBy, assertedBy: string): Promise<Requester> {
    const { entityRef, note } = await this.lookup(requestedBy);
    const out: Requester = {
      provider: requestedBy.provider,
      login: requestedBy.login,
      entityRef,
      resolved: entityRef !== null,
      assertedBy,
    };
    if (note) out.note = note;
    return out;
  }

  private lookup(requestedBy: RequestedBy): Promise<Lookup> {
    const now = this.options.clock?.() ?? Date.now();
    const key = `${requestedBy.provider}\n${requestedBy.login.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.lookup;
    if (this.cache.size >= CACHE_MAX) {
      for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
    }
    const lookup = this.query(requestedBy);
    this.cache.set(key, { until: now + (this.options.ttlMs ?? REQUESTER_CACHE_MS), lookup });
    // an outage is not remembered: the next request asks again
    lookup.then(l => l.note === CATALOG_UNAVAILABLE && this.cache.delete(key)).catch(() => this.cache.delete(key));
    return lookup;
  }

  private async query({ provider, login }: RequestedBy): Promise<Lookup> {
    const annotation = REQUESTER_ANNOTATIONS[provider];
    try {
      const credentials = await this.options.auth.getOwnServiceCredentials();
      const { items } = await this.options.catalog.getEntities(
        {
          filter: { kind: 'User', [`metadata.annotations.${annotation}`]: login },
          fields: ['kind', 'metadata.namespace', 'metadata.name', `metadata.annotations.${annotation}`],
        },
        { credentials },
      );
      // the catalog's filter ignores case; logins at GitHub and GitLab do too
      const refs = [
        ...new Set(
          items
            .filter(e => (e.metadata.annotations?.[annotation] ?? '').toLowerCase() === login.toLowerCase())
            .map(e => entityRefKey(stringifyEntityRef(e))),
        ),
      ];
      if (refs.length === 1) return { entityRef: refs[0] };
      if (refs.length === 0) return { entityRef: null, note: `no User entity has ${annotation}: ${login}` };
      return { entityRef: null, note: `several User entities have ${annotation}: ${login} (${refs.join(', ')})` };
    } catch (e) {
      this.options.logger?.warn(`runtime-risk could not resolve requester ${provider}:${login}: ${(e as Error).message}`);
      return { entityRef: null, note: CATALOG_UNAVAILABLE };
    }
  }
}

const CATALOG_UNAVAILABLE = 'catalog unavailable';

/** The refs that asked for a recorded decision: the token's principal and the person it named. */
export interface DecisionRequesters {
  /** The token's subject (service) or user ref. */
  assertedBy?: string;
  requester?: Requester;
}

/**
 * Why `actor` may not approve, reject or override a decision of `who`, or
 * undefined when they may: the actor is the token's principal, the resolved
 * requester, or (unresolved) a user whose name is the claimed login.
 */
export function selfApproval(actor: string, who: DecisionRequesters): string | undefined {
  if (sameEntityRef(actor, who.assertedBy)) return `${actor} asked the gate for this deployment`;
  const r = who.requester;
  if (!r) return undefined;
  if (r.entityRef && sameEntityRef(actor, r.entityRef)) {
    return `${actor} requested this deployment (${r.provider} login '${r.login}', asserted by ${r.assertedBy})`;
  }
  if (!r.entityRef && actor.toLowerCase().startsWith('user:')) {
    const name = actor.slice(actor.indexOf('/') + 1);
    if (name.toLowerCase() === r.login.toLowerCase()) {
      return `${actor} has the name of the unresolved requester (${r.provider} login '${r.login}', asserted by ${r.assertedBy})`;
    }
  }
  return undefined;
}
