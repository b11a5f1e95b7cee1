import { ReactNode, useEffect, useState } from 'react';
import {
  CodeSnippet,
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
} from '@backstage/core-components';
import { Box, Chip, Typography } from '@material-ui/core';
import type {
  Decision,
  EntityRisk,
  Reason,
  RiskLevel,
  SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Name of the annotation that lists an entity's hosts. */
export const HOSTS_ANNOTATION = 'runtime-risk.io/hosts';

export const LEVEL_LABEL: Record<RiskLevel, string> = {
  low: 'Low',
  moderate: 'Moderate',
  high: 'High',
  unknown: 'Unknown',
};

/** Colours follow the Backstage status palette. */
export const LEVEL_COLOR: Record<RiskLevel, string> = {
  low: '#1db954',
  moderate: '#f5a623',
  high: '#e22134',
  unknown: '#9e9e9e',
};

export const LEVEL_RANK: Record<RiskLevel, number> = { high: 3, moderate: 2, low: 1, unknown: 0 };

const DECISION_COLOR: Record<Decision, string> = {
  proceed: '#1db954',
  approval_required: '#f5a623',
  block: '#e22134',
};

/** Status icon + text for a risk level. */
export function RiskLevelStatus(props: { level: RiskLevel; children?: ReactNode }) {
  const label = props.children ?? LEVEL_LABEL[props.level];
  switch (props.level) {
    case 'low':
      return <StatusOK>{label}</StatusOK>;
    case 'moderate':
      return <StatusWarning>{label}</StatusWarning>;
    case 'high':
      return <StatusError>{label}</StatusError>;
    default:
      return <StatusPending>{label}</StatusPending>;
  }
}

/** What the gate would answer, as a coloured chip (`proceed`, `approval_required`, `block`). */
export function DecisionChip(props: { decision: Decision; size?: 'small' | 'medium' }) {
  const color = DECISION_COLOR[props.decision];
  return (
    <Chip
      size={props.size ?? 'small'}
      label={props.decision}
      variant="outlined"
      style={{ borderColor: color, color, fontWeight: 600 }}
      data-testid={`decision-${props.decision}`}
    />
  );
}

export function SourceStatus(props: { source: SourceHealth }) {
  const { source } = props;
  const label = `${source.id}: ${source.status}`;
  if (source.status === 'ok') return <StatusOK>{label}</StatusOK>;
  if (source.status === 'degraded') return <StatusWarning>{label}</StatusWarning>;
  return <StatusError>{label}</StatusError>;
}

/** Re-renders every `intervalMs` and returns the current time. */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for null. */
export function formatAge(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'unknown';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** A duration in seconds as "45 s", "12 min", "3 h", "2 d"; "-" for null. */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

export function formatScore(score: number | null): string {
  return score === null ? '-' : score.toFixed(1);
}

export function isUncorrelated(risk: Pick<EntityRisk, 'reasons'>): boolean {
  return risk.reasons.some(r => r.code === 'uncorrelated');
}

/** Reasons worth showing first: problems before the all-clear. */
export function topReasons(reasons: Reason[], max = 3): Reason[] {
  const order: Record<string, number> = {
    source_unavailable: 0,
    signals_stale: 1,
    uncorrelated: 2,
    score_unavailable: 3,
    signal_active: 4,
    exception_applied: 5,
    approval_granted: 6,
    approval_rejected: 7,
    dry_run: 8,
    no_active_signals: 9,
  };
  return [...reasons].sort((a, b) => (order[a.code] ?? 10) - (order[b.code] ?? 10)).slice(0, max);
}

/** What to do when an entity has no hosts: the annotation, with an example. */
export function UncorrelatedHelp(props: { entityName?: string }) {
  const example = `metadata:
  annotations:
    ${HOSTS_ANNOTATION}: ${props.entityName ?? 'my-service'}-01.prod.example.com,10.0.4.17
    # or per environment:
    ${HOSTS_ANNOTATION}.production: ${props.entityName ?? 'my-service'}-01.prod.example.com`;
  return (
    <Box mt={1}>
      <Typography variant="body2">
        No hosts were found for this entity, so its runtime risk is unknown. Add the{' '}
        <code>{HOSTS_ANNOTATION}</code> annotation (hostnames, FQDNs, EDR device ids, cloud
        instance ids or IPs), or a <code>dependsOn</code> relation to a Resource of type{' '}
        <code>host</code>, to its catalog-info.yaml:
      </Typography>
      <CodeSnippet text={example} language="yaml" />
    </Box>
  );
}
