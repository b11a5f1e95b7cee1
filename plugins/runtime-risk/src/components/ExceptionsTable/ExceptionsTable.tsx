import { useState } from 'react';
import { Table, TableColumn } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { Box, Button, Typography } from '@material-ui/core';
import { Alert } from '@material-ui/lab';
import {
  ExceptionAction,
  ExceptionStatus,
  RiskException,
  runtimeRiskApiRef,
} from '../../api/RuntimeRiskApi';
import { serverMessage } from '../../api/RuntimeRiskClient';
import { formatDateTime } from '../common';

const STATUS_COLOR: Record<ExceptionStatus, string> = {
  pending: '#f5a623',
  approved: '#1db954',
  rejected: '#e22134',
  revoked: '#9e9e9e',
  expired: '#9e9e9e',
};

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
  const [busy, setBusy] = useState<string | undefined>();
  const [outcome, setOutcome] = useState<Outcome>();

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
    { title: 'Id', field: 'id', cellStyle: { whiteSpace: 'nowrap', fontFamily: 'monospace' } },
    { title: 'Environment', field: 'environment' },
    {
      title: 'Status',
      render: e => (
        <span style={{ color: STATUS_COLOR[e.status] ?? 'inherit', fontWeight: 600 }}>{e.status}</span>
      ),
    },
    { title: 'Reason', field: 'reason', cellStyle: { minWidth: 240 } },
    {
      title: 'Scope',
      render: e => (e.signalIds?.length ? `signals ${e.signalIds.join(', ')}` : 'all signals'),
    },
    { title: 'Requested by', field: 'requestedBy' },
    { title: 'Expires', render: e => formatDateTime(e.expiresAt) },
    {
      title: 'Decided by',
      render: e =>
        e.decidedBy
          ? `${e.decidedBy}${e.decisionComment ? `: ${e.decisionComment}` : ''}`
          : (e.approvedBy ?? '-'),
    },
    {
      title: 'Actions',
      cellStyle: { whiteSpace: 'nowrap' },
      render: e => (
        <Box display="flex" style={{ gap: 8 }}>
          {e.status === 'pending' && (
            <>
              <Button
                size="small"
                variant="outlined"
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
        columns={columns}
        data={props.exceptions}
        options={{ paging: props.exceptions.length > 10, pageSize: 10, search: false, padding: 'dense' }}
        emptyContent={
          <Box p={2}>
            <Typography variant="body2">{props.emptyText}</Typography>
          </Box>
        }
      />
    </Box>
  );
}
