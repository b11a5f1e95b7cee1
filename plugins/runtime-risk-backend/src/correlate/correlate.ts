import type { MatchedHost, Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { HostInventoryStore, IndexedEntity, SignalStore } from '../store/types';
import { hostsForEnvironment } from './entityIndex';
import { candidateIdentifiers, identifierMatches } from './identifiers';

/**
 * What the engine uses of a signal (the cached form: no asset, tactics or raw
 * fields). `host` (the entity host it was correlated to), `firstSeenAt`,
 * `techniques` and `indicators` let the engine count one incident reported by
 * several vendors once (DESIGN "One incident, several vendors").
 */
export type CorrelatedSignal = Pick<Signal, 'id' | 'source' | 'severity' | 'confidence' | 'status' | 'lastSeenAt' | 'title'> &
  Partial<Pick<Signal, 'firstSeenAt' | 'techniques' | 'indicators'>> & { host?: string };

/** A copy of what the engine uses of a signal. */
export function correlatedSignal(s: CorrelatedSignal): CorrelatedSignal {
  const out: CorrelatedSignal = {
    id: s.id,
    source: s.source,
    severity: s.severity,
    confidence: s.confidence,
    status: s.status,
    lastSeenAt: s.lastSeenAt,
    title: s.title,
  };
  // only what counting an incident once needs, and only when it can (indicators present)
  if (s.indicators && Object.keys(s.indicators).length) {
    out.indicators = { ...s.indicators };
    if (s.firstSeenAt) out.firstSeenAt = s.firstSeenAt;
    if (s.techniques?.length) out.techniques = [...s.techniques];
    if (s.host !== undefined) out.host = s.host;
  }
  return out;
}

/**
 * Which source last reported which host (DESIGN "Coverage"): per host value,
 * per source, the newest time the source reported a signal on it (its
 * `fetchedAt`), and `open` when one of them is still active (an open detection
 * is a current report, however old). Derived from the same identifier lookup as
 * the signals, so it is cached with them; the coverage window is applied per
 * request ({@link coveredHosts}).
 */
export type HostReports = Record<string, Record<string, { at: string; open?: boolean }>>;

/** Hosts of an entity in an environment (or all of them) and the signals correlated to them. */
export interface Correlated {
  hosts: MatchedHost[];
  signals: CorrelatedSignal[];
  /** Absent in values cached before coverage existed: then every host counts as reported by the signals' sources. */
  reports?: HostReports;
}

/**
 * The hosts some source has reported since `since` (ISO), and for each source
 * the hosts it covers. A host no source has reported within the window is
 * uncovered (DESIGN "Coverage").
 */
export function coveredHosts(
  correlated: Correlated,
  since: string,
): { covered: string[]; uncovered: string[]; sources: string[] } {
  const sinceMs = Date.parse(since);
  const covered: string[] = [];
  const uncovered: string[] = [];
  const sources = new Set<string>();
  for (const h of correlated.hosts) {
    const byHost: HostReports[string] = correlated.reports
      ? correlated.reports[h.id] ?? {}
      : Object.fromEntries((h.sources ?? []).map(s => [s, { at: since }]));
    const recent = Object.entries(byHost)
      .filter(([, r]) => r.open || Date.parse(r.at) >= sinceMs)
      .map(([source]) => source);
    if (recent.length) {
      covered.push(h.id);
      recent.forEach(s => sources.add(s));
    } else {
      uncovered.push(h.id);
    }
  }
  return { covered, uncovered, sources: [...sources].sort() };
}

/**
 * When a source's inventory listing of a host counts as its report of it: the
 * vendor's last contact with the host when it gives one (a host the vendor has
 * not heard from for weeks is not covered by listing it), never later than the
 * listing itself.
 */
export function inventoryReportAt(host: { listedAt: string; lastSeenAt: string | null }): string {
  return host.lastSeenAt && host.lastSeenAt < host.listedAt ? host.lastSeenAt : host.listedAt;
}

/** Matched hosts and the signals correlated to them, read from the store (signals and the vendor host inventory). */
export async function correlate(
  store: Pick<SignalStore, 'findSignalsByIdentifiers'> & Partial<Pick<HostInventoryStore, 'findHostsByIdentifiers'>>,
  entity: IndexedEntity,
  environment: string | undefined,
): Promise<Correlated> {
  const hostEntries = environment === undefined ? entity.hosts : hostsForEnvironment(entity, environment);
  const candidatesByHost = hostEntries.map(h => ({ host: h, candidates: candidateIdentifiers(h.value) }));
  const values = candidatesByHost.flatMap(c => c.candidates.map(i => i.value));
  const [found, listed] = values.length
    ? await Promise.all([store.findSignalsByIdentifiers(values), store.findHostsByIdentifiers?.(values) ?? []])
    : [[], []];
  const seenHosts = new Set<string>();
  const hosts: MatchedHost[] = [];
  const signalIds = new Set<string>();
  // the first entity host each signal matched (one incident is counted once per host)
  const hostOf = new Map<string, string>();
  const reports: HostReports = {};
  for (const { host, candidates } of candidatesByHost) {
    if (seenHosts.has(host.value)) continue;
    seenHosts.add(host.value);
    const matched = found.filter(f => f.identifiers.some(i => identifierMatches(candidates, i)));
    matched.forEach(m => signalIds.add(m.signal.id));
    for (const m of matched) if (!hostOf.has(m.signal.id)) hostOf.set(m.signal.id, host.value);
    const sourceSet = new Set(matched.map(m => m.signal.source));
    const reported: HostReports[string] = {};
    for (const m of matched) {
      const at = m.signal.fetchedAt ?? m.signal.lastSeenAt;
      const r = (reported[m.signal.source] ??= { at });
      if (r.at < at) r.at = at;
      if (m.signal.status === 'active') r.open = true;
    }
    // DESIGN "Coverage": a source that listed the host in its vendor host inventory has reported it
    for (const l of listed) {
      if (!l.identifiers.some(i => identifierMatches(candidates, i))) continue;
      const at = inventoryReportAt(l.host);
      const r = (reported[l.host.source] ??= { at });
      if (r.at < at) r.at = at;
      sourceSet.add(l.host.source);
    }
    const sources = [...sourceSet].sort();
    reports[host.value] = reported;
    const entry: MatchedHost = { id: host.value, matchedBy: host.matchedBy, value: host.value };
    if (sources.length) entry.sources = sources;
    hosts.push(entry);
  }
  const signals = found.filter(f => signalIds.has(f.signal.id)).map(f => correlatedSignal({ ...f.signal, host: hostOf.get(f.signal.id) }));
  return { hosts, signals, reports };
}
