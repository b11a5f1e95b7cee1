import { FormEvent, useState } from 'react';
import { useApi } from '@backstage/core-plugin-api';
import {
  Box,
  Button,
  Checkbox,
  FormControlLabel,
  FormGroup,
  FormLabel,
  TextField,
  Typography,
} from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import type { RiskLevel, Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { RiskException, runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { serverMessage } from '../../api/RuntimeRiskClient';
import { formatDateTime } from '../common';

/** `YYYY-MM-DDTHH:mm` in local time, as a datetime-local input wants it. */
function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}`;
}

type Outcome =
  | { kind: 'idle' }
  | { kind: 'submitting' }
  | { kind: 'success'; exception: RiskException }
  | { kind: 'error'; message: string };

export interface ExceptionRequestFormProps {
  entityRef: string;
  environments: string[];
  /** Active signals the exception may be scoped to. */
  signals: Signal[];
  /** The entity's current risk level per environment: the default `maxLevel` (as the backend's). */
  levels?: Record<string, RiskLevel>;
  onRequested?: (exception: RiskException) => void;
}

const MAX_LEVELS = ['low', 'moderate', 'high'] as const;
type MaxLevel = (typeof MAX_LEVELS)[number];

/**
 * What the exception will do, in the backend's terms (DESIGN "Exceptions"):
 * without signals it covers risk up to `maxLevel` and is revoked (owners told)
 * when a new signal raises the level above it; scoped to signals it is revoked
 * when another signal contributes, and never waives a failing or stale source.
 */
export function exceptionScopeText(options: { signalIds: string[]; maxLevel?: string; currentLevel?: RiskLevel }): string {
  if (options.signalIds.length > 0) {
    const n = options.signalIds.length;
    return (
      `It waives only the ${n === 1 ? 'selected signal' : `${n} selected signals`}: it is revoked if any other ` +
      'signal adds to the risk, and it never waives a signal source that is down or stale ' +
      '(source_unavailable, signals_stale).'
    );
  }
  if (!options.maxLevel) {
    return (
      'The risk level is not known yet (no signal source has reported a host of this entity), so without a ' +
      'maximum level the exception applies whatever the level becomes.'
    );
  }
  return (
    `It applies while the risk is at most ${options.maxLevel}: it is revoked if the risk rises above ` +
    `${options.maxLevel} (a new signal), and the owners are told.`
  );
}

/** Asks for an exception for this entity in one environment (`POST /v1/exceptions`). */
export function ExceptionRequestForm(props: ExceptionRequestFormProps) {
  const api = useApi(runtimeRiskApiRef);
  const [environment, setEnvironment] = useState(props.environments[0] ?? '');
  const [reason, setReason] = useState('');
  const [expiry, setExpiry] = useState(() => toLocalInput(new Date(Date.now() + 24 * 3600_000)));
  const [signalIds, setSignalIds] = useState<string[]>([]);
  const [chosenMaxLevel, setChosenMaxLevel] = useState<Record<string, MaxLevel | ''>>({});
  const [outcome, setOutcome] = useState<Outcome>({ kind: 'idle' });

  const env = environment || props.environments[0] || '';
  const currentLevel = props.levels?.[env];
  // prefilled with the current level (what the backend would default to); unknown: no maximum
  const defaultMaxLevel: MaxLevel | '' =
    currentLevel && (MAX_LEVELS as readonly string[]).includes(currentLevel) ? (currentLevel as MaxLevel) : '';
  const maxLevel = chosenMaxLevel[env] ?? defaultMaxLevel;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const expiresAt = new Date(expiry);
    if (!env) {
      setOutcome({ kind: 'error', message: 'Choose an environment.' });
      return;
    }
    if (!reason.trim()) {
      setOutcome({ kind: 'error', message: 'Give a reason: approvers see it.' });
      return;
    }
    if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) {
      setOutcome({ kind: 'error', message: 'The expiry must be a date and time in the future.' });
      return;
    }
    setOutcome({ kind: 'submitting' });
    try {
      const exception = await api.requestException({
        entityRef: props.entityRef,
        environment: env,
        reason: reason.trim(),
        expiresAt: expiresAt.toISOString(),
        ...(signalIds.length ? { signalIds } : maxLevel ? { maxLevel } : {}),
      });
      setOutcome({ kind: 'success', exception });
      props.onRequested?.(exception);
    } catch (err) {
      setOutcome({ kind: 'error', message: serverMessage(err) });
    }
  };

  const toggleSignal = (id: string) =>
    setSignalIds(ids => (ids.includes(id) ? ids.filter(i => i !== id) : [...ids, id]));

  return (
    <form onSubmit={onSubmit} aria-label="exception request" noValidate>
      <Typography variant="body2" paragraph>
        An exception lets deploys of this entity proceed in one environment until it expires. Someone
        holding <code>runtime-risk.exception.approve</code> (not you) must approve it.
      </Typography>
      <Box display="flex" flexWrap="wrap" style={{ gap: 16 }}>
        <TextField
          select
          label="Environment"
          value={env}
          onChange={e => setEnvironment(e.target.value)}
          SelectProps={{ native: true }}
          InputLabelProps={{ shrink: true }}
          id="runtime-risk-exception-environment"
        >
          {props.environments.map(e => (
            <option key={e} value={e}>
              {e}
            </option>
          ))}
        </TextField>
        {signalIds.length === 0 && (
          <TextField
            select
            label="Maximum risk level"
            value={maxLevel}
            onChange={e => setChosenMaxLevel(m => ({ ...m, [env]: e.target.value as MaxLevel | '' }))}
            SelectProps={{ native: true }}
            InputLabelProps={{ shrink: true }}
            id="runtime-risk-exception-max-level"
            helperText={currentLevel ? `current level in ${env}: ${currentLevel}` : undefined}
          >
            {defaultMaxLevel === '' && <option value="">no maximum (level unknown)</option>}
            {MAX_LEVELS.map(l => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </TextField>
        )}
        <TextField
          label="Expires at"
          type="datetime-local"
          value={expiry}
          onChange={e => setExpiry(e.target.value)}
          InputLabelProps={{ shrink: true }}
          id="runtime-risk-exception-expiry"
        />
      </Box>
      <TextField
        label="Reason"
        value={reason}
        onChange={e => setReason(e.target.value)}
        multiline
        minRows={2}
        fullWidth
        margin="normal"
        required
        id="runtime-risk-exception-reason"
      />
      {props.signals.length > 0 && (
        <Box my={1}>
          <FormLabel component="legend">Limit to signals (optional)</FormLabel>
          <FormGroup>
            {props.signals.map(s => (
              <FormControlLabel
                key={s.id}
                control={
                  <Checkbox
                    size="small"
                    checked={signalIds.includes(s.id)}
                    onChange={() => toggleSignal(s.id)}
                  />
                }
                label={`${s.id} (${s.severity}): ${s.title}`}
              />
            ))}
          </FormGroup>
        </Box>
      )}
      <Typography variant="body2" paragraph data-testid="exception-scope">
        {exceptionScopeText({ signalIds, maxLevel, currentLevel })}
      </Typography>
      <Button
        type="submit"
        variant="contained"
        color="primary"
        disabled={outcome.kind === 'submitting'}
      >
        Request exception
      </Button>
      {outcome.kind === 'success' && (
        <Box mt={2}>
          <Alert severity="success">
            Exception {outcome.exception.id} requested for {outcome.exception.environment ?? env}
            {outcome.exception.status ? ` (status: ${outcome.exception.status})` : ''}
            {outcome.exception.expiresAt ? `, expires ${formatDateTime(outcome.exception.expiresAt)}` : ''}.
          </Alert>
        </Box>
      )}
      {outcome.kind === 'error' && (
        <Box mt={2}>
          <Alert severity="error">Exception request failed: {outcome.message}</Alert>
        </Box>
      )}
    </form>
  );
}
