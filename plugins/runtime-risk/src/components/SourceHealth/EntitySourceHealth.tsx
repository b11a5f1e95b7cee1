import { Box, Tooltip, Typography } from '@material-ui/core';
import CheckCircleIcon from '@material-ui/icons/CheckCircle';
import ErrorIcon from '@material-ui/icons/Error';
import ScheduleIcon from '@material-ui/icons/Schedule';
import WarningIcon from '@material-ui/icons/Warning';
import type { EntityRisk, EntitySourceHealth, Reason } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { StatusText, formatDateTime, formatSeconds } from '../common';

/**
 * The sources that cover an entity, from its risk answer (one entry per source
 * over every environment; the answer computes `staleFor` against every
 * environment's `maxSignalAge`, so any environment's copy says the same).
 */
export function coveringSources(risks: Pick<EntityRisk, 'sources'>[] | undefined): EntitySourceHealth[] {
  const byId = new Map<string, EntitySourceHealth>();
  for (const r of risks ?? []) for (const s of r.sources ?? []) if (!byId.has(s.id)) byId.set(s.id, s);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** "stale for production", "stale for production and staging", "stale for dev, staging and production". */
export function staleForText(environments: string[]): string {
  if (environments.length === 0) return '';
  if (environments.length === 1) return `stale for ${environments[0]}`;
  return `stale for ${environments.slice(0, -1).join(', ')} and ${environments[environments.length - 1]}`;
}

/** The data age of a source: "data 2 d old", "no successful sync yet", a push source's "last heard 3 h ago". */
export function dataAgeText(source: EntitySourceHealth): string {
  if (source.dataAgeSeconds === null) return source.push ? 'never heard from' : 'no successful sync yet';
  const age = formatSeconds(source.dataAgeSeconds);
  return source.push ? `last heard ${age} ago` : `data ${age} old`;
}

/** One line of a source's health: status, data age and what it is stale for, in words. */
export function sourceHealthText(source: EntitySourceHealth): string {
  const parts = [`${source.id} (${source.vendor}): ${source.status}`, dataAgeText(source)];
  parts.push(source.staleFor.length ? staleForText(source.staleFor) : 'fresh for every environment');
  return parts.join(' · ');
}

const STATUS_LOOK = {
  ok: { icon: CheckCircleIcon, tone: 'success' },
  degraded: { icon: WarningIcon, tone: 'warning' },
  down: { icon: ErrorIcon, tone: 'error' },
} as const;

/** A source's state and freshness as icons and words (never colour alone), with its times in a tooltip. */
export function SourceFreshness(props: { source: EntitySourceHealth }) {
  const { source } = props;
  const look = STATUS_LOOK[source.status] ?? STATUS_LOOK.down;
  const tip =
    `last successful sync ${formatDateTime(source.lastSuccessAt)}; data as of ${formatDateTime(source.newestDataAt)}` +
    (source.push ? '; a push source is stale only after a missed heartbeat' : '');
  return (
    <Tooltip title={tip}>
      <Box
        component="span"
        display="inline-flex"
        alignItems="center"
        flexWrap="wrap"
        style={{ gap: 6 }}
        data-testid={`source-health-${source.id}`}
        role="group"
        aria-label={sourceHealthText(source)}
      >
        <StatusText icon={look.icon} tone={look.tone}>
          {source.id}: {source.status}
        </StatusText>
        <Typography variant="caption" color="textSecondary" component="span">
          ({source.vendor}) {dataAgeText(source)}
        </Typography>
        {source.staleFor.length > 0 && (
          <StatusText icon={ScheduleIcon} tone="warning">
            {staleForText(source.staleFor)}
          </StatusText>
        )}
      </Box>
    </Tooltip>
  );
}

/**
 * The health of the sources that cover an entity (issue 19 part 2), from its
 * risk answer: readable by anyone who may read the entity (the global source
 * list is admin-only).
 */
export function EntitySourceHealthList(props: { sources: EntitySourceHealth[]; dense?: boolean }) {
  if (props.sources.length === 0) {
    return (
      <Typography variant="caption" color="textSecondary" component="div" data-testid="entity-source-health">
        No signal source has reported this entity's hosts within the coverage window.
      </Typography>
    );
  }
  return (
    <Box
      display="flex"
      flexDirection={props.dense ? 'row' : 'column'}
      flexWrap="wrap"
      style={{ gap: props.dense ? 16 : 6 }}
      role="group"
      aria-label="health of the sources that cover this entity"
      data-testid="entity-source-health"
    >
      {props.sources.map(s => (
        <SourceFreshness key={s.id} source={s} />
      ))}
    </Box>
  );
}

/** "stale for production" with an icon, or nothing when the source is fresh for every environment. */
export function StaleFor(props: { environments?: string[] }) {
  if (!props.environments?.length) return null;
  return (
    <StatusText icon={ScheduleIcon} tone="warning" testId="stale-for">
      {staleForText(props.environments)}
    </StatusText>
  );
}

/**
 * A ranking row's staleness, from what the row already carries (its reasons):
 * "stale: crowdstrike" when the gate answered `signals_stale` in the row's
 * environment; nothing otherwise.
 */
export function StaleSources(props: { reasons: Pick<Reason, 'code' | 'source'>[] }) {
  const sources = [...new Set(props.reasons.filter(r => r.code === 'signals_stale').map(r => r.source ?? 'a source'))];
  if (sources.length === 0) return null;
  return (
    <StatusText icon={ScheduleIcon} tone="warning" testId="row-stale">
      stale: {sources.join(', ')}
    </StatusText>
  );
}
