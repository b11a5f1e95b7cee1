import type { MatchedHost, Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { IndexedEntity, SignalStore } from '../store/types';
import { hostsForEnvironment } from './entityIndex';
import { candidateIdentifiers, identifierMatches } from './identifiers';

/** What the engine uses of a signal (the cached form: no asset, tactics or raw fields). */
export type CorrelatedSignal = Pick<Signal, 'id' | 'source' | 'severity' | 'confidence' | 'status' | 'lastSeenAt' | 'title'>;

/** A copy of what the engine uses of a signal. */
export function correlatedSignal(s: CorrelatedSignal): CorrelatedSignal {
  return {
    id: s.id,
    source: s.source,
    severity: s.severity,
    confidence: s.confidence,
    status: s.status,
    lastSeenAt: s.lastSeenAt,
    title: s.title,
  };
}

/** Hosts of an entity in an environment (or all of them) and the signals correlated to them. */
export interface Correlated {
  hosts: MatchedHost[];
  signals: CorrelatedSignal[];
}

/** Matched hosts and the signals correlated to them, read from the store. */
export async function correlate(
  store: Pick<SignalStore, 'findSignalsByIdentifiers'>,
  entity: IndexedEntity,
  environment: string | undefined,
): Promise<Correlated> {
  const hostEntries = environment === undefined ? entity.hosts : hostsForEnvironment(entity, environment);
  const candidatesByHost = hostEntries.map(h => ({ host: h, candidates: candidateIdentifiers(h.value) }));
  const values = candidatesByHost.flatMap(c => c.candidates.map(i => i.value));
  const found = values.length ? await store.findSignalsByIdentifiers(values) : [];
  const seenHosts = new Set<string>();
  const hosts: MatchedHost[] = [];
  const signalIds = new Set<string>();
  for (const { host, candidates } of candidatesByHost) {
    if (seenHosts.has(host.value)) continue;
    seenHosts.add(host.value);
    const matched = found.filter(f => f.identifiers.some(i => identifierMatches(candidates, i)));
    matched.forEach(m => signalIds.add(m.signal.id));
    const sources = [...new Set(matched.map(m => m.signal.source))].sort();
    const entry: MatchedHost = { id: host.value, matchedBy: host.matchedBy, value: host.value };
    if (sources.length) entry.sources = sources;
    hosts.push(entry);
  }
  const signals = found.filter(f => signalIds.has(f.signal.id)).map(f => correlatedSignal(f.signal));
  return { hosts, signals };
}
