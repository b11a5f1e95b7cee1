import { useEffect, useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { InfoCard, Progress, ResponseErrorPanel } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { useEntity } from '@backstage/plugin-catalog-react';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { Box, Divider, IconButton, Typography, useTheme } from '@material-ui/core';
import RefreshIcon from '@material-ui/icons/Refresh';
import WarningIcon from '@material-ui/icons/Warning';
import { Alert } from '@material-ui/lab';
import type { EntityRisk } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { useLiveRefresh } from '../useLiveRefresh';
import { EntitySourceHealthList, coveringSources } from '../SourceHealth/EntitySourceHealth';
import { isResponseError, serverMessage } from '../../api/RuntimeRiskClient';
import {
  DecisionChip,
  LEVEL_LABEL,
  RiskLevelStatus,
  UncorrelatedHelp,
  describeSignals,
  formatAge,
  formatDateTime,
  formatScore,
  isUncorrelated,
  toneColor,
  topReasons,
  useNow,
} from '../common';

export interface EntityRiskCardProps {
  /** How often the card refreshes, in milliseconds (default 30 s; with the signals plugin it refreshes on change and polls 10x less often). */
  pollIntervalMs?: number;
}

function EnvironmentRisk(props: { risk: EntityRisk; now: number }) {
  const { risk, now } = props;
  const theme = useTheme();
  return (
    <Box
      py={1}
      component="section"
      aria-label={`${risk.environment} risk`}
      data-testid={`risk-${risk.environment}`}
    >
      <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 12 }}>
        <Typography variant="subtitle1" style={{ fontWeight: 600, minWidth: 100 }}>
          {risk.environment}
        </Typography>
        <Box>
          <RiskLevelStatus level={risk.riskLevel}>{LEVEL_LABEL[risk.riskLevel]}</RiskLevelStatus>
        </Box>
        <Typography variant="body2">score {formatScore(risk.score)}</Typography>
        <Typography variant="body2" color="textSecondary">
          gate now:
        </Typography>
        <DecisionChip decision={risk.decision} />
      </Box>
      <Box component="ul" my={0.5} pl={3}>
        {topReasons(risk.reasons).map((r, i) => (
          <li key={`${r.code}-${i}`}>
            <Typography variant="body2">
              <code>{r.code}</code> {r.message}
            </Typography>
          </li>
        ))}
      </Box>
      <Typography variant="caption" color="textSecondary" component="div">
        {describeSignals(risk)} · data from{' '}
        {formatAge(risk.signals.freshAt, now)}
        {risk.signals.stale ? ' · ' : ''}
        {risk.signals.stale && (
          <Box component="span" display="inline-flex" alignItems="center" style={{ gap: 2, fontWeight: 600, verticalAlign: 'bottom' }}>
            <WarningIcon aria-hidden style={{ fontSize: 14, color: toneColor(theme, 'warning') }} />
            <span>signals stale</span>
          </Box>
        )}
        {' · '}
        {risk.hosts.length} host{risk.hosts.length === 1 ? '' : 's'} matched
      </Typography>
      {risk.exception && (
        <Typography variant="caption" component="div">
          Exception {risk.exception.id} active until {formatDateTime(risk.exception.expiresAt)}
        </Typography>
      )}
    </Box>
  );
}

/** Overview card: for each environment, the level, score, what the gate would answer and why. */
export function EntityRiskCard(props: EntityRiskCardProps) {
  const pollIntervalMs = props.pollIntervalMs ?? 30_000;
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const api = useApi(runtimeRiskApiRef);
  const now = useNow(1000);
  const [updatedAt, setUpdatedAt] = useState<number | undefined>();

  const risk = useAsyncRetry(async () => {
    const items = await api.getEntityRisk(entityRef);
    setUpdatedAt(Date.now());
    return items;
  }, [api, entityRef]);
  // refetched when the backend announces a change (signals plugin), else polled
  useLiveRefresh(entityRef, risk.retry, pollIntervalMs);

  // Keep the last good answer visible while a refresh runs.
  const [lastGood, setLastGood] = useState<EntityRisk[] | undefined>();
  useEffect(() => {
    if (risk.value) setLastGood(risk.value);
  }, [risk.value]);
  const items = risk.value ?? lastGood;

  const action = (
    <Box display="flex" alignItems="center">
      {updatedAt !== undefined && (
        <Typography variant="caption" color="textSecondary">
          updated {formatAge(new Date(updatedAt).toISOString(), now)}
        </Typography>
      )}
      <IconButton
        aria-label="refresh risk"
        size="small"
        onClick={() => {
          risk.retry();
        }}
      >
        <RefreshIcon fontSize="small" />
      </IconButton>
    </Box>
  );

  let content;
  if (!items && risk.loading) {
    content = <Progress />;
  } else if (!items && risk.error) {
    const notFound = isResponseError(risk.error) && risk.error.statusCode === 404;
    content = (
      <>
        <Alert severity="error">
          {notFound
            ? `The runtime-risk backend does not know ${entityRef}. Check that the entity is in the catalog and that the runtime-risk backend has refreshed its correlation index.`
            : `Could not load runtime risk for ${entityRef}: ${serverMessage(risk.error)}. Check that the runtime-risk backend plugin is installed and reachable at /api/runtime-risk.`}
        </Alert>
        {!notFound && (
          <Box mt={1}>
            <ResponseErrorPanel error={risk.error} />
          </Box>
        )}
      </>
    );
  } else if (!items || items.length === 0) {
    content = (
      <Alert severity="info">
        No environment is configured in the runtime-risk policy. Add environments under{' '}
        <code>runtimeRisk.policy.environments</code> in app-config.yaml (for example production
        and staging).
      </Alert>
    );
  } else {
    const uncorrelated = items.some(isUncorrelated);
    content = (
      <>
        {risk.error && (
          <Alert severity="warning">
            Refresh failed ({serverMessage(risk.error)}); showing the last answer.
          </Alert>
        )}
        {items.map((r, i) => (
          <Box key={r.environment}>
            {i > 0 && <Divider />}
            <EnvironmentRisk risk={r} now={now} />
          </Box>
        ))}
        {uncorrelated && (
          <UncorrelatedHelp
            entityName={entity.metadata.name}
            reasons={items.flatMap(r => r.reasons)}
          />
        )}
        <Divider />
        <Box pt={1}>
          {/* the sources that cover this entity, from its own risk answer (the global list is admin-only) */}
          <EntitySourceHealthList sources={coveringSources(items)} dense />
        </Box>
      </>
    );
  }

  return (
    <Box data-testid="runtime-risk-card">
      <InfoCard title="Runtime risk" subheader="Would a deploy go through right now?" action={action}>
        {content}
      </InfoCard>
    </Box>
  );
}
