import type { EntityRisk, Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** A row of the signals table: a signal, or one incident several vendors reported (shown once). */
export type SignalRow = Signal & {
  /** Set when the row stands for one incident: every report of it, the one counted first. */
  incident?: { signals: Signal[]; sources: string[] };
};

/**
 * The signals table's rows: the signals the gate counted as one incident
 * (a `signal_active` reason naming several signal ids, DESIGN "One incident,
 * several vendors") become one row, the signal counted (the reason's first id)
 * standing for them and naming every vendor; other signals keep their own row.
 * Groups of several environments' answers that share a signal are merged.
 */
export function signalRows(signals: Signal[], risks: EntityRisk[] = []): SignalRow[] {
  const byId = new Map(signals.map(s => [s.id, s] as const));
  const groupOf = new Map<string, string[]>();
  for (const reason of risks.flatMap(r => r.reasons)) {
    if (reason.code !== 'signal_active' || reason.signalIds.length < 2) continue;
    const merged = [...reason.signalIds];
    for (const id of reason.signalIds) {
      for (const other of groupOf.get(id) ?? []) if (!merged.includes(other)) merged.push(other);
    }
    for (const id of merged) groupOf.set(id, merged);
  }
  const rows: SignalRow[] = [];
  const shown = new Set<string>();
  for (const s of signals) {
    if (shown.has(s.id)) continue;
    const ids = groupOf.get(s.id);
    const members = (ids ?? []).map(id => byId.get(id)).filter((m): m is Signal => m !== undefined);
    if (members.length < 2) {
      rows.push(s);
      shown.add(s.id);
      continue;
    }
    members.forEach(m => shown.add(m.id));
    rows.push({ ...members[0], incident: { signals: members, sources: [...new Set(members.map(m => m.source))] } });
  }
  return rows;
}

/** "crowdstrike and defender", "a, b and c". */
export function listWords(words: string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}
