import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { EntityIndexStore, IndexedEntity, SignalStore } from '../store/types';
import { hostsForEnvironment, rulesOf } from './entityIndex';
import { assetIdentifiers, candidateIdentifiers } from './identifiers';

/** Coverage of one environment. */
export interface EnvironmentCoverage {
  environment: string;
  /** Entities of the reported kinds. */
  entities: number;
  /** Of those, entities with at least one host in this environment. */
  correlated: number;
  /** Of those, entities with no host in this environment (the gate answers `uncorrelated`). */
  uncorrelated: number;
  /** Distinct host values of those entities in this environment. */
  hosts: number;
}

export interface CoverageReport {
  environments: EnvironmentCoverage[];
  /** Entities with no host in at least one of the reported environments. */
  entitiesWithoutHosts: { entityRef: string; environments: string[] }[];
  /** Active signals whose asset matches no host of any indexed entity (in the reported environments). */
  unmatchedSignals: {
    totalCount: number;
    items: { id: string; source: string; severity: string; title: string; identifiers: string[] }[];
  };
  /** Hosts reached by more than one rule (one entity through two rules, or several entities). */
  sharedHosts: { host: string; matches: { entityRef: string; environment: string; matchedBy: string }[] }[];
  /** Active signals considered. */
  activeSignals: number;
}

export interface CoverageOptions {
  /** The whole index. */
  entities: IndexedEntity[];
  /** Every active signal. */
  activeSignals: Signal[];
  /** Environments to report (the policy's, or the one asked for). */
  environments: string[];
  /** Entity kinds to report (lower-case); hosts of every kind still count for signal matching. */
  kinds: string[];
  /** Most items per list. */
  limit: number;
}

/** The coverage report of the correlation index (`GET /v1/coverage`), from the index and active signals only. */
export function coverageReport(options: CoverageOptions): CoverageReport {
  const { entities, activeSignals, environments, kinds, limit } = options;
  const reported = entities.filter(e => kinds.includes(e.kind.toLowerCase()));
  const perEnv: EnvironmentCoverage[] = [];
  const missing = new Map<string, string[]>();
  for (const environment of environments) {
    const hostValues = new Set<string>();
    let correlated = 0;
    for (const e of reported) {
      const hosts = hostsForEnvironment(e, environment);
      if (hosts.length) {
        correlated += 1;
        hosts.forEach(h => hostValues.add(h.value));
      } else {
        missing.set(e.entityRef, [...(missing.get(e.entityRef) ?? []), environment]);
      }
    }
    perEnv.push({ environment, entities: reported.length, correlated, uncorrelated: reported.length - correlated, hosts: hostValues.size });
  }

  // identifiers any indexed host may match, as the gate looks them up
  const known = new Set<string>();
  const shared = new Map<string, Map<string, { entityRef: string; environment: string; matchedBy: string }>>();
  for (const e of entities) {
    const envHosts = environments.flatMap(env => hostsForEnvironment(e, env));
    for (const h of envHosts) {
      for (const c of candidateIdentifiers(h.value)) known.add(`${c.kind}\u0000${c.value}`);
      for (const rule of rulesOf(h.matchedBy)) {
        const matches = shared.get(h.value) ?? new Map();
        matches.set(`${e.entityRef}\u0000${rule}`, { entityRef: e.entityRef, environment: h.environment, matchedBy: rule });
        shared.set(h.value, matches);
      }
    }
  }
  const unmatched = activeSignals.filter(s => !assetIdentifiers(s.asset).some(i => known.has(`${i.kind}\u0000${i.value}`)));

  const sharedHosts = [...shared.entries()]
    .filter(([, m]) => m.size > 1)
    .map(([host, m]) => ({
      host,
      matches: [...m.values()].sort((a, b) =>
        a.entityRef + a.matchedBy < b.entityRef + b.matchedBy ? -1 : a.entityRef + a.matchedBy > b.entityRef + b.matchedBy ? 1 : 0,
      ),
    }))
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));

  return {
    environments: perEnv,
    entitiesWithoutHosts: [...missing.entries()]
      .map(([entityRef, envs]) => ({ entityRef, environments: envs }))
      .sort((a, b) => (a.entityRef < b.entityRef ? -1 : 1))
      .slice(0, limit),
    unmatchedSignals: {
      totalCount: unmatched.length,
      items: unmatched.slice(0, limit).map(s => ({
        id: s.id,
        source: s.source,
        severity: s.severity,
        title: s.title,
        identifiers: assetIdentifiers(s.asset).map(i => `${i.kind}:${i.value}`),
      })),
    },
    sharedHosts: sharedHosts.slice(0, limit),
    activeSignals: activeSignals.length,
  };
}

/** Signals read per page when collecting every active signal. */
const SIGNAL_PAGE = 1000;

async function allActiveSignals(store: Pick<SignalStore, 'listSignals'>): Promise<Signal[]> {
  const out: Signal[] = [];
  for (let offset = 0; ; offset += SIGNAL_PAGE) {
    const page = await store.listSignals({ status: 'active', limit: SIGNAL_PAGE, offset });
    out.push(...page.items);
    if (page.items.length < SIGNAL_PAGE || out.length >= page.totalCount) return out;
  }
}

/** {@link coverageReport} of the stored index and every stored active signal (never the catalog). */
export async function storedCoverage(
  store: Pick<EntityIndexStore, 'listEntityIndex'> & Pick<SignalStore, 'listSignals'>,
  options: Omit<CoverageOptions, 'entities' | 'activeSignals'>,
): Promise<CoverageReport> {
  const [entities, activeSignals] = await Promise.all([store.listEntityIndex(), allActiveSignals(store)]);
  return coverageReport({ entities, activeSignals, ...options });
}
