import { useMemo, useState } from 'react';
import { Link as RouterLink } from 'react-router-dom';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { InfoCard, Progress, Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { catalogApiRef, EntityRefLink } from '@backstage/plugin-catalog-react';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import { Box, Button, Grid, TextField, Typography } from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import type { EntityRisk, RiskLevel, SourceHealth } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { runtimeRiskApiRef, type OrgSummary } from '../../api/RuntimeRiskApi';
import { isResponseError, serverMessage } from '../../api/RuntimeRiskClient';
import { ExceptionsTable } from '../ExceptionsTable/ExceptionsTable';
import { StaleFor, StaleSources } from '../SourceHealth/EntitySourceHealth';
import { DecisionQueue } from '../DecisionQueue/DecisionQueue';
import {
  DecisionChip,
  HOSTS_ANNOTATION,
  LEVEL_LABEL,
  LEVEL_RANK,
  RiskLevelStatus,
  SourceStatus,
  formatAge,
  formatScore,
  formatSeconds,
  TruncatedText,
  isUncorrelated,
  topReasons,
  useNarrowScreen,
  TABLE_OPTIONS,
  compactColumns,
} from '../common';

interface ServiceInfo {
  ref: string;
  name: string;
  title?: string;
  owner: string;
  system: string;
}

/** What the ranking shows of an entity's risk in one environment (a row of `GET /v1/summary`). */
export type RowRisk = Pick<EntityRisk, 'entityRef' | 'environment' | 'riskLevel' | 'score' | 'decision' | 'reasons'>;

export interface RiskRow {
  id: string;
  rank: number;
  service: ServiceInfo;
  risk: RowRisk;
}

interface ServiceResult {
  service: ServiceInfo;
  risks?: RowRisk[];
  error?: Error;
}

/** Rows of the org summary asked for: every entity x environment of any realistic catalog. */
const SUMMARY_ROWS = 5000;

const ALL = '';

function serviceInfo(e: Entity): ServiceInfo {
  const spec = (e.spec ?? {}) as { owner?: unknown; system?: unknown };
  return {
    ref: stringifyEntityRef(e),
    name: e.metadata.name,
    title: e.metadata.title,
    owner: typeof spec.owner === 'string' ? spec.owner : '-',
    system: typeof spec.system === 'string' ? spec.system : '-',
  };
}

/** A Component the backend's summary does not have (not indexed yet). */
const NOT_KNOWN = new Error('not known to the runtime-risk backend yet');

/** The gate's answers now, and what shadow mode would have blocked, in the environment looked at. */
function SummaryCounts(props: { summary: OrgSummary; environment: string }) {
  const { summary, environment } = props;
  const counts = summary.counts.filter(c => environment === ALL || c.environment === environment);
  const sum = (k: 'block' | 'approval_required' | 'proceed') => counts.reduce((n, c) => n + c.byDecision[k], 0);
  const blocked = summary.shadow.buckets.reduce((n, b) => n + b.wouldHaveBlocked, 0);
  const approval = summary.shadow.buckets.reduce((n, b) => n + b.wouldHaveRequiredApproval, 0);
  return (
    <Grid item xs={12} component="section" aria-label="gate summary">
      <Typography variant="body2">
        Gate now{environment === ALL ? ' (every environment)' : ` in ${environment}`}: {sum('block')} block,{' '}
        {sum('approval_required')} approval required, {sum('proceed')} proceed. Shadow mode, last{' '}
        {summary.shadow.buckets.length} days: {blocked} would have blocked, {approval} would have needed approval.
      </Typography>
    </Grid>
  );
}

/** Highest score first; unscored (unknown) last; then by level, then by name. */
export function rankRows(rows: Omit<RiskRow, 'rank'>[]): RiskRow[] {
  return [...rows]
    .sort((a, b) => {
      const sa = a.risk.score ?? -1;
      const sb = b.risk.score ?? -1;
      if (sb !== sa) return sb - sa;
      const lr = LEVEL_RANK[b.risk.riskLevel] - LEVEL_RANK[a.risk.riskLevel];
      if (lr !== 0) return lr;
      return a.service.ref.localeCompare(b.service.ref) || a.risk.environment.localeCompare(b.risk.environment);
    })
    .map((r, i) => ({ ...r, rank: i + 1 }));
}

function FilterSelect(props: {
  label: string;
  value: string;
  options: string[];
  onChange: (v: string) => void;
  allLabel?: string;
}) {
  const id = `runtime-risk-filter-${props.label.toLowerCase()}`;
  return (
    <TextField
      select
      id={id}
      label={props.label}
      value={props.value}
      onChange={e => props.onChange(e.target.value)}
      SelectProps={{ native: true }}
      // the label in the text colour: MUI's grey label on the page background is 4.47:1 (axe color-contrast)
      InputLabelProps={{ shrink: true, style: { color: 'inherit' } }}
      style={{ minWidth: 160 }}
    >
      <option value={ALL}>{props.allLabel ?? 'All'}</option>
      {props.options.map(o => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </TextField>
  );
}

function sourceColumns(narrow: boolean): TableColumn<SourceHealth>[] {
  return [
    {
      title: 'Source',
      cellStyle: { whiteSpace: 'nowrap' },
      // the state and, under it, the environments whose maxSignalAge its data exceeds
      render: s => (
        <Box display="flex" flexDirection="column" style={{ gap: 2 }}>
          <SourceStatus source={s} />
          <StaleFor environments={s.staleFor} />
        </Box>
      ),
    },
    { title: 'Type', field: 'type' },
    { title: 'Last success', render: s => formatAge(s.lastSuccessAt) },
    ...(narrow ? [] : [{ title: 'Last attempt', render: (s: SourceHealth) => formatAge(s.lastAttemptAt) }]),
    { title: 'Failures in a row', field: 'consecutiveFailures' },
    ...(narrow ? [] : [{ title: 'Data age', render: (s: SourceHealth) => formatSeconds(s.lagSeconds) }]),
    {
      title: 'Last error',
      cellStyle: { width: '30%' },
      render: s => (s.lastError ? <TruncatedText text={s.lastError} lines={2} /> : '-'),
    },
  ];
}

/**
 * Under 1280 px the ranking's seven columns need about 755 px at their narrowest (the gate chip and
 * the level do not wrap, the top reason keeps 180 px), 3 px more than a 1024 px screen leaves it:
 * 4 px less padding on the left of each cell there.
 */
function tighter<T extends object>(c: TableColumn<T>): TableColumn<T> {
  const narrowPadding = { paddingLeft: 8 };
  return {
    ...c,
    headerStyle: { ...(c.headerStyle ?? {}), ...narrowPadding },
    cellStyle: typeof c.cellStyle === 'function' ? c.cellStyle : { ...(c.cellStyle ?? {}), ...narrowPadding },
  };
}

/** One element for every render: a new emptyContent remounts the table's cells (see rankingEmpty). */
const NO_SOURCES = (
  <Box p={2}>
    <Typography variant="body2">
      No signal source is configured: add one under <code>runtimeRisk.sources</code> in app-config.yaml.
    </Typography>
  </Box>
);

/** The org-wide risk page: every service ranked by risk, per environment. */
export function RuntimeRiskOverview() {
  const catalogApi = useApi(catalogApiRef);
  const api = useApi(runtimeRiskApiRef);
  const narrow = useNarrowScreen();
  const sourceCols = useMemo(() => compactColumns(sourceColumns(narrow)), [narrow]);

  // one summary call for every service's risk (GET /v1/summary), not one risk call per Component;
  // the catalog gives titles, owners and systems, and the Components the backend does not know yet
  const summary = useAsyncRetry(() => api.getSummary({ limit: SUMMARY_ROWS }), [api]);
  const results = useAsyncRetry(async (): Promise<ServiceResult[]> => {
    const { items } = await catalogApi.getEntities({
      filter: { kind: 'Component' },
      fields: ['kind', 'metadata.name', 'metadata.namespace', 'metadata.title', 'spec.owner', 'spec.system'],
    });
    return items.map(entity => ({ service: serviceInfo(entity) }));
  }, [catalogApi]);
  const sources = useAsyncRetry(() => api.getSources(), [api]);
  const pending = useAsyncRetry(() => api.listExceptions({ status: 'pending', limit: 100 }), [api]);

  const [owner, setOwner] = useState(ALL);
  const [system, setSystem] = useState(ALL);
  const [level, setLevel] = useState(ALL);
  const [environment, setEnvironment] = useState<string | undefined>(undefined);

  const all = useMemo((): ServiceResult[] => {
    const byRef = new Map<string, RowRisk[]>();
    for (const r of summary.value?.topRisky ?? []) byRef.set(r.entityRef, [...(byRef.get(r.entityRef) ?? []), r]);
    // every row came back: a Component without one is not known to the backend (yet)
    const complete = summary.value !== undefined && summary.value.topRisky.length >= (summary.value.topRiskyTotal ?? 0);
    return (results.value ?? []).map(r => {
      const risks = byRef.get(r.service.ref);
      if (risks) return { ...r, risks };
      if (summary.error) return { ...r, error: summary.error };
      return complete ? { ...r, error: NOT_KNOWN } : r;
    });
  }, [results.value, summary.value, summary.error]);
  const environments = useMemo(
    () => [...new Set(all.flatMap(r => r.risks?.map(x => x.environment) ?? []))].sort(),
    [all],
  );
  // Default to production when the policy has it: that is where a block hurts.
  const env = environment ?? (environments.includes('production') ? 'production' : ALL);
  const owners = useMemo(() => [...new Set(all.map(r => r.service.owner))].sort(), [all]);
  const systems = useMemo(() => [...new Set(all.map(r => r.service.system))].sort(), [all]);

  const rows = useMemo(() => {
    const flat = all.flatMap(r =>
      (r.risks ?? []).map(risk => ({ id: `${r.service.ref}|${risk.environment}`, service: r.service, risk })),
    );
    return rankRows(
      flat.filter(
        r =>
          (owner === ALL || r.service.owner === owner) &&
          (system === ALL || r.service.system === system) &&
          (level === ALL || r.risk.riskLevel === level) &&
          (env === ALL || r.risk.environment === env),
      ),
    );
  }, [all, owner, system, level, env]);

  // Uncorrelated in the environment being looked at (a service may have hosts in production only).
  const uncorrelatedIn = (r: (typeof all)[number]) =>
    (r.risks ?? []).filter(x => isUncorrelated(x) && (env === ALL || x.environment === env)).map(x => x.environment);
  const uncorrelated = all.filter(r => uncorrelatedIn(r).length > 0);
  const failed = all.filter(r => r.error);
  const evaluated = all.filter(r => r.risks && r.risks.length > 0);

  // Below 1280 px the system column goes (the owner says who to ask); long reasons are cut
  // to two lines with the whole text in a tooltip.
  const columns = useMemo<TableColumn<RiskRow>[]>(
    () => compactColumns<RiskRow>([
    { title: 'Rank', field: 'rank', width: '60px' },
    {
      title: 'Service',
      render: r => <EntityRefLink entityRef={r.service.ref}>{r.service.title ?? r.service.name}</EntityRefLink>,
    },
    { title: 'Owner', render: r => r.service.owner },
    ...(narrow ? [] : [{ title: 'System', render: (r: RiskRow) => r.service.system }]),
    // under 1280 px, one environment picked in the filter needs no column of its own
    ...(narrow && env !== ALL ? [] : [{ title: 'Environment', render: (r: RiskRow) => r.risk.environment }]),
    {
      title: 'Level',
      cellStyle: { whiteSpace: 'nowrap' },
      render: r => <RiskLevelStatus level={r.risk.riskLevel}>{LEVEL_LABEL[r.risk.riskLevel]}</RiskLevelStatus>,
    },
    { title: 'Score', render: r => formatScore(r.risk.score) },
    {
      title: 'Gate now',
      cellStyle: { whiteSpace: 'nowrap' },
      // with the stale sources the row's reasons name (signals_stale in this environment)
      render: r => (
        <Box display="flex" flexDirection="column" alignItems="flex-start" style={{ gap: 2 }}>
          <DecisionChip decision={r.risk.decision} />
          <StaleSources reasons={r.risk.reasons} />
        </Box>
      ),
    },
    {
      title: 'Top reason',
      cellStyle: { width: '40%', minWidth: 180 },
      render: r => {
        const text = topReasons(r.risk.reasons, 1).map(x => x.message).join('');
        return text ? <TruncatedText text={text} lines={2} /> : '-';
      },
    },
    ]).map(c => (narrow ? tighter(c) : c)),
    [narrow, env],
  );
  // Memoized: Backstage's Table makes its body component anew whenever emptyContent changes,
  // which remounts every cell (a shown tooltip, a focused link) on each render of this page.
  const noComponents = all.length === 0;
  const rankingEmpty = useMemo(
    () => (
      <Box p={2}>
        <Typography variant="body2">
          {noComponents
            ? 'The catalog has no Components yet. Register catalog-info.yaml files to see their runtime risk here.'
            : 'No service matches these filters.'}
        </Typography>
      </Box>
    ),
    [noComponents],
  );

  if ((results.loading && !results.value) || (summary.loading && !summary.value && !summary.error)) return <Progress />;
  if (results.error) {
    return (
      <Alert severity="error">
        Could not list services from the catalog: {serverMessage(results.error)}
      </Alert>
    );
  }

  return (
    <Grid container spacing={3} data-testid="runtime-risk-overview">
      <Grid item xs={12}>
        <Box display="flex" alignItems="flex-end" flexWrap="wrap" style={{ gap: 16 }}>
          <FilterSelect label="Environment" value={env} options={environments} onChange={setEnvironment} allLabel="All environments" />
          <FilterSelect label="Owner" value={owner} options={owners} onChange={setOwner} />
          <FilterSelect label="System" value={system} options={systems} onChange={setSystem} />
          <FilterSelect
            label="Level"
            value={level}
            options={['high', 'moderate', 'low', 'unknown'] satisfies RiskLevel[]}
            onChange={setLevel}
          />
          <Button
            variant="outlined"
            onClick={() => {
              results.retry();
              summary.retry();
              sources.retry();
              pending.retry();
            }}
          >
            Refresh
          </Button>
          {/* the "What if" page: a proposed policy replayed over the recorded decisions */}
          <Button variant="outlined" component={RouterLink} to="what-if">
            What if…
          </Button>
          <Typography variant="body2">
            Coverage: {evaluated.length - uncorrelated.length} of {all.length} services correlated with
            hosts{env === ALL ? ' in every environment' : ` in ${env}`}
          </Typography>
        </Box>
      </Grid>
      {summary.error && (
        <Grid item xs={12}>
          <Alert severity="error">Risk summary unavailable: {serverMessage(summary.error)}</Alert>
        </Grid>
      )}
      {summary.value && <SummaryCounts summary={summary.value} environment={env} />}
      <Grid item xs={12} component="section" aria-label="services ranked by risk">
        <Table<RiskRow>
          title={`Services ranked by risk (${rows.length})`}
          columns={columns}
          data={rows}
          options={{ paging: rows.length > 20, pageSize: 20, search: true, ...TABLE_OPTIONS }}
          emptyContent={rankingEmpty}
        />
      </Grid>
      <Grid item xs={12} xl={4}>
        <InfoCard title={`Uncorrelated services (${uncorrelated.length})`}>
          {uncorrelated.length === 0 ? (
            <Typography variant="body2">Every evaluated service is matched to at least one host.</Typography>
          ) : (
            <>
              <Typography variant="body2" paragraph>
                No host was found for these services, so their risk is unknown and the policy's{' '}
                <code>uncorrelated</code> action applies. Add the <code>{HOSTS_ANNOTATION}</code>{' '}
                annotation to their catalog-info.yaml.
              </Typography>
              <Box component="ul" aria-label="uncorrelated services" m={0} pl={2}>
                {uncorrelated.map(r => (
                  <li key={r.service.ref}>
                    {/* underlined: a link inside text is not told apart by colour alone */}
                    <EntityRefLink entityRef={r.service.ref} underline="always">
                      {r.service.title ?? r.service.name}
                    </EntityRefLink>{' '}
                    (owner{' '}
                    {r.service.owner}; {uncorrelatedIn(r).join(', ')})
                  </li>
                ))}
              </Box>
            </>
          )}
          {failed.length > 0 && (
            <Box mt={2}>
              <Typography variant="subtitle2">Not evaluated ({failed.length})</Typography>
              <Box component="ul" m={0} pl={2}>
                {failed.map(r => (
                  <li key={r.service.ref}>
                    {r.service.ref}:{' '}
                    {r.error === NOT_KNOWN || (isResponseError(r.error) && r.error.statusCode === 404)
                      ? 'not known to the runtime-risk backend yet'
                      : serverMessage(r.error)}
                  </li>
                ))}
              </Box>
            </Box>
          )}
        </InfoCard>
      </Grid>
      <Grid item xs={12} xl={8}>
        {sources.error ? (
          <Alert severity="error">Source health unavailable: {serverMessage(sources.error)}</Alert>
        ) : (
          <Table<SourceHealth>
            title="Signal sources"
            isLoading={sources.loading && !sources.value}
            columns={sourceCols}
            data={sources.value?.items ?? []}
            options={{ paging: false, search: false, ...TABLE_OPTIONS }}
            emptyContent={NO_SOURCES}
          />
        )}
      </Grid>
      <Grid item xs={12}>
        <DecisionQueue environment={env} />
      </Grid>
      <Grid item xs={12}>
        {pending.error ? (
          <Alert severity="error">Exceptions unavailable: {serverMessage(pending.error)}</Alert>
        ) : (
          <ExceptionsTable
            title="Exceptions waiting for approval"
            showEntity
            exceptions={pending.value?.items ?? []}
            isLoading={pending.loading && !pending.value}
            emptyText="No exception is waiting for approval."
            onChanged={() => {
              pending.retry();
              summary.retry();
            }}
          />
        )}
      </Grid>
    </Grid>
  );
}
