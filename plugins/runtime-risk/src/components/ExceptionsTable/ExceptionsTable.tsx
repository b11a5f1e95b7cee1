import { useMemo, useState } from 'react';
import { Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { Box, Button, Typography } from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import {
  ExceptionAction,
  RiskException,
  runtimeRiskApiRef,
} from '../../api/RuntimeRiskApi';
import { serverMessage } from '../../api/RuntimeRiskClient';
import {
  ExceptionStatusText,
  TABLE_OPTIONS,
  compactColumns,
  TruncatedText,
  formatDateTime,
  useNarrowScreen,
} from '../common';

const PAST: Record<ExceptionAction, string> = {
  approve: 'approved',
  reject: 'rejected',
  revoke: 'revoked',
};

type Outcome = { severity: 'success' | 'error'; message: string } | undefined;

export interface ExceptionsTableProps {
  title: string;
  exceptions: RiskException[];
  /** Show the entity column (org page). */
  showEntity?: boolean;
  isLoading?: boolean;
  emptyText: string;
  /** Called after an approve/reject/revoke went through. */
  onChanged?: () => void;
}

/**
 * Exceptions with their status; pending ones can be approved or rejected and approved
 * ones revoked. The backend decides who may (never the requester for an approval) and
 * its message is shown when it refuses.
 */
export function ExceptionsTable(props: ExceptionsTableProps) {
  const api = useApi(runtimeRiskApiRef);
  const narrow = useNarrowScreen();
  const [busy, setBusy] = useState<string | undefined>();
  const [outcome, setOutcome] = useState<Outcome>();
  // One element while the text is the same: Backstage's Table makes its body anew whenever
  // emptyContent changes, which would remount every row (a button found a moment ago is gone).
  const emptyContent = useMemo(
    () => (
      <Box p={2}>
        <Typography variant="body2">{props.emptyText}</Typography>
      </Box>
    ),
    [props.emptyText],
  );

  const act = async (e: RiskException, action: ExceptionAction) => {
    setBusy(e.id);
    setOutcome(undefined);
    try {
      const updated = await api.decideException(e.id, action);
      setOutcome({ severity: 'success', message: `Exception ${e.id} ${PAST[action]} (status: ${updated.status}).` });
      props.onChanged?.();
    } catch (err) {
      setOutcome({ severity: 'error', message: `Could not ${action} exception ${e.id}: ${serverMessage(err)}` });
    } finally {
      setBusy(undefined);
    }
  };

  const columns: TableColumn<RiskException>[] = [
    ...(props.showEntity
      ? [
          {
            title: 'Service',
            render: (e: RiskException) => <EntityRefLink entityRef={e.entityRef} />,
          },
        ]
      : []),
    // the id is for machines (and the approve/reject buttons' labels): gone under 1280 px
    ...(narrow
      ? []
      : [
          {
            title: 'Id',
            field: 'id' as const,
            cellStyle: { fontFamily: 'monospace' },
            render: (e: RiskException) => <TruncatedText text={e.id} lines={1} maxWidth="10ch" />,
          },
        ]),
    { title: 'Environment', field: 'environment' },
    { title: 'Status', render: e => <ExceptionStatusText status={e.status} /> },
    { title: 'Reason', field: 'reason', cellStyle: { width: '30%' }, render: e => <TruncatedText text={e.reason} lines={3} /> },
    {
      title: 'Scope',
      cellStyle: { width: '15%' },
      render: e => (e.signalIds?.length ? <TruncatedText text={`signals ${e.signalIds.join(', ')}`} lines={2} /> : 'all signals'),
    },
    {
      title: 'Requested by',
      field: 'requestedBy',
      cellStyle: { width: '12%' },
      render: e => <TruncatedText text={e.requestedBy} lines={2} />,
    },
    { title: 'Expires', render: e => formatDateTime(e.expiresAt) },
    // who decided is history: below 1280 px it gives way to what needs deciding
    ...(narrow
      ? []
      : [
          {
            title: 'Decided by',
            cellStyle: { overflowWrap: 'anywhere' as const },
            render: (e: RiskException) =>
              e.decidedBy
                ? `${e.decidedBy}${e.decisionComment ? `: ${e.decisionComment}` : ''}`
                : (e.approvedBy ?? '-'),
          },
        ]),
    {
      title: 'Actions',
      render: e => (
        <Box display="flex" flexWrap="wrap" style={{ gap: 8 }}>
          {e.status === 'pending' && (
            <>
              <Button
                size="small"
                variant="outlined"
                style={{ whiteSpace: 'nowrap' }}
                color="primary"
                disabled={busy === e.id}
                aria-label={`approve ${e.id}`}
                onClick={() => act(e, 'approve')}
              >
                Approve
              </Button>
              <Button
                size="small"
                variant="outlined"
                style={{ whiteSpace: 'nowrap' }}
                disabled={busy === e.id}
                aria-label={`reject ${e.id}`}
                onClick={() => act(e, 'reject')}
              >
                Reject
              </Button>
            </>
          )}
          {e.status === 'approved' && (
            <Button
              size="small"
              variant="outlined"
              style={{ whiteSpace: 'nowrap' }}
              disabled={busy === e.id}
              aria-label={`revoke ${e.id}`}
              onClick={() => act(e, 'revoke')}
            >
              Revoke
            </Button>
          )}
        </Box>
      ),
    },
  ];

  return (
    <Box component="section" aria-label={props.title}>
      {outcome && (
        <Box mb={1}>
          <Alert severity={outcome.severity}>{outcome.message}</Alert>
        </Box>
      )}
      <Table<RiskException>
        title={`${props.title} (${props.exceptions.length})`}
        isLoading={props.isLoading}
        columns={compactColumns(columns)}
        data={props.exceptions}
        options={{ paging: props.exceptions.length > 10, pageSize: 10, search: false, ...TABLE_OPTIONS }}
        emptyContent={emptyContent}
      />
    </Box>
  );
}
