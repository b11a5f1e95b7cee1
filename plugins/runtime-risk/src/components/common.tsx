import { CSSProperties, ReactNode, useEffect, useState } from 'react';
import {
  CodeSnippet,
  TableColumn,
  StatusError,
  StatusOK,
  StatusPending,
  StatusWarning,
} from '@backstage/core-components';
import { Box, Chip, Grid, Link, Theme, Tooltip, Typography, useMediaQuery, useTheme } from '@material-ui/core';
import { Alert, type Color as AlertSeverity } from '@material-ui/lab';
import BlockIcon from '@material-ui/icons/Block';
import CancelIcon from '@material-ui/icons/Cancel';
import CheckCircleIcon from '@material-ui/icons/CheckCircle';
import ErrorIcon from '@material-ui/icons/Error';
import InfoOutlinedIcon from '@material-ui/icons/InfoOutlined';
import RemoveCircleOutlineIcon from '@material-ui/icons/RemoveCircleOutline';
import ReportProblemIcon from '@material-ui/icons/ReportProblem';
import ScheduleIcon from '@material-ui/icons/Schedule';
import TimerOffIcon from '@material-ui/icons/TimerOff';
import UndoIcon from '@material-ui/icons/Undo';
import WarningIcon from '@material-ui/icons/Warning';
import type {
  Decision,
  EntityRisk,
  ExceptionStatus,
  Reason,
  RiskLevel,
  Signal,
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

type Tone = 'success' | 'warning' | 'error' | 'info' | 'neutral';

/**
 * A status colour readable on the theme's paper: the dark shade on a light theme, the light
 * shade on a dark one (the Backstage status palette's #1db954 / #f5a623 fail WCAG contrast
 * as text on white). Used for icons and outlines; status text stays in the text colour.
 */
export function toneColor(theme: Theme, tone: Tone): string {
  const dark = theme.palette.type === 'dark';
  if (tone === 'neutral') return theme.palette.text.secondary;
  const p = theme.palette[tone];
  return dark ? p.light : p.dark;
}

/** An icon and a word, never colour alone; kept on one line (no mid-word wrap). */
export function StatusText(props: {
  icon: typeof CheckCircleIcon;
  tone: Tone;
  children: ReactNode;
  testId?: string;
}) {
  const theme = useTheme();
  const Icon = props.icon;
  return (
    <Box
      component="span"
      display="inline-flex"
      alignItems="center"
      style={{ gap: 4, whiteSpace: 'nowrap', fontWeight: 600 }}
      data-testid={props.testId}
    >
      <Icon fontSize="small" aria-hidden style={{ color: toneColor(theme, props.tone) }} />
      <span>{props.children}</span>
    </Box>
  );
}

const DECISION_LOOK: Record<Decision, { icon: typeof CheckCircleIcon; tone: Tone }> = {
  proceed: { icon: CheckCircleIcon, tone: 'success' },
  approval_required: { icon: WarningIcon, tone: 'warning' },
  block: { icon: BlockIcon, tone: 'error' },
};

const SEVERITY_LOOK: Record<Signal['severity'], { icon: typeof CheckCircleIcon; tone: Tone }> = {
  critical: { icon: ErrorIcon, tone: 'error' },
  high: { icon: ReportProblemIcon, tone: 'error' },
  medium: { icon: WarningIcon, tone: 'warning' },
  low: { icon: InfoOutlinedIcon, tone: 'info' },
  informational: { icon: RemoveCircleOutlineIcon, tone: 'neutral' },
};

/** A signal's severity: icon and the whole word ("informational" never wraps mid-word). */
export function SeverityStatus(props: { severity: Signal['severity'] }) {
  const look = SEVERITY_LOOK[props.severity] ?? SEVERITY_LOOK.informational;
  return (
    <StatusText icon={look.icon} tone={look.tone} testId={`severity-${props.severity}`}>
      {props.severity}
    </StatusText>
  );
}

const EXCEPTION_LOOK: Record<ExceptionStatus, { icon: typeof CheckCircleIcon; tone: Tone }> = {
  pending: { icon: ScheduleIcon, tone: 'warning' },
  approved: { icon: CheckCircleIcon, tone: 'success' },
  rejected: { icon: CancelIcon, tone: 'error' },
  revoked: { icon: UndoIcon, tone: 'neutral' },
  expired: { icon: TimerOffIcon, tone: 'neutral' },
};

/** An exception's status: icon and word. */
export function ExceptionStatusText(props: { status: ExceptionStatus }) {
  const look = EXCEPTION_LOOK[props.status] ?? { icon: InfoOutlinedIcon, tone: 'neutral' as const };
  return (
    <StatusText icon={look.icon} tone={look.tone} testId={`exception-status-${props.status}`}>
      {props.status}
    </StatusText>
  );
}

/**
 * Long text in a table cell: wraps on word boundaries, is cut after `lines` lines with an
 * ellipsis, and shows the whole text in a tooltip (the whole text stays in the DOM, so
 * screen readers and search read all of it). Give its column a width (`cellStyle.width`):
 * the text itself asks for none.
 */
export function TruncatedText(props: { text: string; lines?: number; maxWidth?: number | string }) {
  const lines = props.lines ?? 2;
  const style: CSSProperties =
    lines === 1
      ? { display: 'block', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }
      : {
          display: '-webkit-box',
          WebkitLineClamp: lines,
          WebkitBoxOrient: 'vertical',
          overflow: 'hidden',
          overflowWrap: 'break-word',
          wordBreak: 'normal',
          // a line-clamped box asks its whole text's width as its minimum, which stretches
          // an auto-layout table past the page; the cell's width decides instead
          contain: 'inline-size',
        };
  return (
    <Tooltip title={props.text} enterDelay={300}>
      <span data-testid="truncated-text" style={{ ...style, maxWidth: props.maxWidth }}>
        {props.text}
      </span>
    </Tooltip>
  );
}

/**
 * True below the `lg` breakpoint (viewports under 1280 px): tables drop their low-value
 * columns there. False where matchMedia is missing (server, jsdom), so every column shows.
 */
export function useNarrowScreen(): boolean {
  const theme = useTheme();
  return useMediaQuery(theme.breakpoints.down('md'), { noSsr: true });
}

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
  const theme = useTheme();
  const look = DECISION_LOOK[props.decision] ?? { icon: InfoOutlinedIcon, tone: 'neutral' as const };
  const color = toneColor(theme, look.tone);
  const Icon = look.icon;
  return (
    <Chip
      size={props.size ?? 'small'}
      label={props.decision}
      variant="outlined"
      icon={<Icon aria-hidden style={{ color }} />}
      style={{ borderColor: color, fontWeight: 600 }}
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

/** Where the correlation rules are documented (linked from the uncorrelated card). */
export const CORRELATION_DOCS_URL =
  'https://github.com/runtime-risk/runtime-risk/blob/main/docs/correlation.md';

/**
 * What the signal count means for the answer: the signals that contribute to the score
 * (those named by `signal_active` reasons) and the active ones that add nothing
 * (informational severity weighs 0), so the words agree with the reasons.
 */
export function describeSignals(risk: Pick<EntityRisk, 'signals' | 'reasons'>): string {
  const active = risk.signals.count;
  if (active === 0) return 'no active signals';
  const contributing = new Set(
    risk.reasons.filter(r => r.code === 'signal_active').flatMap(r => r.signalIds),
  ).size;
  const scored = risk.reasons.some(r => r.code === 'signal_active' || r.code === 'no_active_signals');
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (!scored) return `${plural(active, 'active signal')}, not scored`;
  const quiet = Math.max(0, active - contributing);
  if (contributing === 0) return `${plural(quiet, 'informational signal')}, no risk contribution`;
  const head = `${plural(contributing, 'signal')} contributing`;
  return quiet > 0 ? `${head}, ${quiet} with no risk contribution` : head;
}

/**
 * An entity with no hosts, said briefly: one sentence, the fix with a link to the docs,
 * and what was tried (the gate's own reason text and an annotation example) behind an expander.
 */
export function UncorrelatedHelp(props: { entityName?: string; reasons?: Reason[] }) {
  const example = `metadata:
  annotations:
    ${HOSTS_ANNOTATION}: ${props.entityName ?? 'my-service'}-01.prod.example.com,10.0.4.17
    # or per environment:
    ${HOSTS_ANNOTATION}.production: ${props.entityName ?? 'my-service'}-01.prod.example.com`;
  const tried = [
    ...new Set((props.reasons ?? []).filter(r => r.code === 'uncorrelated').map(r => r.message)),
  ];
  return (
    <Box mt={1} data-testid="uncorrelated-help">
      <Typography variant="body2" style={{ fontWeight: 600 }}>
        No host found for this service.
      </Typography>
      <Typography variant="body2">
        Fix: add <code>{HOSTS_ANNOTATION}</code> or a <code>dependsOn</code> host Resource (
        <Link href={CORRELATION_DOCS_URL} target="_blank" rel="noopener">
          how hosts are found
        </Link>
        ).
      </Typography>
      <details>
        <summary>
          <Typography variant="caption" component="span">
            Rules tried and an example
          </Typography>
        </summary>
        {tried.map(message => (
          <Typography key={message} variant="caption" component="p">
            {message}
          </Typography>
        ))}
        <Typography variant="caption" component="p">
          Tried in order: the <code>{HOSTS_ANNOTATION}</code> annotations, <code>dependsOn</code>{' '}
          Resources of type host, vm or node, Kubernetes ids and label selectors, and the host
          inventory. Values may be hostnames, FQDNs, EDR device ids, cloud instance ids or IPs:
        </Typography>
        <CodeSnippet text={example} language="yaml" />
      </details>
    </Box>
  );
}

/**
 * Options every table of the plugin shares: no draggable column headers (the drag handle is
 * a focusable element inside the sort button, which axe reports as nested-interactive).
 */
export const TABLE_OPTIONS = { draggable: false, sorting: false, padding: 'dense' } as const;

const CELL_PADDING = { paddingLeft: 12, paddingRight: 8 };

/**
 * Narrower cell and header padding (Backstage's header pads 36 px and MUI's dense cell 40 px,
 * which alone pushes a nine-column table past a 1024 px screen).
 */
export function compactColumns<T extends object>(columns: TableColumn<T>[]): TableColumn<T>[] {
  return columns.map(c => ({
    ...c,
    headerStyle: { ...CELL_PADDING, ...(c.headerStyle ?? {}) },
    cellStyle: typeof c.cellStyle === 'function' ? c.cellStyle : { ...CELL_PADDING, ...(c.cellStyle ?? {}) },
  }));
}

/**
 * The first row of a plugin page's grid (under the header the app draws): an
 * optional heading (the page's h1) and what the page is about.
 */
export function PageIntro(props: { heading?: ReactNode; children: ReactNode }) {
  return (
    <Grid item xs={12}>
      {props.heading !== undefined && (
        <Typography variant="h4" component="h1">
          {props.heading}
        </Typography>
      )}
      {props.children}
    </Grid>
  );
}

/** A full-width message row of a plugin page's grid: an error, or what an action did (`role` as the Alert takes it, default alert). */
export function PageMessage(props: { severity: AlertSeverity; role?: string; children: ReactNode }) {
  return (
    <Grid item xs={12}>
      <Alert severity={props.severity} role={props.role}>
        {props.children}
      </Alert>
    </Grid>
  );
}
