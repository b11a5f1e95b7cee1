import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { useParams } from 'react-router-dom';
import { InfoCard, Link, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import {
  Box,
  Button,
  Grid,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@material-ui/core';
import { Alert, AlertTitle } from '@material-ui/lab';
import type { DecisionStatus, GateDecision, Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { runtimeRiskApiRef, type DecisionAction } from '../../api/RuntimeRiskApi';
import { isResponseError, serverMessage } from '../../api/RuntimeRiskClient';
import {
  DecisionChip,
  LEVEL_LABEL,
  PageIntro,
  PageMessage,
  RiskLevelStatus,
  SeverityStatus,
  StatusText,
  formatAge,
  formatDateTime,
  formatScore,
  formatSeconds,
  useNow,
} from '../common';
import CheckCircleIcon from '@material-ui/icons/CheckCircle';
import CancelIcon from '@material-ui/icons/Cancel';
import ScheduleIcon from '@material-ui/icons/Schedule';
import TimerOffIcon from '@material-ui/icons/TimerOff';
import DoneAllIcon from '@material-ui/icons/DoneAll';

const STATUS_LOOK: Record<DecisionStatus, { icon: typeof CheckCircleIcon; tone: 'success' | 'error' | 'warning' | 'neutral'; label: string }> = {
  pending: { icon: ScheduleIcon, tone: 'warning', label: 'awaiting approval' },
  approved: { icon: CheckCircleIcon, tone: 'success', label: 'approved' },
  rejected: { icon: CancelIcon, tone: 'error', label: 'rejected' },
  expired: { icon: TimerOffIcon, tone: 'neutral', label: 'expired unapproved' },
  final: { icon: DoneAllIcon, tone: 'neutral', label: 'final (no approval needed)' },
};

/** A decision's approval status: icon and words. */
export function DecisionStatusText(props: { status: DecisionStatus }) {
  const look = STATUS_LOOK[props.status] ?? STATUS_LOOK.final;
  return (
    <StatusText icon={look.icon} tone={look.tone} testId={`decision-status-${props.status}`}>
      {look.label}
    </StatusText>
  );
}

/** "in 45 min" / "in 3 h" for a time ahead of `now`. */
export function formatUntil(iso: string, now: number): string {
  const s = Math.max(0, Math.round((Date.parse(iso) - now) / 1000));
  if (s < 60) return `in ${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `in ${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `in ${h} h`;
  return `in ${Math.round(h / 24)} d`;
}

/** What the expiry line says for the decision's status. */
function expiryText(d: GateDecision, now: number): string | undefined {
  const expiresAt = d.approval?.expiresAt;
  if (!expiresAt) return undefined;
  if (d.status === 'pending') {
    return Date.parse(expiresAt) > now
      ? `Expires ${formatUntil(expiresAt, now)} (${formatDateTime(expiresAt)}) unless someone approves or rejects it.`
      : `Expired at ${formatDateTime(expiresAt)}.`;
  }
  if (d.status === 'expired') return `Expired unapproved at ${formatDateTime(expiresAt)}: the deploy stays held.`;
  return undefined;
}

/** Long words (ids, refs) wrap only where a line would overflow, never letter by letter. */
const WRAP_WORDS = { overflowWrap: 'break-word', wordBreak: 'normal' } as const;

/** How long before the decision a signal was last seen ("10 min before the decision"). */
function lastSeenBefore(lastSeenAt: string, evaluatedAt: string): string {
  const seconds = (Date.parse(evaluatedAt) - Date.parse(lastSeenAt)) / 1000;
  if (Number.isNaN(seconds)) return lastSeenAt;
  return seconds <= 0 ? 'at the decision' : `${formatSeconds(seconds)} before the decision`;
}

function Field(props: { label: string; children: React.ReactNode }) {
  return (
    <Box component="div" mb={1.5}>
      <Typography component="dt" variant="body2" style={{ fontWeight: 600 }}>
        {props.label}
      </Typography>
      <Typography component="dd" variant="body2" style={{ margin: 0, overflowWrap: 'anywhere', wordBreak: 'normal' }}>
        {props.children}
      </Typography>
    </Box>
  );
}

/** Approve / reject with a required comment; the backend decides who may and its refusal is shown as it says it. */
function ReviewForm(props: { decision: GateDecision; onDecided: (d: GateDecision, action: DecisionAction) => void }) {
  const api = useApi(runtimeRiskApiRef);
  const [comment, setComment] = useState('');
  const [missing, setMissing] = useState(false);
  const [busy, setBusy] = useState<DecisionAction | undefined>();
  const [error, setError] = useState<{ title: string; message: string } | undefined>();

  const act = async (action: DecisionAction) => {
    setError(undefined);
    if (!comment.trim()) {
      setMissing(true);
      return;
    }
    setBusy(action);
    try {
      props.onDecided(await api.decideDecision(props.decision.decisionId, action, comment.trim()), action);
    } catch (e) {
      const message = serverMessage(e);
      const own = isResponseError(e) && e.statusCode === 403 && /requester/i.test(message);
      setError({
        title: own
          ? 'You asked for this deploy, so you cannot review it: another approver must.'
          : `Could not ${action} this decision`,
        message,
      });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <form aria-label="review this decision" onSubmit={e => e.preventDefault()} noValidate>
      <TextField
        id="runtime-risk-decision-comment"
        label="Comment (required)"
        required
        fullWidth
        multiline
        minRows={2}
        variant="outlined"
        value={comment}
        error={missing}
        helperText={
          missing
            ? 'Say why: a comment is required to approve or reject.'
            : 'Recorded with your name in the decision log and shown to the requester.'
        }
        // the label in the text colour: MUI's grey label is under 4.5:1 (axe color-contrast)
        InputLabelProps={{ style: { color: 'inherit' } }}
        FormHelperTextProps={{ style: missing ? undefined : { color: 'inherit' } }}
        onChange={e => {
          setComment(e.target.value);
          if (e.target.value.trim()) setMissing(false);
        }}
        inputProps={{ maxLength: 2000 }}
      />
      <Box mt={2} display="flex" flexWrap="wrap" style={{ gap: 12 }}>
        <Button variant="contained" color="primary" disabled={busy !== undefined} onClick={() => act('approve')}>
          {busy === 'approve' ? 'Approving…' : 'Approve deploy'}
        </Button>
        <Button variant="outlined" disabled={busy !== undefined} onClick={() => act('reject')}>
          {busy === 'reject' ? 'Rejecting…' : 'Reject deploy'}
        </Button>
      </Box>
      {error && (
        <Box mt={2}>
          <Alert severity="error" role="alert">
            <AlertTitle>{error.title}</AlertTitle>
            {error.message}
          </Alert>
        </Box>
      )}
    </form>
  );
}

/** The full answer of one recorded gate decision, with approve / reject while it is pending. */
export function DecisionDetails(props: { decisionId: string }) {
  const api = useApi(runtimeRiskApiRef);
  const now = useNow(30_000);
  const loaded = useAsyncRetry(() => api.getDecision(props.decisionId), [api, props.decisionId]);
  const [done, setDone] = useState<string | undefined>();

  if (loaded.loading && !loaded.value) return <Progress />;
  if (loaded.error) {
    const notFound = isResponseError(loaded.error) && loaded.error.statusCode === 404;
    return (
      <Alert severity={notFound ? 'warning' : 'error'}>
        {notFound
          ? `No decision '${props.decisionId}' (or you may not see its service).`
          : `Could not load decision '${props.decisionId}': ${serverMessage(loaded.error)}`}
      </Alert>
    );
  }
  const d = loaded.value!;
  const status: DecisionStatus = d.status ?? 'final';
  const expiry = expiryText(d, now);
  const signals = d.evaluatedSignals ?? [];

  return (
    <Grid container spacing={3} data-testid="runtime-risk-decision">
      <PageIntro
        heading={
          <>
            Deploy of <EntityRefLink entityRef={d.entityRef} underline="always" /> to {d.environment}
          </>
        }
      >
        <Typography variant="body2">
          Decision <code>{d.decisionId}</code>, evaluated {formatAge(d.evaluatedAt, now)} ({formatDateTime(d.evaluatedAt)})
        </Typography>
      </PageIntro>
      {done && (
        <PageMessage severity="success" role="status">
          {done}
        </PageMessage>
      )}
      <Grid item xs={12} md={5}>
        <InfoCard title="Answer">
          <Box component="dl" m={0}>
            <Field label="Decision">
              <DecisionChip decision={d.decision} />
            </Field>
            <Field label="Status">
              <DecisionStatusText status={status} />
            </Field>
            {expiry && <Field label="Expiry">{expiry}</Field>}
            <Field label="Risk level">
              <RiskLevelStatus level={d.riskLevel}>{LEVEL_LABEL[d.riskLevel]}</RiskLevelStatus>
            </Field>
            <Field label="Score">{formatScore(d.score)}</Field>
            {d.approval?.requestedBy && <Field label="Requested by">{d.approval.requestedBy}</Field>}
            {d.approval?.decidedBy && (
              <Field label={status === 'rejected' ? 'Rejected by' : 'Decided by'}>
                {d.approval.decidedBy}
                {d.approval.decidedAt ? ` at ${formatDateTime(d.approval.decidedAt)}` : ''}
                {d.approval.comment ? `: “${d.approval.comment}”` : ''}
              </Field>
            )}
            <Field label="Environment">{d.environment}</Field>
            <Field label="Policy">
              {d.policy.id}, hash <code>{d.policy.hash}</code>
            </Field>
            {d.dryRun && <Field label="Dry run">yes: recorded, never blocks</Field>}
          </Box>
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={7}>
        <InfoCard title="Why">
          <Box component="ul" aria-label="reasons" m={0} pl={2}>
            {d.reasons.map((r, i) => (
              <li key={`${r.code}-${i}`}>
                <Typography variant="body2">
                  <code>{r.code}</code>: {r.message}
                </Typography>
              </li>
            ))}
          </Box>
        </InfoCard>
        {status === 'pending' && (
          <Box mt={3}>
            <InfoCard title="Review">
              <Typography variant="body2" paragraph>
                Approving lets this deploy proceed; rejecting blocks it. Anyone holding the approver permission may
                review it, except the person who asked for the deploy.
              </Typography>
              <ReviewForm
                decision={d}
                onDecided={(after, action) => {
                  setDone(
                    `Decision ${action === 'approve' ? 'approved' : 'rejected'}: the deploy ${after.decision === 'proceed' ? 'may proceed' : 'stays blocked'}.`,
                  );
                  loaded.retry();
                }}
              />
            </InfoCard>
          </Box>
        )}
      </Grid>
      <Grid item xs={12}>
        <InfoCard title={`Signals the gate saw (${signals.length})`}>
          {signals.length === 0 ? (
            <Typography variant="body2">No signal was correlated to the hosts when the gate decided.</Typography>
          ) : (
            <Table size="small" aria-label="signals">
              <TableHead>
                <TableRow>
                  <TableCell>Severity</TableCell>
                  <TableCell style={{ width: '50%' }}>Title</TableCell>
                  <TableCell>Status</TableCell>
                  <TableCell>Source</TableCell>
                  <TableCell>Last seen</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {signals.map(s => (
                  <TableRow key={s.id}>
                    <TableCell>
                      <SeverityStatus severity={s.severity as Signal['severity']} />
                    </TableCell>
                    <TableCell style={WRAP_WORDS}>{s.title}</TableCell>
                    <TableCell>{s.status}</TableCell>
                    <TableCell style={WRAP_WORDS}>{s.source}</TableCell>
                    <TableCell>{lastSeenBefore(s.lastSeenAt, d.evaluatedAt)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <InfoCard title={`Hosts (${d.hosts.length})`}>
          {d.hosts.length === 0 ? (
            <Typography variant="body2">No host was found for this service.</Typography>
          ) : (
            <Table size="small" aria-label="hosts">
              <TableHead>
                <TableRow>
                  <TableCell>Host</TableCell>
                  <TableCell>Matched by</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {d.hosts.map(h => (
                  <TableRow key={h.id}>
                    <TableCell style={WRAP_WORDS}>{h.id}</TableCell>
                    <TableCell style={WRAP_WORDS}>{h.matchedBy}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        <Link to=".." underline="always">
          Back to runtime risk
        </Link>
      </Grid>
    </Grid>
  );
}

/** The decision page's body at `/runtime-risk/decisions/:id`. */
export function DecisionRoutePage() {
  const { id } = useParams<{ id: string }>();
  return <DecisionDetails decisionId={id ?? ''} />;
}
