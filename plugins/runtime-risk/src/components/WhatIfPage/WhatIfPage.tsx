import { useEffect, useState, type ReactNode } from 'react';
import useAsync from 'react-use/esm/useAsync';
import { InfoCard, Progress } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import {
  Box,
  Button,
  Grid,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import { runtimeRiskApiRef, type BacktestResult } from '../../api/RuntimeRiskApi';
import { serverMessage } from '../../api/RuntimeRiskClient';
import { DecisionChip, PageIntro, PageMessage, formatDateTime } from '../common';

/** Windows offered for a backtest (the backend takes any duration or date-time). */
const WINDOWS = [
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
];
const PAGE = 50;

type Transition = BacktestResult['transitions'][number];

/**
 * Headers and short cells (counts, chips, environments, entity links) stay on one line: the
 * Backstage theme gives table cells `word-break: break-word`, which lets an auto-layout table
 * squeeze a column down to one letter per line ("C/o/u/n/t", "productio/n").
 */
const NOWRAP = { whiteSpace: 'nowrap' } as const;
/** Long text (the proposed policy's reason): wraps between words only, at a readable width. */
const PROSE = { wordBreak: 'normal', overflowWrap: 'break-word', minWidth: 240 } as const;

/** A table that scrolls sideways inside its card when the card is narrower than its columns (instead of wrapping them mid-word). */
function ScrollTable(props: { label: string; children: ReactNode }) {
  return (
    <TableContainer style={{ overflowX: 'auto' }}>
      <Table size="small" aria-label={props.label}>
        {props.children}
      </Table>
    </TableContainer>
  );
}

/** A header row of one-line column names. */
function HeadRow(props: { columns: string[] }) {
  return (
    <TableHead>
      <TableRow>
        {props.columns.map(c => (
          <TableCell key={c} style={NOWRAP}>
            {c}
          </TableCell>
        ))}
      </TableRow>
    </TableHead>
  );
}

function Transitions(props: { transitions: Transition[] }) {
  const changed = props.transitions.filter(t => t.from !== t.to);
  if (changed.length === 0) return <>-</>;
  return (
    <>
      {changed.map(t => (
        <Box key={`${t.from}-${t.to}`} component="span" display="inline-flex" alignItems="center" mr={2} style={{ gap: 4, ...NOWRAP }}>
          <DecisionChip decision={t.from} /> → <DecisionChip decision={t.to} /> {t.count}
        </Box>
      ))}
    </>
  );
}

function GroupTable(props: { label: string; caption: string; rows: { key: string; name: JSX.Element | string; total: number; changed: number; transitions: Transition[] }[] }) {
  return (
    <ScrollTable label={props.caption}>
      <HeadRow columns={[props.label, 'Decisions', 'Would change', 'Changes']} />
      <TableBody>
        {props.rows.map(r => (
          <TableRow key={r.key}>
            <TableCell style={NOWRAP}>{r.name}</TableCell>
            <TableCell style={NOWRAP}>{r.total}</TableCell>
            <TableCell style={NOWRAP}>{r.changed}</TableCell>
            {/* several transitions wrap between each other, never inside one */}
            <TableCell>
              <Transitions transitions={r.transitions} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </ScrollTable>
  );
}

/** What the result of a backtest says: counts per transition, environment and entity, and the changed decisions. */
export function BacktestView(props: { result: BacktestResult; onMore?: () => void; loadingMore?: boolean }) {
  const { result } = props;
  return (
    <Grid container spacing={3} data-testid="backtest-result">
      <Grid item xs={12}>
        <Typography variant="h6" component="p">
          {result.total} decisions replayed, {result.changed} would change
        </Typography>
        <Typography variant="body2">
          Policy {result.policy.id} ({result.policy.hash.slice(0, 12)}), decisions from {formatDateTime(result.since)} to{' '}
          {formatDateTime(result.until)}. Nothing was recorded.
          {result.notEvaluated.count > 0 &&
            ` ${result.notEvaluated.count} decisions were not replayed: the proposed policy does not define ${result.notEvaluated.environments.join(', ')}.`}
        </Typography>
      </Grid>
      {/* side by side from 1280 px (two chips and a count fit in 5/12), one above the other below */}
      <Grid item xs={12} lg={5}>
        <InfoCard title="Transitions">
          <ScrollTable label="transitions">
            <HeadRow columns={['Recorded', 'Proposed', 'Count']} />
            <TableBody>
              {result.transitions.map(t => (
                <TableRow key={`${t.from}-${t.to}`}>
                  <TableCell style={NOWRAP}>
                    <DecisionChip decision={t.from} />
                  </TableCell>
                  <TableCell style={NOWRAP}>
                    <DecisionChip decision={t.to} />
                  </TableCell>
                  <TableCell style={NOWRAP}>{t.count}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </ScrollTable>
        </InfoCard>
      </Grid>
      <Grid item xs={12} lg={7}>
        <InfoCard title="By environment">
          <GroupTable
            label="Environment"
            caption="by environment"
            rows={result.byEnvironment.map(g => ({ key: g.environment ?? '', name: g.environment ?? '', total: g.total, changed: g.changed, transitions: g.transitions }))}
          />
        </InfoCard>
      </Grid>
      {result.byEntity.length > 0 && (
        <Grid item xs={12}>
          <InfoCard title={`Entities with changes (${result.byEntity.length})`}>
            <GroupTable
              label="Entity"
              caption="by entity"
              rows={result.byEntity.map(g => ({
                key: g.entityRef ?? '',
                name: <EntityRefLink entityRef={g.entityRef ?? ''} />,
                total: g.total,
                changed: g.changed,
                transitions: g.transitions,
              }))}
            />
          </InfoCard>
        </Grid>
      )}
      {result.changedDecisions.items.length > 0 && (
        <Grid item xs={12}>
          <InfoCard title={`Changed decisions (${result.changedDecisions.items.length} of ${result.changedDecisions.totalCount})`}>
            <ScrollTable label="changed decisions">
              <HeadRow columns={['When', 'Entity', 'Environment', 'Recorded', 'Proposed', 'Why, under the proposed policy']} />
              <TableBody>
                {result.changedDecisions.items.map(c => (
                  <TableRow key={c.decisionId}>
                    <TableCell style={NOWRAP}>{formatDateTime(c.createdAt)}</TableCell>
                    <TableCell style={NOWRAP}>
                      <EntityRefLink entityRef={c.entityRef} />
                    </TableCell>
                    <TableCell style={NOWRAP}>
                      {c.environment}
                      {c.dryRun ? ' (dry run)' : ''}
                    </TableCell>
                    <TableCell style={NOWRAP}>
                      <DecisionChip decision={c.old.decision} />
                    </TableCell>
                    <TableCell style={NOWRAP}>
                      <DecisionChip decision={c.new.decision} />
                    </TableCell>
                    <TableCell style={PROSE}>{c.new.reasons.filter(r => r.code !== 'dry_run').map(r => r.message)[0] ?? '-'}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </ScrollTable>
            {result.changedDecisions.nextCursor && props.onMore && (
              <Box mt={1}>
                <Button variant="outlined" onClick={props.onMore} disabled={props.loadingMore}>
                  More changed decisions
                </Button>
              </Box>
            )}
          </InfoCard>
        </Grid>
      )}
    </Grid>
  );
}

/**
 * "What if": a proposed policy (YAML, same schema as `runtimeRisk.policy`; it starts as
 * the active one) replayed over the decisions recorded in a window
 * (`POST /v1/policy/backtest`); shows what would change. Nothing is recorded.
 */
export function WhatIfPage() {
  const api = useApi(runtimeRiskApiRef);
  const active = useAsync(async () => {
    const { items } = await api.listPolicies();
    const current = items.find(p => p.active) ?? items[0];
    return current ? api.getPolicy(current.hash) : undefined;
  }, [api]);
  const [policy, setPolicy] = useState<string | undefined>(undefined);
  const [since, setSince] = useState('7d');
  const [environment, setEnvironment] = useState('');
  const [entityRef, setEntityRef] = useState('');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [result, setResult] = useState<BacktestResult | undefined>(undefined);
  const [request, setRequest] = useState<Parameters<typeof api.backtestPolicy>[0] | undefined>(undefined);

  // start from the active policy (JSON is YAML too)
  useEffect(() => {
    if (policy === undefined && active.value) setPolicy(JSON.stringify(active.value.body, null, 2));
  }, [policy, active.value]);

  const run = async (more?: string) => {
    const body = more && request ? { ...request, cursor: more } : {
      policyYaml: policy ?? '',
      since,
      limit: PAGE,
      ...(environment.trim() ? { environment: environment.trim() } : {}),
      ...(entityRef.trim() ? { entityRef: entityRef.trim() } : {}),
    };
    setRunning(true);
    setError(undefined);
    try {
      const answer = await api.backtestPolicy(body);
      if (more && result) {
        setResult({ ...answer, changedDecisions: { ...answer.changedDecisions, items: [...result.changedDecisions.items, ...answer.changedDecisions.items] } });
      } else {
        // page on with the same window: the answer's own since and until
        setRequest({ ...body, since: answer.since, until: answer.until });
        setResult(answer);
      }
    } catch (e) {
      setError(serverMessage(e));
    } finally {
      setRunning(false);
    }
  };

  return (
    <Grid container spacing={3}>
      <PageIntro>
        <Typography variant="body1">
          What would a policy change have done? Edit the policy (YAML, as under <code>runtimeRisk.policy</code>), pick
          a window and replay every decision the gate recorded in it. Nothing is recorded.
        </Typography>
      </PageIntro>
      <Grid item xs={12}>
        {active.error && <Alert severity="warning">The active policy could not be loaded: {serverMessage(active.error)}</Alert>}
        {active.loading && <Progress />}
        <TextField
          id="runtime-risk-what-if-policy"
          label="Proposed policy (YAML)"
          multiline
          minRows={12}
          maxRows={30}
          fullWidth
          variant="outlined"
          value={policy ?? ''}
          onChange={e => setPolicy(e.target.value)}
          inputProps={{ spellCheck: false, style: { fontFamily: 'monospace', fontSize: 13 } }}
          InputLabelProps={{ shrink: true, style: { color: 'inherit' } }}
        />
      </Grid>
      <Grid item xs={12}>
        <Box display="flex" alignItems="flex-end" flexWrap="wrap" style={{ gap: 16 }}>
          <TextField
            select
            id="runtime-risk-what-if-window"
            label="Window"
            value={since}
            onChange={e => setSince(e.target.value)}
            SelectProps={{ native: true }}
            InputLabelProps={{ shrink: true, style: { color: 'inherit' } }}
          >
            {WINDOWS.map(w => (
              <option key={w.value} value={w.value}>
                {w.label}
              </option>
            ))}
          </TextField>
          <TextField
            id="runtime-risk-what-if-environment"
            label="Environment (optional)"
            value={environment}
            onChange={e => setEnvironment(e.target.value)}
            InputLabelProps={{ shrink: true, style: { color: 'inherit' } }}
          />
          <TextField
            id="runtime-risk-what-if-entity"
            label="Entity (optional)"
            placeholder="component:default/payments"
            value={entityRef}
            onChange={e => setEntityRef(e.target.value)}
            InputLabelProps={{ shrink: true, style: { color: 'inherit' } }}
          />
          <Button variant="contained" color="primary" onClick={() => run()} disabled={running || !policy?.trim()}>
            Replay recorded decisions
          </Button>
        </Box>
      </Grid>
      {error && <PageMessage severity="error">Backtest refused: {error}</PageMessage>}
      {running && !result && (
        <Grid item xs={12}>
          <Progress />
        </Grid>
      )}
      {result && (
        <Grid item xs={12}>
          <BacktestView
            result={result}
            loadingMore={running}
            onMore={result.changedDecisions.nextCursor ? () => run(result.changedDecisions.nextCursor) : undefined}
          />
        </Grid>
      )}
    </Grid>
  );
}
