import { useEffect, useState } from 'react';
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

function Transitions(props: { transitions: Transition[] }) {
  const changed = props.transitions.filter(t => t.from !== t.to);
  if (changed.length === 0) return <>-</>;
  return (
    <>
      {changed.map(t => (
        <Box key={`${t.from}-${t.to}`} component="span" display="inline-flex" alignItems="center" mr={2} style={{ gap: 4 }}>
          <DecisionChip decision={t.from} /> → <DecisionChip decision={t.to} /> {t.count}
        </Box>
      ))}
    </>
  );
}

function GroupTable(props: { label: string; caption: string; rows: { key: string; name: JSX.Element | string; total: number; changed: number; transitions: Transition[] }[] }) {
  return (
    <Table size="small" aria-label={props.caption}>
      <TableHead>
        <TableRow>
          <TableCell>{props.label}</TableCell>
          <TableCell>Decisions</TableCell>
          <TableCell>Would change</TableCell>
          <TableCell>Changes</TableCell>
        </TableRow>
      </TableHead>
      <TableBody>
        {props.rows.map(r => (
          <TableRow key={r.key}>
            <TableCell>{r.name}</TableCell>
            <TableCell>{r.total}</TableCell>
            <TableCell>{r.changed}</TableCell>
            <TableCell>
              <Transitions transitions={r.transitions} />
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
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
      <Grid item xs={12} md={4}>
        <InfoCard title="Transitions">
          <Table size="small" aria-label="transitions">
            <TableHead>
              <TableRow>
                <TableCell>Recorded</TableCell>
                <TableCell>Proposed</TableCell>
                <TableCell>Count</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {result.transitions.map(t => (
                <TableRow key={`${t.from}-${t.to}`}>
                  <TableCell>
                    <DecisionChip decision={t.from} />
                  </TableCell>
                  <TableCell>
                    <DecisionChip decision={t.to} />
                  </TableCell>
                  <TableCell>{t.count}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={8}>
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
            <Table size="small" aria-label="changed decisions">
              <TableHead>
                <TableRow>
                  <TableCell>When</TableCell>
                  <TableCell>Entity</TableCell>
                  <TableCell>Environment</TableCell>
                  <TableCell>Recorded</TableCell>
                  <TableCell>Proposed</TableCell>
                  <TableCell>Why, under the proposed policy</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {result.changedDecisions.items.map(c => (
                  <TableRow key={c.decisionId}>
                    <TableCell style={{ whiteSpace: 'nowrap' }}>{formatDateTime(c.createdAt)}</TableCell>
                    <TableCell>
                      <EntityRefLink entityRef={c.entityRef} />
                    </TableCell>
                    <TableCell>
                      {c.environment}
                      {c.dryRun ? ' (dry run)' : ''}
                    </TableCell>
                    <TableCell>
                      <DecisionChip decision={c.old.decision} />
                    </TableCell>
                    <TableCell>
                      <DecisionChip decision={c.new.decision} />
                    </TableCell>
                    <TableCell>{c.new.reasons.filter(r => r.code !== 'dry_run').map(r => r.message)[0] ?? '-'}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
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
