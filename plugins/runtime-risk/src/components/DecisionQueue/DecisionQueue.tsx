import { useMemo } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { Link, Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { Box, Button, Typography } from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import type { GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { serverMessage } from '../../api/RuntimeRiskClient';
import {
  LEVEL_LABEL,
  RiskLevelStatus,
  TABLE_OPTIONS,
  TruncatedText,
  compactColumns,
  formatAge,
  topReasons,
  useNarrowScreen,
  useNow,
} from '../common';
import { formatUntil } from '../DecisionPage/DecisionPage';

/** One element for every render: Backstage's Table makes its body anew whenever emptyContent changes (rows would remount). */
const NO_HELD_DEPLOYS = (
  <Box p={2}>
    <Typography variant="body2">No deploy is waiting for approval.</Typography>
  </Box>
);

/** The path of a decision's page relative to the runtime-risk page (`/runtime-risk/decisions/<id>`). */
export const decisionPath = (decisionId: string) => `decisions/${encodeURIComponent(decisionId)}`;

/**
 * Held deploys: decisions awaiting approval (`approval_required`, undecided, not
 * expired) of the services the caller may see, oldest expiry first, each linking to
 * its decision page where it is approved or rejected.
 */
export function DecisionQueue(props: { environment?: string }) {
  const api = useApi(runtimeRiskApiRef);
  const narrow = useNarrowScreen();
  const now = useNow(30_000);
  const pending = useAsyncRetry(
    () => api.getDecisions({ status: 'pending', environment: props.environment || undefined, limit: 100 }),
    [api, props.environment],
  );

  const rows = useMemo(
    () =>
      [...(pending.value?.items ?? [])]
        .sort((a, b) => (a.approval?.expiresAt ?? '').localeCompare(b.approval?.expiresAt ?? ''))
        .map(d => ({ ...d, id: d.decisionId })),
    [pending.value],
  );

  const columns = useMemo<TableColumn<GateDecision & { id: string }>[]>(
    () =>
      compactColumns([
        {
          title: 'Service',
          render: d => <EntityRefLink entityRef={d.entityRef} />,
        },
        { title: 'Environment', render: d => d.environment },
        {
          title: 'Level',
          cellStyle: { whiteSpace: 'nowrap' },
          render: d => <RiskLevelStatus level={d.riskLevel}>{LEVEL_LABEL[d.riskLevel]}</RiskLevelStatus>,
        },
        ...(narrow ? [] : [{ title: 'Requested by', render: (d: GateDecision) => d.approval?.requestedBy ?? '-' }]),
        { title: 'Asked', cellStyle: { whiteSpace: 'nowrap' }, render: d => formatAge(d.evaluatedAt, now) },
        {
          title: 'Expires',
          cellStyle: { whiteSpace: 'nowrap' },
          render: d => (d.approval?.expiresAt ? formatUntil(d.approval.expiresAt, now) : '-'),
        },
        {
          title: 'Why',
          cellStyle: { width: '35%', minWidth: 180 },
          render: d => {
            const text = topReasons(d.reasons, 1).map(r => r.message).join('');
            return text ? <TruncatedText text={text} lines={2} /> : '-';
          },
        },
        {
          title: 'Review',
          cellStyle: { whiteSpace: 'nowrap' },
          render: d => (
            <Link to={decisionPath(d.decisionId)} underline="always" aria-label={`Review the deploy of ${d.entityRef} to ${d.environment}`}>
              Review
            </Link>
          ),
        },
      ]),
    [narrow, now],
  );

  if (pending.error) {
    return <Alert severity="error">Held deploys unavailable: {serverMessage(pending.error)}</Alert>;
  }
  return (
    <Box component="section" aria-label="held deploys awaiting approval" data-testid="runtime-risk-decision-queue">
      <Table<GateDecision & { id: string }>
        title={`Held deploys awaiting approval (${pending.value?.totalCount ?? rows.length})`}
        isLoading={pending.loading && !pending.value}
        columns={columns}
        data={rows}
        options={{ paging: rows.length > 20, pageSize: 20, search: false, ...TABLE_OPTIONS }}
        emptyContent={NO_HELD_DEPLOYS}
      />
      <Box mt={1}>
        <Button size="small" variant="outlined" onClick={() => pending.retry()}>
          Refresh held deploys
        </Button>
      </Box>
    </Box>
  );
}
