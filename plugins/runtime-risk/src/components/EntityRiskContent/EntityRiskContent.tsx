import { useMemo } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import {
  InfoCard,
  Link,
  Progress,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { useEntity } from '@backstage/plugin-catalog-react';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { Box, Grid, Typography } from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import type {
  GateDecision,
  MatchedHost,
  Signal,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { useLiveRefresh } from '../useLiveRefresh';
import { serverMessage } from '../../api/RuntimeRiskClient';
import {
  DecisionChip,
  RiskLevelStatus,
  SeverityStatus,
  TruncatedText,
  UncorrelatedHelp,
  formatDateTime,
  formatScore,
  isUncorrelated,
  useNarrowScreen,
  TABLE_OPTIONS,
  compactColumns,
} from '../common';
import { RiskChart } from './RiskChart';
import { EntitySourceHealthList, coveringSources } from '../SourceHealth/EntitySourceHealth';
import { ExceptionRequestForm } from './ExceptionRequestForm';
import { listWords, signalRows, type SignalRow } from './signalGroups';
import { ExceptionsTable } from '../ExceptionsTable/ExceptionsTable';

/** Module-level elements: Backstage's Table makes its body anew whenever emptyContent changes (rows would remount). */
const NO_SIGNALS = (
  <Box p={2}>
    <Typography variant="body2">
      No signals on this entity's hosts. If you expected some, check the hosts below and the signal sources above.
    </Typography>
  </Box>
);
const NO_HOSTS = (
  <Box p={2}>
    <Typography variant="body2">No hosts matched.</Typography>
  </Box>
);
const NO_DECISIONS = (
  <Box p={2}>
    <Typography variant="body2">The gate has not been asked about this entity yet.</Typography>
  </Box>
);

export function signalHost(s: Signal): string {
  const a = s.asset;
  return a.hostname ?? a.fqdn ?? a.deviceId ?? a.instanceId ?? a.k8s?.pod ?? a.ips[0] ?? '-';
}

/** Below 1280 px the tactics and first-seen columns go; long titles are cut with a tooltip. */
function signalColumns(narrow: boolean): TableColumn<SignalRow>[] {
  return [
    {
      title: 'Severity',
      field: 'severity',
      render: s => <SeverityStatus severity={s.severity} />,
    },
    {
      title: 'Title',
      field: 'title',
      cellStyle: { width: '35%' },
      render: s => (
        <>
          <TruncatedText text={s.title} lines={2} />
          {s.incident && (
            <Typography variant="caption" component="div" data-testid="signal-incident">
              One incident reported by {listWords(s.incident.sources)}, counted once:{' '}
              {s.incident.signals.map(m => m.id).join(', ')}
            </Typography>
          )}
          {s.url && (
            <Link to={s.url} target="_blank" rel="noopener noreferrer">
              open in {s.source} console
            </Link>
          )}
        </>
      ),
    },
    { title: 'Host', cellStyle: { overflowWrap: 'anywhere' }, render: s => signalHost(s) },
    ...(narrow
      ? []
      : [
          {
            title: 'Tactics / techniques',
            render: (s: Signal) => [...s.tactics, ...s.techniques].join(', ') || '-',
          },
          { title: 'First seen', field: 'firstSeenAt', render: (s: Signal) => formatDateTime(s.firstSeenAt) },
        ]),
    { title: 'Last seen', field: 'lastSeenAt', render: s => formatDateTime(s.lastSeenAt) },
    { title: 'Status', field: 'status' },
    { title: 'Source', field: 'source', render: s => (s.incident ? s.incident.sources.join(', ') : s.source) },
  ];
}

type HostRow = MatchedHost & { environment: string };
const hostColumns: TableColumn<HostRow>[] = [
  { title: 'Environment', field: 'environment' },
  { title: 'Host', field: 'id', cellStyle: { overflowWrap: 'anywhere' } },
  { title: 'Matched by', field: 'matchedBy' },
  { title: 'Value', cellStyle: { width: '30%' }, render: h => (h.value ? <TruncatedText text={h.value} lines={2} /> : '-') },
  { title: 'Sources', render: h => (h.sources?.length ? h.sources.join(', ') : '-') },
];

const hostCols = compactColumns(hostColumns);

/** Below 1280 px the policy column goes (its id and hash are in the audit log). */
function decisionColumns(narrow: boolean): TableColumn<GateDecision>[] {
  return [
  { title: 'When', field: 'evaluatedAt', render: d => formatDateTime(d.evaluatedAt), defaultSort: 'desc' },
  { title: 'Environment', field: 'environment' },
  {
    title: 'Decision',
    render: d => (
      <>
        <DecisionChip decision={d.decision} />
        {d.dryRun && (
          <Typography variant="caption" component="div">
            dry run{d.wouldHaveBeen ? `, would have been ${d.wouldHaveBeen}` : ''}
          </Typography>
        )}
        {d.status && d.status !== 'final' && (
          <Typography variant="caption" component="div">
            {d.status}
          </Typography>
        )}
      </>
    ),
  },
  {
    title: 'Level',
    cellStyle: { whiteSpace: 'nowrap' },
    render: d => (
      <RiskLevelStatus level={d.riskLevel}>{d.riskLevel}</RiskLevelStatus>
    ),
  },
  { title: 'Score', render: d => formatScore(d.score) },
  {
    title: 'Reasons',
    cellStyle: { width: '40%', minWidth: 240 },
    render: d => (
      <Box component="ul" m={0} pl={2}>
        {d.reasons.map((r, i) => (
          <li key={i}>
            <code>{r.code}</code> {r.message}
          </li>
        ))}
      </Box>
    ),
  },
  ...(narrow
    ? []
    : [
      {
        title: 'Policy',
        render: (d: GateDecision) => (
          <span title={d.policy.hash}>
            {d.policy.id} <code>{d.policy.hash.slice(0, 19)}</code>
          </span>
        ),
      },
      ]),
  ];
}

const WEEK_MS = 7 * 24 * 3600_000;

/** Dry-run (shadow mode) decisions of the last 7 days, by what they would have been. */
export function shadowCounts(decisions: GateDecision[], now = Date.now()) {
  const recent = decisions.filter(
    d => d.dryRun && now - Date.parse(d.evaluatedAt) <= WEEK_MS,
  );
  return {
    total: recent.length,
    block: recent.filter(d => d.wouldHaveBeen === 'block').length,
    approval: recent.filter(d => d.wouldHaveBeen === 'approval_required').length,
  };
}

function plural(n: number, one: string, many: string) {
  return `${n} ${n === 1 ? one : many}`;
}

function ShadowMode(props: { decisions: GateDecision[] }) {
  const c = shadowCounts(props.decisions);
  return (
    <InfoCard title="Shadow mode (last 7 days)">
      <Typography variant="h6" component="p">
        {plural(c.block, 'deploy', 'deploys')} would have been blocked in the last 7 days
      </Typography>
      <Typography variant="body2" color="textSecondary">
        {plural(c.approval, 'deploy', 'deploys')} would have needed approval, out of{' '}
        {plural(c.total, 'dry-run gate call', 'dry-run gate calls')}. Dry runs (
        <code>dryRun: true</code>) record the decision but never block.
      </Typography>
    </InfoCard>
  );
}

/** The "Runtime risk" tab of an entity page. */
export function EntityRiskContent(props: { pollIntervalMs?: number }) {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const api = useApi(runtimeRiskApiRef);
  const narrow = useNarrowScreen();
  // stable columns: the table keeps its cells (and an open tooltip) across re-renders
  const signalCols = useMemo(() => compactColumns(signalColumns(narrow)), [narrow]);
  const decisionCols = useMemo(() => compactColumns(decisionColumns(narrow)), [narrow]);

  const risk = useAsyncRetry(() => api.getEntityRisk(entityRef), [api, entityRef]);
  const signals = useAsyncRetry(() => api.getSignals({ entityRef, limit: 200 }), [api, entityRef]);
  const decisions = useAsyncRetry(async () => {
    // Newest first, up to 5 pages of 100: enough for the chart and the 7-day shadow counts.
    const first = await api.getDecisions({ entityRef, limit: 100 });
    const items = [...first.items];
    let cursor = first.nextCursor;
    for (let page = 1; cursor && page < 5; page++) {
      const next = await api.getDecisions({ entityRef, limit: 100, cursor });
      items.push(...next.items);
      cursor = next.nextCursor;
    }
    return { items, totalCount: first.totalCount };
  }, [api, entityRef]);
  const exceptions = useAsyncRetry(
    () => api.listExceptions({ entityRef, limit: 100 }),
    [api, entityRef],
  );
  // the stored score snapshots of the last 7 days, every environment, in one request
  const history = useAsyncRetry(() => api.getEntityRiskHistory(entityRef, { days: 7 }), [api, entityRef]);
  // refetched when the backend announces a change (signals plugin), else polled
  useLiveRefresh(
    entityRef,
    () => {
      risk.retry();
      history.retry();
      signals.retry();
      decisions.retry();
      exceptions.retry();
    },
    props.pollIntervalMs ?? 30_000,
  );

  const hostRows = useMemo<HostRow[]>(
    () => (risk.value ?? []).flatMap(r => r.hosts.map(h => ({ ...h, environment: r.environment }))),
    [risk.value],
  );
  const environments = useMemo(() => (risk.value ?? []).map(r => r.environment), [risk.value]);
  // one incident several vendors reported is one row (the gate counted it once)
  const incidentRows = useMemo(() => signalRows(signals.value?.items ?? [], risk.value ?? []), [signals.value, risk.value]);
  const activeSignals = useMemo(
    () => (signals.value?.items ?? []).filter(s => s.status === 'active'),
    [signals.value],
  );

  return (
    <Grid container spacing={3} alignItems="stretch" data-testid="runtime-risk-content">
      {risk.error && !risk.value && (
        <Grid item xs={12}>
          <Alert severity="error">
            Could not load runtime risk for {entityRef}: {serverMessage(risk.error)}
          </Alert>
        </Grid>
      )}
      {risk.value?.some(isUncorrelated) && (
        <Grid item xs={12}>
          <InfoCard title="No hosts found">
            <UncorrelatedHelp
              entityName={entity.metadata.name}
              reasons={risk.value.flatMap(r => r.reasons)}
            />
          </InfoCard>
        </Grid>
      )}
      <Grid item xs={12} md={8}>
        <InfoCard title="Risk over time" subheader="Score per environment over the last 7 days; gate decisions as markers">
          {history.loading && !history.value && <Progress />}
          {history.error && (
            <Alert severity="error">Score history unavailable: {serverMessage(history.error)}</Alert>
          )}
          {decisions.error && (
            <Alert severity="error">Decision history unavailable: {serverMessage(decisions.error)}</Alert>
          )}
          {(history.value || (history.error && decisions.value)) && (
            <RiskChart snapshots={history.value?.items} since={history.value?.since} decisions={decisions.value?.items} />
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12} md={4}>
        {decisions.value ? (
          <ShadowMode decisions={decisions.value.items} />
        ) : (
          <InfoCard title="Shadow mode (last 7 days)">
            {decisions.loading ? <Progress /> : 'No decision history.'}
          </InfoCard>
        )}
      </Grid>
      <Grid item xs={12}>
        <InfoCard
          title="Signal sources"
          subheader="The sources that cover this entity: state, age of their data, and the environments whose maximum signal age it exceeds"
        >
          {risk.loading && !risk.value && <Progress />}
          {risk.value && <EntitySourceHealthList sources={coveringSources(risk.value)} />}
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        {signals.error ? (
          <Alert severity="error">Signals unavailable: {serverMessage(signals.error)}</Alert>
        ) : (
          <Table<SignalRow>
            title={`Signals (${signals.value?.totalCount ?? 0})`}
            isLoading={signals.loading && !signals.value}
            columns={signalCols}
            data={incidentRows}
            options={{ paging: (signals.value?.items.length ?? 0) > 10, pageSize: 10, search: true, ...TABLE_OPTIONS }}
            emptyContent={NO_SIGNALS}
          />
        )}
      </Grid>
      <Grid item xs={12}>
        <Table<HostRow>
          title="Hosts and how each was matched"
          isLoading={risk.loading && !risk.value}
          columns={hostCols}
          data={hostRows}
          options={{ paging: false, search: false, ...TABLE_OPTIONS }}
          emptyContent={NO_HOSTS}
        />
      </Grid>
      <Grid item xs={12}>
        {decisions.error ? null : (
          <Table<GateDecision>
            title={`Decision history (${decisions.value?.totalCount ?? 0})`}
            isLoading={decisions.loading && !decisions.value}
            columns={decisionCols}
            data={decisions.value?.items ?? []}
            options={{ paging: (decisions.value?.items.length ?? 0) > 10, pageSize: 10, search: false, ...TABLE_OPTIONS }}
            emptyContent={NO_DECISIONS}
          />
        )}
      </Grid>
      <Grid item xs={12}>
        <InfoCard title="Request an exception">
          {environments.length > 0 ? (
            <ExceptionRequestForm
              entityRef={entityRef}
              environments={environments}
              signals={activeSignals}
              levels={Object.fromEntries((risk.value ?? []).map(r => [r.environment, r.riskLevel]))}
              onRequested={() => {
                risk.retry();
                exceptions.retry();
              }}
            />
          ) : (
            <Typography variant="body2">
              {risk.loading ? 'Loading environments…' : 'No environment to request an exception for.'}
            </Typography>
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12}>
        {exceptions.error ? (
          <Alert severity="error">Exceptions unavailable: {serverMessage(exceptions.error)}</Alert>
        ) : (
          <ExceptionsTable
            title="Exceptions"
            exceptions={exceptions.value?.items ?? []}
            isLoading={exceptions.loading && !exceptions.value}
            emptyText="No exception has been requested for this entity."
            onChanged={() => {
              exceptions.retry();
              risk.retry();
            }}
          />
        )}
      </Grid>
    </Grid>
  );
}
