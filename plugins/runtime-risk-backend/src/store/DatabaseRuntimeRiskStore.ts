import type { DatabaseService } from '@backstage/backend-plugin-api';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { AuditRecord } from '../audit/entry';
import type { ChainVerification } from '../audit/chain';
import { DatabaseAuditLogStore } from './DatabaseAuditLogStore';
import { DatabaseDecisionStore } from './DatabaseDecisionStore';
import { DatabaseEntityIndexStore } from './DatabaseEntityIndexStore';
import { DatabaseExceptionStore } from './DatabaseExceptionStore';
import { DatabaseIdempotencyStore } from './DatabaseIdempotencyStore';
import { DatabaseHostInventoryStore } from './DatabaseHostInventoryStore';
import { DatabasePolicyStore } from './DatabasePolicyStore';
import { DatabaseDecisionScanStore } from './DatabaseDecisionScanStore';
import { DatabaseSignalStore } from './DatabaseSignalStore';
import { DatabaseSourceStore } from './DatabaseSourceStore';
import { readDataVersion } from './transaction';
import type {
  CommitBatchOptions,
  DecisionScanStore,
  PolicyStore,
  DecisionRecord,
  DecisionTransition,
  ExceptionRecord,
  ExceptionStatus,
  ExceptionTransition,
  IdempotencyClaim,
  HostInventoryState,
  HostInventoryStore,
  IdentifiedHost,
  IdentifiedSignal,
  IndexedEntity,
  ListDecisionsOptions,
  ListExceptionsOptions,
  ListSignalsOptions,
  Page,
  RecordFailureOptions,
  RuntimeRiskStore,
  SignalAssetPage,
  SignalStore,
  SourceState,
} from './types';

const migrationsDir = resolvePackagePath('@runtime-risk/backstage-plugin-runtime-risk-backend', 'migrations');

/**
 * {@link RuntimeRiskStore} on knex; runs on SQLite and PostgreSQL. One object for
 * the callers, made of one store per kind of data (signals, sources, the entity
 * index, decisions, exceptions, the audit log), each behind its own interface
 * in `types.ts` and all writing through the one transaction helper
 * (`transaction.ts`).
 */
export class DatabaseRuntimeRiskStore implements RuntimeRiskStore {
  static async create(options: { database: DatabaseService; skipMigrations?: boolean }): Promise<DatabaseRuntimeRiskStore> {
    const knex = await options.database.getClient();
    if (!options.skipMigrations && !options.database.migrations?.skip) {
      await knex.migrate.latest({ directory: migrationsDir });
    }
    return new DatabaseRuntimeRiskStore(knex);
  }

  private readonly signals: DatabaseSignalStore;
  private readonly sources: DatabaseSourceStore;
  private readonly index: DatabaseEntityIndexStore;
  private readonly decisions: DatabaseDecisionStore;
  private readonly exceptions: DatabaseExceptionStore;
  private readonly idempotency: DatabaseIdempotencyStore;
  private readonly audit: DatabaseAuditLogStore;
  private readonly policies: DatabasePolicyStore;
  private readonly decisionScans: DatabaseDecisionScanStore;
  private readonly hosts: DatabaseHostInventoryStore;

  private constructor(private readonly db: Knex) {
    this.signals = new DatabaseSignalStore(db);
    this.sources = new DatabaseSourceStore(db);
    this.index = new DatabaseEntityIndexStore(db);
    this.decisions = new DatabaseDecisionStore(db);
    this.exceptions = new DatabaseExceptionStore(db);
    this.idempotency = new DatabaseIdempotencyStore(db);
    this.audit = new DatabaseAuditLogStore(db);
    this.policies = new DatabasePolicyStore(db);
    this.decisionScans = new DatabaseDecisionScanStore(db);
    this.hosts = new DatabaseHostInventoryStore(db);
  }

  getDataVersion(): Promise<string> {
    return readDataVersion(this.db);
  }

  // signals
  commitBatch(options: CommitBatchOptions): Promise<void> {
    return this.signals.commitBatch(options);
  }
  findSignalsByIdentifiers(values: string[]): Promise<IdentifiedSignal[]> {
    return this.signals.findSignalsByIdentifiers(values);
  }
  listSignals(options: ListSignalsOptions): Promise<{ items: Signal[]; totalCount: number }> {
    return this.signals.listSignals(options);
  }
  listSignalAssets(options: { after?: { lastSeenAt: string; id: string }; limit: number }): Promise<SignalAssetPage> {
    return this.signals.listSignalAssets(options);
  }
  listSignalAssetsFetchedSince(options: Parameters<SignalStore['listSignalAssetsFetchedSince']>[0]): ReturnType<SignalStore['listSignalAssetsFetchedSince']> {
    return this.signals.listSignalAssetsFetchedSince(options);
  }
  latestSignalFetchedAt(): Promise<string | undefined> {
    return this.signals.latestSignalFetchedAt();
  }
  listSignalAssetsByIdentifiers(kind: string, values: string[]): ReturnType<SignalStore['listSignalAssetsByIdentifiers']> {
    return this.signals.listSignalAssetsByIdentifiers(kind, values);
  }
  existingSignalIdentifiers(kind: string, values: string[]): Promise<Set<string>> {
    return this.signals.existingSignalIdentifiers(kind, values);
  }

  // vendor host inventory
  commitHostPage(options: Parameters<HostInventoryStore['commitHostPage']>[0]): Promise<void> {
    return this.hosts.commitHostPage(options);
  }
  recordHostInventoryFailure(options: Parameters<HostInventoryStore['recordHostInventoryFailure']>[0]): Promise<void> {
    return this.hosts.recordHostInventoryFailure(options);
  }
  getHostInventoryState(sourceId: string): Promise<HostInventoryState | undefined> {
    return this.hosts.getHostInventoryState(sourceId);
  }
  findHostsByIdentifiers(values: string[]): Promise<IdentifiedHost[]> {
    return this.hosts.findHostsByIdentifiers(values);
  }
  listInventoryHosts(options: Parameters<HostInventoryStore['listInventoryHosts']>[0]): ReturnType<HostInventoryStore['listInventoryHosts']> {
    return this.hosts.listInventoryHosts(options);
  }
  latestHostListedAt(): Promise<string | undefined> {
    return this.hosts.latestHostListedAt();
  }

  // sources
  recordFailure(options: RecordFailureOptions): Promise<void> {
    return this.sources.recordFailure(options);
  }
  getSourceState(id: string): Promise<SourceState | undefined> {
    return this.sources.getSourceState(id);
  }
  listSourceStates(): Promise<SourceState[]> {
    return this.sources.listSourceStates();
  }

  // entity index
  replaceEntityIndex(entities: IndexedEntity[]): Promise<void> {
    return this.index.replaceEntityIndex(entities);
  }
  upsertEntity(entity: IndexedEntity): Promise<void> {
    return this.index.upsertEntity(entity);
  }
  applyEntityIndexChanges(changes: { upsert: IndexedEntity[]; remove: string[] }): Promise<void> {
    return this.index.applyEntityIndexChanges(changes);
  }
  entityIndexFingerprint(): Promise<string> {
    return this.index.entityIndexFingerprint();
  }
  getEntity(entityRef: string): Promise<IndexedEntity | undefined> {
    return this.index.getEntity(entityRef);
  }
  listEntityIndex(): Promise<IndexedEntity[]> {
    return this.index.listEntityIndex();
  }

  // decisions
  insertDecision(record: DecisionRecord): Promise<void> {
    return this.decisions.insertDecision(record);
  }
  transitionDecision(transition: DecisionTransition): Promise<boolean> {
    return this.decisions.transitionDecision(transition);
  }
  listPendingDecisions(options: { createdBefore?: string; limit: number }): Promise<DecisionRecord[]> {
    return this.decisions.listPendingDecisions(options);
  }
  getDecision(id: string): Promise<DecisionRecord | undefined> {
    return this.decisions.getDecision(id);
  }
  listDecisions(options: ListDecisionsOptions): Promise<Page<DecisionRecord>> {
    return this.decisions.listDecisions(options);
  }
  listDecisionEntityRefs(options: { environment?: string }): Promise<string[]> {
    return this.decisions.listDecisionEntityRefs(options);
  }

  // idempotency keys of gate requests
  claimIdempotencyKey(claim: IdempotencyClaim): Promise<{ claimed: boolean; current?: IdempotencyClaim }> {
    return this.idempotency.claimIdempotencyKey(claim);
  }
  getIdempotencyKey(caller: string, key: string): Promise<IdempotencyClaim | undefined> {
    return this.idempotency.getIdempotencyKey(caller, key);
  }
  takeOverIdempotencyKey(previous: IdempotencyClaim, claim: IdempotencyClaim): Promise<boolean> {
    return this.idempotency.takeOverIdempotencyKey(previous, claim);
  }
  releaseIdempotencyKey(claim: IdempotencyClaim): Promise<void> {
    return this.idempotency.releaseIdempotencyKey(claim);
  }
  sweepIdempotencyKeys(createdBefore: string): Promise<number> {
    return this.idempotency.sweepIdempotencyKeys(createdBefore);
  }

  // exceptions
  insertException(record: ExceptionRecord): Promise<void> {
    return this.exceptions.insertException(record);
  }
  getException(id: string): Promise<ExceptionRecord | undefined> {
    return this.exceptions.getException(id);
  }
  listExceptions(options: ListExceptionsOptions): Promise<{ items: ExceptionRecord[]; totalCount: number }> {
    return this.exceptions.listExceptions(options);
  }
  listExceptionEntityRefs(options: { environment?: string; status?: ExceptionStatus }): Promise<string[]> {
    return this.exceptions.listExceptionEntityRefs(options);
  }
  transitionException(transition: ExceptionTransition): Promise<boolean> {
    return this.exceptions.transitionException(transition);
  }
  listActiveExceptions(entityRef: string, environment: string, now?: string): Promise<ExceptionRecord[]> {
    return this.exceptions.listActiveExceptions(entityRef, environment, now);
  }

  // policy history
  recordActivePolicy(policy: Parameters<PolicyStore['recordActivePolicy']>[0]): Promise<boolean> {
    return this.policies.recordActivePolicy(policy);
  }
  listPolicies(): ReturnType<PolicyStore['listPolicies']> {
    return this.policies.listPolicies();
  }
  getPolicy(hash: string): ReturnType<PolicyStore['getPolicy']> {
    return this.policies.getPolicy(hash);
  }

  // reads over many decisions (backtest, summary)
  scanDecisions(options: Parameters<DecisionScanStore['scanDecisions']>[0]): ReturnType<DecisionScanStore['scanDecisions']> {
    return this.decisionScans.scanDecisions(options);
  }
  getDecisionReasons(ids: string[]): Promise<Map<string, string>> {
    return this.decisionScans.getDecisionReasons(ids);
  }
  summarizePendingDecisions(options: Parameters<DecisionScanStore['summarizePendingDecisions']>[0]): ReturnType<DecisionScanStore['summarizePendingDecisions']> {
    return this.decisionScans.summarizePendingDecisions(options);
  }
  listPendingDecisionHeads(options: Parameters<DecisionScanStore['listPendingDecisionHeads']>[0]): ReturnType<DecisionScanStore['listPendingDecisionHeads']> {
    return this.decisionScans.listPendingDecisionHeads(options);
  }
  countDryRunOutcomes(options: { since: string; environment?: string }): ReturnType<DecisionScanStore['countDryRunOutcomes']> {
    return this.decisionScans.countDryRunOutcomes(options);
  }
  findSignalHeadsByIdentifiers(values: string[]): ReturnType<DecisionScanStore['findSignalHeadsByIdentifiers']> {
    return this.decisionScans.findSignalHeadsByIdentifiers(values);
  }

  // audit log
  listAuditRecords(options: { afterSeq?: number; limit: number; subject?: string }): Promise<AuditRecord[]> {
    return this.audit.listAuditRecords(options);
  }
  verifyAuditLog(): Promise<ChainVerification> {
    return this.audit.verifyAuditLog();
  }
  getAuditHead(): Promise<{ seq: number; hash: string }> {
    return this.audit.getAuditHead();
  }
  getAuditRecord(seq: number): Promise<AuditRecord | undefined> {
    return this.audit.getAuditRecord(seq);
  }
}
