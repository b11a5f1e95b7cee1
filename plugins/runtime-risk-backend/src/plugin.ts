import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { runtimeRiskPermissions, type Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import {
  isPushSource,
  runtimeRiskSignalSourcesExtensionPoint,
  type SignalSource,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { policyConfigValue, readPolicyConfig } from './engine';
import { DatabaseRuntimeRiskStore } from './store/DatabaseRuntimeRiskStore';
import { IngestionRunner } from './ingest/IngestionRunner';
import { DEFAULT_INVENTORY_SCHEDULE, HostInventoryRunner } from './ingest/HostInventoryRunner';
import { EntityIndexer } from './correlate/EntityIndexer';
import { RiskService } from './gate/RiskService';
import { ExceptionService } from './gate/ExceptionService';
import { ApprovalService } from './gate/ApprovalService';
import { RiskNotifier, readNotificationConfig } from './gate/notify';
import { notificationService } from '@backstage/plugin-notifications-node';
import { signalsServiceRef } from '@backstage/plugin-signals-node';
import { RiskChangePublisher, readLiveConfig } from './gate/live';
import { watchRiskChanges } from './gate/liveStore';
import { RiskChangeReads } from './store/riskChangeReads';
import { frequencyToMs, readCacheConfig, readCoverageWindowMs, readSchedules } from './schedule';
import { CachedGateReads } from './gate/GateReads';
import { ScoreHistory } from './gate/ScoreHistory';
import { DatabaseScoreHistoryStore } from './store/DatabaseScoreHistoryStore';
import { readHistoryConfig } from './schedule';
import type { RegisteredSource } from './ingest/sources';
import { onSignalsCommitted } from './ingest/signalCommits';
import { WEBHOOK_PATH_PREFIX, createRouter } from './http/router';
import { IdempotentGate } from './gate/idempotency';
import { RequesterResolver } from './gate/requester';
import { publishAuditHead } from './http/auditRoutes';
import { Access } from './http/access';
import { githubAppPrincipal, readGithubConfig } from './gate/github/config';
import { GithubDeploymentProtection } from './gate/github/DeploymentProtection';
import { DatabaseGithubStore } from './store/DatabaseGithubStore';
import { GITHUB_EVENTS_PATH } from './http/githubRoutes';

/**
 * The Runtime Risk backend plugin: ingestion of EDR signals from the sources
 * that modules register, the correlation index, and the gate API at
 * `/api/runtime-risk`.
 */
export const runtimeRiskPlugin = createBackendPlugin({
  pluginId: 'runtime-risk',
  register(env) {
    const sources: SignalSource[] = [];
    env.registerExtensionPoint(runtimeRiskSignalSourcesExtensionPoint, {
      addSignalSource(...added) {
        for (const source of added) {
          if (sources.some(s => s.id === source.id)) {
            throw new Error(`runtime-risk: a signal source with id '${source.id}' is already registered`);
          }
          sources.push(source);
        }
      },
    });

    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        scheduler: coreServices.scheduler,
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        auth: coreServices.auth,
        auditor: coreServices.auditor,
        cache: coreServices.cache,
        discovery: coreServices.discovery,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        catalog: catalogServiceRef,
        notifications: notificationService,
        // live updates to the portal (a default factory over the events service: present even without the signals backend)
        signals: signalsServiceRef,
        lifecycle: coreServices.lifecycle,
      },
      async init({
        config,
        logger,
        database,
        scheduler,
        httpRouter,
        httpAuth,
        auth,
        auditor,
        cache,
        permissions,
        permissionsRegistry,
        catalog,
        notifications,
        signals,
        lifecycle,
      }) {
        // validate config once, fail fast naming the key
        const policy = readPolicyConfig(config);
        const schedules = readSchedules(config);
        const cacheConfig = readCacheConfig(config);
        const githubConfig = readGithubConfig(config, Object.keys(policy.environments));

        permissionsRegistry.addPermissions(runtimeRiskPermissions);

        // live updates (issue 18 part 4): the writes that change an entity's risk announce it, coalesced (gate/liveStore.ts)
        const liveConfig = readLiveConfig(config);
        const publisher = new RiskChangePublisher({ signals, logger, ...liveConfig });
        lifecycle.addShutdownHook(() => publisher.stop());
        const databaseStore = await DatabaseRuntimeRiskStore.create({ database });
        const watchedStore = liveConfig.enabled
          ? watchRiskChanges(databaseStore, { publisher, reads: await RiskChangeReads.create(database), logger })
          : databaseStore;
        // revocation on ingest: every committed signal batch (pull page or webhook push) is told to the
        // exception service once it exists (below); the periodic sweep stays the safety net
        let signalsCommitted: ((signals: Signal[]) => Promise<void>) | undefined;
        const store = onSignalsCommitted(watchedStore, signals => signalsCommitted?.(signals), logger);
        // policy history (issue 17 part 3): a new hash closes the previous policy's period
        if (await store.recordActivePolicy({ hash: policy.hash, id: policy.id, body: policyConfigValue(config), at: new Date().toISOString() })) {
          logger.info(`runtime-risk policy '${policy.id}' (${policy.hash.slice(0, 12)}) recorded as the active policy`);
        }
        const runner = new IngestionRunner({ store, logger });
        const inventoryRunner = new HostInventoryRunner({ store, logger });
        const indexer = new EntityIndexer({ catalog, auth, store, logger, config });

        const registered: RegisteredSource[] = sources.map(source => {
          if (isPushSource(source)) return { source };
          const frequency = source.schedule?.frequency ?? schedules.ingestion.frequency;
          return { source, frequencyMs: frequencyToMs(frequency) };
        });

        // Label selectors and CIDRs are resolved against the assets known at index
        // time, so a batch of new signals (new pods, new IPs) asks for a rebuild now
        // rather than at the next correlation tick; throttled to one a minute.
        let lastIndexTrigger = 0;
        const refreshIndexForNewAssets = async () => {
          if (Date.now() - lastIndexTrigger < 60_000) return;
          try {
            await scheduler.triggerTask('runtime-risk-correlate');
            lastIndexTrigger = Date.now();
          } catch (e) {
            // not scheduled yet (start-up) or already running: the next tick picks the assets up
            logger.debug(`correlation rebuild not triggered: ${(e as Error).message}`);
          }
        };

        for (const source of sources) {
          if (isPushSource(source)) continue;
          await scheduler.scheduleTask({
            id: `runtime-risk-ingest-${source.id}`,
            frequency: source.schedule?.frequency ?? schedules.ingestion.frequency,
            timeout: source.schedule?.timeout ?? schedules.ingestion.timeout,
            scope: 'global',
            fn: async abortSignal => {
              const result = await runner.run(source, abortSignal);
              if (result.stored > 0) await refreshIndexForNewAssets();
            },
          });
          // the vendor host inventory: its own cursor, on a slower schedule (default hourly)
          if (source.syncHosts) {
            await scheduler.scheduleTask({
              id: `runtime-risk-inventory-${source.id}`,
              frequency: source.inventorySchedule?.frequency ?? DEFAULT_INVENTORY_SCHEDULE.frequency,
              timeout: source.inventorySchedule?.timeout ?? DEFAULT_INVENTORY_SCHEDULE.timeout,
              scope: 'global',
              fn: async abortSignal => {
                const result = await inventoryRunner.run(source, abortSignal);
                if (result.stored > 0) await refreshIndexForNewAssets();
              },
            });
          }
        }

        // global tasks without an initial delay run as soon as the backend starts
        await scheduler.scheduleTask({
          id: 'runtime-risk-correlate',
          frequency: schedules.correlation.frequency,
          timeout: schedules.correlation.timeout,
          scope: 'global',
          fn: async () => {
            await indexer.rebuild();
          },
        });

        const notifier = new RiskNotifier({ notifications, logger, ...readNotificationConfig(config) });
        const risk = new RiskService({
          store,
          indexer,
          policy,
          sources: () => registered,
          onDecision: (answer, entity) => notifier.gateDecided(answer, entity),
          logger,
          reads: cacheConfig.enabled ? new CachedGateReads({ store, cache, ttlMs: cacheConfig.ttlMs, logger, namespace: policy.hash }) : undefined,
          coverageWindowMs: readCoverageWindowMs(config),
        });
        const exceptions = new ExceptionService({
          store,
          risk,
          permissions,
          policy,
          auditor,
          logger,
          onRequested: record => notifier.exceptionRequested(record),
          onRevoked: (record, entity, why) => notifier.exceptionRevoked(record, entity, why),
        });
        signalsCommitted = signals => exceptions.signalsCommitted(signals);
        lifecycle.addShutdownHook(() => exceptions.ingestChecksSettled());
        // GitHub custom deployment protection rule (docs/github.md): answered when a reviewer decides
        const requesters = new RequesterResolver({ catalog, auth, logger });
        const github = githubConfig
          ? new GithubDeploymentProtection({
              config: githubConfig,
              store: await DatabaseGithubStore.create({ database }),
              decisions: store,
              risk,
              logger,
              // the event's sender.login, resolved to a User like POST /v1/gate's requestedBy, asserted by the App
              requester: async login => {
                const assertedBy = githubAppPrincipal(githubConfig);
                return { requestedBy: assertedBy, requester: await requesters.resolve({ provider: 'github', login }, assertedBy) };
              },
            })
          : undefined;
        const approvals = new ApprovalService({
          store,
          risk,
          permissions,
          auditor,
          logger,
          onChanged: github ? id => void github.decisionChanged(id) : undefined,
        });
        const idempotency = new IdempotentGate({ store, logger });
        await scheduler.scheduleTask({
          id: 'runtime-risk-exceptions',
          frequency: schedules.exceptions.frequency,
          timeout: { minutes: 5 },
          scope: 'global',
          fn: async () => {
            await exceptions.sweep();
            await approvals.sweep();
            await idempotency.sweep();
          },
        });
        await scheduler.scheduleTask({
          id: 'runtime-risk-audit-head',
          frequency: schedules.auditHead.frequency,
          timeout: { minutes: 1 },
          scope: 'global',
          fn: async () => {
            await publishAuditHead({ store, auditor, logger });
          },
        });
        if (github && githubConfig) {
          // calls back to GitHub kept in the store: whichever replica runs this sends them (rows are claimed)
          await scheduler.scheduleTask({
            id: 'runtime-risk-github-callbacks',
            frequency: githubConfig.callbacks.frequency,
            timeout: { minutes: 5 },
            scope: 'global',
            fn: async () => {
              await github.sweep();
            },
          });
        }
        // score snapshots for the "Risk over time" chart (issue 19 part 5), from the cached gate inputs
        const historyConfig = readHistoryConfig(config);
        const history = await DatabaseScoreHistoryStore.create({ database });
        const scoreHistory = new ScoreHistory({
          risk,
          store,
          history,
          retentionMs: historyConfig.retentionMs,
          frequencyMs: historyConfig.frequencyMs,
          logger,
        });
        await scheduler.scheduleTask({
          id: 'runtime-risk-score-history',
          frequency: historyConfig.frequency,
          timeout: { minutes: 10 },
          scope: 'global',
          fn: async () => {
            await scoreHistory.snapshot();
          },
        });
        const router = await createRouter({
          httpAuth,
          auditor,
          logger,
          store,
          risk,
          exceptions,
          approvals,
          github,
          idempotency,
          requesters,
          sources: () => registered,
          history,
          // Without the permission framework every check answers ALLOW: human decisions refuse to run.
          access: new Access({ permissions, permissionsEnabled: config.getOptionalBoolean('permission.enabled') === true }),
        });
        httpRouter.use(router);
        // Push vendors cannot hold Backstage tokens: the webhook route authenticates
        // each request by the source's HMAC signature over the raw body instead.
        httpRouter.addAuthPolicy({ path: WEBHOOK_PATH_PREFIX, allow: 'unauthenticated' });
        // GitHub cannot hold Backstage tokens either: only X-Hub-Signature-256 is trusted there.
        httpRouter.addAuthPolicy({ path: GITHUB_EVENTS_PATH, allow: 'unauthenticated' });

        logger.info(
          `runtime-risk started: policy '${policy.id}' (${policy.hash.slice(0, 12)}), sources: ${sources.map(s => s.id).join(', ') || 'none'}`,
        );
      },
    });
  },
});
