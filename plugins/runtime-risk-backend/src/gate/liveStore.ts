import type { LoggerService } from '@backstage/backend-plugin-api';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { assetIdentifiers, candidateIdentifiers, identifierMatches, POD_PREFIX, type HostIdentifier } from '../correlate/identifiers';
import { sourceStatus } from '../ingest/sourceStatus';
import type { RiskChangeReads, StoredSignalState } from '../store/riskChangeReads';
import type { IndexedEntity, RuntimeRiskStore, SourceState } from '../store/types';
import type { RiskChangePublisher } from './live';

/**
 * The writes that change what the portal shows of an entity's risk, watched
 * where they all pass: the store (issue 18 part 4). The store returned is the
 * same store with these methods wrapped; each wrapped write is done first, and
 * only when it succeeds (and changed something) are the entities it concerns
 * handed to the {@link RiskChangePublisher}, which coalesces them:
 *
 * - `commitBatch` (pull ingestion and webhook pushes): the signals that are new
 *   or whose severity, confidence, status, title, times, techniques, indicators
 *   or host changed (a repeat of the stored state is no change), mapped to the
 *   entities whose index names one of their hosts (old and new host); and a
 *   source whose state word changes (`degraded`/`down` -> `ok`) -> every entity.
 * - `recordFailure`: a source whose state word changes (`ok` -> `degraded`,
 *   `degraded` -> `down`) -> every entity (a source may cover any entity).
 * - `replaceEntityIndex` / `upsertEntity` (index rebuilds): only the entities
 *   whose hosts or System parts differ from the stored index (added, removed or
 *   changed); a rebuild that changes nothing announces nothing.
 * - `insertException` / `transitionException`: the exception's entity.
 * - `transitionDecision` (approve, reject, expire, override): the decision's entity.
 *
 * What changes with time alone (a source becoming `down` because it missed its
 * schedule, a signal ageing out) is not announced: the portal's slow poll picks it up.
 */
export function watchRiskChanges<S extends RuntimeRiskStore>(
  store: S,
  options: { publisher: RiskChangePublisher; reads: RiskChangeReads; logger: LoggerService },
): S {
  const { publisher, reads, logger } = options;
  // the announcement never fails nor delays the write that caused it
  const after = (what: string, work: () => Promise<void>) => {
    work().catch((e: unknown) => logger.debug(`runtime-risk: live update after ${what} not sent: ${(e as Error)?.message ?? String(e)}`));
  };
  const stateBefore = (sourceId: string) => store.getSourceState(sourceId).catch(() => undefined);

  const wrapped: Partial<RuntimeRiskStore> = {
    async commitBatch(batch) {
      const [before, stored] = await Promise.all([
        stateBefore(batch.sourceId),
        batch.signals.length ? reads.storedSignals(batch.signals.map(s => s.id)).catch(() => undefined) : new Map(),
      ]);
      await store.commitBatch(batch);
      if (before && stateWord(before) !== stateWord({ ...before, consecutiveFailures: 0 })) publisher.allChanged();
      const changed = changedSignalHosts(batch.signals, stored);
      if (changed.length) after('a signal batch', async () => publisher.entitiesChanged(await entitiesOfHosts(reads, changed)));
    },
    async recordFailure(failure) {
      const before = await stateBefore(failure.sourceId);
      await store.recordFailure(failure);
      const failures = (before?.consecutiveFailures ?? 0) + 1;
      if (stateWord(before) !== stateWord({ ...(before ?? emptyState(failure.sourceId)), consecutiveFailures: failures })) {
        publisher.allChanged();
      }
    },
    async replaceEntityIndex(entities) {
      const before = await store.listEntityIndex().catch(() => undefined);
      await store.replaceEntityIndex(entities);
      if (!before) {
        publisher.allChanged();
        return;
      }
      publisher.entitiesChanged(changedEntities(before, entities));
    },
    async upsertEntity(entity) {
      const before = await store.getEntity(entity.entityRef).catch(() => undefined);
      await store.upsertEntity(entity);
      if (!before || indexFingerprint(before) !== indexFingerprint(entity)) publisher.entitiesChanged([entity.entityRef]);
    },
    async insertException(record) {
      await store.insertException(record);
      publisher.entitiesChanged([record.entityRef]);
    },
    async transitionException(transition) {
      const changed = await store.transitionException(transition);
      if (changed) {
        after('an exception change', async () => {
          const record = await store.getException(transition.id);
          if (record) publisher.entitiesChanged([record.entityRef]);
        });
      }
      return changed;
    },
    async transitionDecision(transition) {
      const changed = await store.transitionDecision(transition);
      if (changed) {
        after('a decision change', async () => {
          const record = await store.getDecision(transition.id);
          if (record) publisher.entitiesChanged([record.entityRef]);
        });
      }
      return changed;
    },
  };

  // an incremental index rebuild (when the store has it): the upserted entities whose hosts or parts
  // differ from the stored ones, and the removed ones
  const incremental = store as unknown as { applyEntityIndexChanges?: (changes: IndexChanges) => Promise<void> };
  if (typeof incremental.applyEntityIndexChanges === 'function') {
    const apply = incremental.applyEntityIndexChanges.bind(store);
    (wrapped as Record<string, unknown>).applyEntityIndexChanges = async (changes: IndexChanges) => {
      const before = await storedEntities(store, changes.upsert.map(e => e.entityRef)).catch(() => undefined);
      await apply(changes);
      if (!before) {
        publisher.allChanged();
        return;
      }
      const changed = changes.upsert.filter(e => {
        const was = before.get(e.entityRef);
        return !was || indexFingerprint(was) !== indexFingerprint(e);
      });
      publisher.entitiesChanged([...changed.map(e => e.entityRef), ...changes.remove]);
    };
  }

  return new Proxy(store, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.prototype.hasOwnProperty.call(wrapped, prop)) {
        return (wrapped as Record<string, unknown>)[prop];
      }
      const value = Reflect.get(target, prop, receiver);
      // the store's own methods run on the store itself (its fields, its own calls unwatched)
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** An incremental index write: entities to add or replace, refs to remove. */
interface IndexChanges {
  upsert: IndexedEntity[];
  remove: string[];
}

/** The stored index entries of these refs (one read each when few, the whole index when many). */
async function storedEntities(store: RuntimeRiskStore, refs: string[]): Promise<Map<string, IndexedEntity>> {
  if (refs.length > 200) {
    const wanted = new Set(refs);
    return new Map((await store.listEntityIndex()).filter(e => wanted.has(e.entityRef)).map(e => [e.entityRef, e]));
  }
  const out = new Map<string, IndexedEntity>();
  for (let i = 0; i < refs.length; i += 20) {
    const found = await Promise.all(refs.slice(i, i + 20).map(ref => store.getEntity(ref)));
    for (const e of found) if (e) out.set(e.entityRef, e);
  }
  return out;
}

function emptyState(id: string): SourceState {
  return {
    id,
    type: '',
    cursor: null,
    lastSuccessAt: null,
    lastAttemptAt: null,
    lastError: null,
    consecutiveFailures: 0,
    asOf: null,
    rejectedCount: 0,
  };
}

/** The state word of a source by its failures (the schedule-based `down` changes with time alone). */
function stateWord(state: SourceState | undefined): string {
  return sourceStatus(state, Date.now());
}

/** What of a signal the engine, the correlation and the risk tab read. */
function signalFingerprint(s: Omit<StoredSignalState, 'id' | 'updatedAt'>): string {
  return JSON.stringify([
    s.severity,
    s.confidence,
    s.status,
    s.title,
    s.firstSeenAt,
    s.lastSeenAt,
    s.techniques ?? [],
    s.indicators ?? {},
    assetIdentifiers(s.asset).map(i => `${i.kind}:${i.value}`).sort(),
  ]);
}

/**
 * The host identifiers of the signals of a batch that change something: new
 * signals and those whose engine-visible state differs from the stored one
 * (both its old and its new host). A stored state newer than the delivery is
 * kept by the store (no change). Without the stored states, every signal counts.
 */
function changedSignalHosts(signals: Signal[], stored: Map<string, StoredSignalState> | undefined): HostIdentifier[] {
  const ids: HostIdentifier[] = [];
  for (const s of signals) {
    const old = stored?.get(s.id);
    if (old) {
      if (old.updatedAt && (s.updatedAt ?? s.lastSeenAt) < old.updatedAt) continue;
      if (signalFingerprint(old) === signalFingerprint(s)) continue;
      ids.push(...assetIdentifiers(old.asset));
    }
    ids.push(...assetIdentifiers(s.asset));
  }
  return ids;
}

/** The index host values that may name an identifier (as `candidateIdentifiers` reads them back). */
function hostValuesOf(id: HostIdentifier): string[] {
  if (id.kind === 'pod') return [`${POD_PREFIX}${id.value}`];
  if (id.kind === 'mac') {
    const hex = id.value.replace(/:/g, '');
    return [id.value, id.value.replace(/:/g, '-'), hex, hex.replace(/(.{4})(?=.)/g, '$1.')];
  }
  return [id.value];
}

/** The entities whose indexed hosts match one of these identifiers (the gate's own matching rule). */
async function entitiesOfHosts(reads: RiskChangeReads, ids: HostIdentifier[]): Promise<string[]> {
  const rows = await reads.findEntitiesByHostValues(ids.flatMap(hostValuesOf));
  const refs = new Set<string>();
  for (const row of rows) {
    const candidates = candidateIdentifiers(row.value);
    if (ids.some(id => identifierMatches(candidates, id))) refs.add(row.entityRef);
  }
  return [...refs];
}

/** What of an index entry the gate's answer depends on: its hosts (with how they matched) and a System's parts. */
function indexFingerprint(e: IndexedEntity): string {
  const hosts = e.hosts.map(h => `${h.environment}\u0000${h.value}\u0000${h.matchedBy}`).sort();
  return JSON.stringify([e.kind, hosts, e.parts ?? null]);
}

/** Entities added, removed, or whose hosts or parts differ. */
export function changedEntities(before: IndexedEntity[], after: IndexedEntity[]): string[] {
  const old = new Map(before.map(e => [e.entityRef, indexFingerprint(e)]));
  const changed: string[] = [];
  for (const e of after) {
    const was = old.get(e.entityRef);
    old.delete(e.entityRef);
    if (was === undefined || was !== indexFingerprint(e)) changed.push(e.entityRef);
  }
  changed.push(...old.keys());
  return changed;
}
