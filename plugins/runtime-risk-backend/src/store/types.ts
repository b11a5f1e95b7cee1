import type { Decision, Reason, Signal, SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { AuditRecord } from '../audit/entry';
import type { ChainVerification } from '../audit/chain';

/** Kinds of host identifiers indexed for each signal asset. */
export type IdentifierKind = 'hostname' | 'fqdn' | 'device_id' | 'instance_id' | 'ip' | 'mac';

/** Ingestion state of one source. */
export interface SourceState {
  id: string;
  type: string;
  cursor: string | null;
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  asOf: string | null;
  rejectedCount: number;
  /** Why the last rejected record was rejected. */
  lastRejectedReason?: string | null;
}

/** One committed batch: signals, the cursor they lead to and the success state, all or nothing. */
export interface CommitBatchOptions {
  sourceId: string;
  sourceType: string;
  signals: Signal[];
  /** New cursor; `undefined` keeps the stored one (push sources). */
  cursor?: string | null;
  asOf?: string | null;
  rejected?: number;
  /** Why the last rejected record of this batch was rejected (kept in the source state). */
  rejectedReason?: string;
  /**
   * A push delivery's replay key (hashed) and its expiry: recorded in the batch's
   * transaction; when another replica recorded it first the commit fails with
   * `ReplayedDeliveryError` and nothing of the batch is stored.
   */
  delivery?: { key: string; expiresAt: string };
  at: string;
  /**
   * The commit of the batch before this one, still in flight (pages commit in
   * order), and the ids of the signals it writes. This batch's other signals
   * may be written meanwhile; the signals both write, this batch's source state
   * (cursor) and its commit come only after `commit` resolves (so neither
   * transaction waits for the other's row locks). When `commit` rejects,
   * nothing of this batch is committed and `commitBatch` rejects with that error.
   */
  after?: { commit: Promise<unknown>; signalIds: ReadonlySet<string> };
}

export interface RecordFailureOptions {
  sourceId: string;
  sourceType: string;
  error: string;
  at: string;
  rejected?: number;
}

/** A signal matched through one of its identifiers. */
export interface IdentifiedSignal {
  signal: Signal;
  identifiers: { kind: IdentifierKind; value: string }[];
}

/** One page of the assets of signals fetched since a time, by (fetchedAt, id). */
export interface FetchedSignalAssetPage {
  items: { id: string; lastSeenAt: string; fetchedAt: string; asset: Signal['asset'] }[];
  next?: { fetchedAt: string; id: string };
}

/** One page of stored signal assets, in `listSignals` order (last seen first, then id). */
export interface SignalAssetPage {
  items: { id: string; lastSeenAt: string; asset: Signal['asset'] }[];
  /** Pass back as `after` for the next page; absent on the last page. */
  next?: { lastSeenAt: string; id: string };
}

export interface ListSignalsOptions {
  /** Only signals with any of these identifier values (lower-cased); `[]` matches nothing. */
  identifierValues?: string[];
  status?: SignalStatus;
  limit: number;
  offset: number;
}

/** A stored gate decision. */
export interface DecisionRecord {
  id: string;
  entityRef: string;
  environment: string;
  decision: string;
  riskLevel: string;
  score: number | null;
  reasons: unknown[];
  /** Everything evaluate() got. */
  inputs: unknown;
  /** The answer as given to the caller. */
  result: unknown;
  policyId: string;
  policyHash: string;
  dryRun: boolean;
  status: string;
  createdAt: string;
  /** Who asked for it (user entity ref or service subject); recorded in the audit log. */
  requestedBy?: string | null;
  /** The final outcome of a pending decision (approved, rejected, overridden). */
  outcome?: DecisionOutcome | null;
  decidedBy?: string | null;
  decidedAt?: string | null;
}

/** How a pending (or overridden) decision ended. */
export interface DecisionOutcome {
  decision: Decision;
  /** Appended to the decision's reasons (`approval_granted` / `approval_rejected`). */
  reason: Reason;
  comment?: string;
  /** Set for overrides: the decision the gate had made. */
  overridden?: Decision;
}

/** A status change of a decision, applied only if its current status is one of `from`. */
export interface DecisionTransition {
  id: string;
  from: string[];
  to: 'approved' | 'rejected' | 'expired' | 'final';
  by: string;
  at: string;
  /** Absent for expiry: the decision stays as it was. */
  outcome?: DecisionOutcome;
  /** The audit-log record type (`decision-approve`, ...). */
  auditType: 'decision-approve' | 'decision-reject' | 'decision-expire' | 'decision-override';
}

/**
 * Which decisions a list covers by status. `pending` means awaiting approval:
 * status pending and created after `pendingSince` of its environment (the
 * environment's `approvalTtl` ago); `expired` also covers pending ones older
 * than that (they read as expired before the sweep marks them).
 */
export interface DecisionStatusFilter {
  status?: 'final' | 'pending' | 'approved' | 'rejected' | 'expired';
  /** Oldest `createdAt` (ISO) of a decision still awaiting approval, per environment, and for any other environment. */
  pendingSince?: { byEnvironment: Record<string, string>; other: string };
}

export interface ListDecisionsOptions extends DecisionStatusFilter {
  entityRef?: string;
  environment?: string;
  /** Leave out these entities' decisions (the ones the caller may not read); the total counts the rest. */
  excludeEntityRefs?: string[];
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  totalCount: number;
  nextCursor?: string;
}

/** A catalog entity in the correlation index. */
export interface IndexedEntity {
  entityRef: string;
  kind: string;
  namespace: string;
  name: string;
  owner?: string | null;
  system?: string | null;
  /** `github.com/project-slug` (`owner/repo`, lower-cased), when annotated. */
  projectSlug?: string;
  /** Host identifiers per environment; `*` applies to every environment without its own entry. */
  hosts: { environment: string; value: string; matchedBy: string }[];
  /**
   * A System's Components, each with the environments in which it has hosts
   * (`*`: every environment); absent for other kinds. A System gate names the
   * Components without hosts in a `partial_coverage` reason.
   */
  parts?: { entityRef: string; environments: string[] }[];
  updatedAt: string;
}

/** An exception as stored. */
export interface ExceptionRecord {
  id: string;
  entityRef: string;
  environment: string;
  reason: string;
  requestedBy: string;
  status: 'pending' | 'approved' | 'rejected' | 'revoked' | 'expired';
  approvedBy: string | null;
  expiresAt: string;
  signalIds: string[] | null;
  maxLevel: string | null;
  createdAt: string;
  /** Who approved, rejected or revoked it last. */
  decidedBy?: string | null;
  decidedAt?: string | null;
  decisionComment?: string | null;
}

export type ExceptionStatus = ExceptionRecord['status'];

export interface ListExceptionsOptions {
  entityRef?: string;
  environment?: string;
  status?: ExceptionStatus;
  /** Leave out these entities' exceptions (the ones the caller may not read); the total counts the rest. */
  excludeEntityRefs?: string[];
  limit: number;
  offset: number;
}

/** A status change of an exception, applied only if its current status is one of `from`. */
export interface ExceptionTransition {
  id: string;
  from: ExceptionStatus[];
  to: ExceptionStatus;
  by: string;
  at: string;
  comment?: string;
  /** Set approved_by (approvals). */
  approvedBy?: string;
}

/** Signals and the identifiers they are looked up by (`DatabaseSignalStore`). */
export interface SignalStore {
  /** Upserts a batch of signals and saves the source's cursor and success state in one transaction. */
  commitBatch(options: CommitBatchOptions): Promise<void>;
  /** Signals having any of the given identifier values (lower-cased), with the identifiers that matched. */
  findSignalsByIdentifiers(values: string[]): Promise<IdentifiedSignal[]>;
  listSignals(options: ListSignalsOptions): Promise<{ items: Signal[]; totalCount: number }>;
  /**
   * The assets of every stored signal (any status), a page at a time, in the
   * order of `listSignals` (keyset paging: no OFFSET, no count).
   */
  listSignalAssets(options: { after?: { lastSeenAt: string; id: string }; limit: number }): Promise<SignalAssetPage>;
  /** The assets of the signals fetched (stored) at or after `since`, a page at a time by (fetchedAt, id): incremental index rebuilds. */
  listSignalAssetsFetchedSince(options: { since: string; after?: { fetchedAt: string; id: string }; limit: number }): Promise<FetchedSignalAssetPage>;
  /** The newest `fetchedAt` of any stored signal (undefined when none is stored). */
  latestSignalFetchedAt(): Promise<string | undefined>;
  /** The assets of the signals indexed under any of the values of one identifier kind (e.g. `pod`), in `listSignalAssets` order. */
  listSignalAssetsByIdentifiers(kind: string, values: string[]): Promise<{ value: string; id: string; lastSeenAt: string; asset: Signal['asset'] }[]>;
  /** Which of the values of one identifier kind some stored signal is indexed under. */
  existingSignalIdentifiers(kind: string, values: string[]): Promise<Set<string>>;
}

/** Ingestion state per source (`DatabaseSourceStore`); a successful sync is saved by `SignalStore.commitBatch`. */
export interface SourceStore {
  /** Records a failed sync; keeps the cursor and all stored signals. */
  recordFailure(options: RecordFailureOptions): Promise<void>;
  getSourceState(id: string): Promise<SourceState | undefined>;
  listSourceStates(): Promise<SourceState[]>;
}

/** The correlation index: catalog entities and their hosts (`DatabaseEntityIndexStore`). */
export interface EntityIndexStore {
  /** Replaces the whole correlation index (a full catalog pass). */
  replaceEntityIndex(entities: IndexedEntity[]): Promise<void>;
  /** Adds or replaces one entity in the index. */
  upsertEntity(entity: IndexedEntity): Promise<void>;
  /** Replaces the given entities' rows and deletes the removed ones, in one transaction (an incremental rebuild). */
  applyEntityIndexChanges(changes: { upsert: IndexedEntity[]; remove: string[] }): Promise<void>;
  /** Changes whenever the index is written: its entity count and newest `updatedAt` (who else wrote it since). */
  entityIndexFingerprint(): Promise<string>;
  getEntity(entityRef: string): Promise<IndexedEntity | undefined>;
  /** The whole correlation index, ordered by entity ref (coverage report). */
  listEntityIndex(): Promise<IndexedEntity[]>;
}

/** Gate decisions; every change is appended to the audit log in its transaction (`DatabaseDecisionStore`). */
export interface DecisionStore {
  /** Stores a decision and appends `gate-decision` to the audit log, in one transaction. */
  insertDecision(record: DecisionRecord): Promise<void>;
  /** Applies a decision status change and appends it to the audit log atomically; false when its status was not one of `from`. */
  transitionDecision(transition: DecisionTransition): Promise<boolean>;
  /** Pending decisions created before `createdBefore`, oldest first. */
  listPendingDecisions(options: { createdBefore?: string; limit: number }): Promise<DecisionRecord[]>;
  getDecision(id: string): Promise<DecisionRecord | undefined>;
  listDecisions(options: ListDecisionsOptions): Promise<Page<DecisionRecord>>;
  /** The distinct entity refs having decisions (in `environment` when given), to filter a list by visibility. */
  listDecisionEntityRefs(options: { environment?: string } & DecisionStatusFilter): Promise<string[]>;
}

/** Exceptions; every change is appended to the audit log in its transaction (`DatabaseExceptionStore`). */
export interface ExceptionStore {
  insertException(record: ExceptionRecord): Promise<void>;
  getException(id: string): Promise<ExceptionRecord | undefined>;
  listExceptions(options: ListExceptionsOptions): Promise<{ items: ExceptionRecord[]; totalCount: number }>;
  /** The distinct entity refs having exceptions (narrowed like a list), to filter a list by visibility. */
  listExceptionEntityRefs(options: { environment?: string; status?: ExceptionStatus }): Promise<string[]>;
  /** Applies a status change and appends it to the audit log atomically; false when the exception's status was not one of `from`. */
  transitionException(transition: ExceptionTransition): Promise<boolean>;
  /** Approved exceptions of an entity + environment that have not expired at `now` (every approved one without `now`). */
  listActiveExceptions(entityRef: string, environment: string, now?: string): Promise<ExceptionRecord[]>;
}

/** A policy of the policy history, without its body. */
export interface StoredPolicySummary {
  hash: string;
  id: string;
  firstActiveAt: string;
  /** When it was active, oldest first; `until` null while it is. */
  periods: { from: string; until: string | null }[];
}

/** A policy of the policy history with the `runtimeRisk.policy` value it was compiled from. */
export interface StoredPolicy extends StoredPolicySummary {
  body: unknown;
}

/** Every distinct policy the backend has run (`DatabasePolicyStore`). */
export interface PolicyStore {
  /**
   * Records that `hash` is the active policy from `at`: stores its body when the
   * hash is new, closes the period of the policy active before and opens one for
   * this one. True when the active policy changed (nothing happens when it is
   * already the active one).
   */
  recordActivePolicy(policy: { hash: string; id: string; body: unknown; at: string }): Promise<boolean>;
  /** Every stored policy, the active (or most recently active) first. */
  listPolicies(): Promise<StoredPolicySummary[]>;
  getPolicy(hash: string): Promise<StoredPolicy | undefined>;
}

/** A stored decision as a backtest reads it: its JSON columns as stored text, parsed only when needed. */
export interface DecisionScanRow {
  seq: number;
  id: string;
  entityRef: string;
  environment: string;
  decision: string;
  riskLevel: string;
  score: number | null;
  dryRun: boolean;
  createdAt: string;
  policyHash: string;
  /**
   * JSON text of the EvaluationInput; with `inputsHash`, of the decision's own part
   * only (see `scannedInputs` in store/decisionInputs.ts for the full inputs).
   */
  inputs: string;
  /** The content hash of the decision's shared inputs; null for a decision with its full inputs inline. */
  inputsHash?: string | null;
  /** JSON text of the shared inputs named by `inputsHash` (the same string for every row of a page that shares it). */
  sharedInputs?: string | null;
  /** What a dry-run decision would have answered (from its stored answer, read in the database); null otherwise. */
  wouldHaveBeen: string | null;
}

/** A pending decision, as lists of held deploys show it. */
export interface PendingDecisionHead {
  id: string;
  entityRef: string;
  environment: string;
  decision: string;
  riskLevel: string;
  score: number | null;
  createdAt: string;
}

/** The decisions awaiting approval: counts per entity and the oldest few (see `summarizePendingDecisions`). */
export interface PendingDecisionsSummary {
  byEntity: { entityRef: string; count: number }[];
  first: PendingDecisionHead[];
}

/** Reads over many decisions: backtests and the org summary (`DatabaseDecisionScanStore`). */
export interface DecisionScanStore {
  /**
   * Decisions created in `[since, until)` (and of `environment` / `entityRef` when
   * given) after `after` (the last row of the previous page), oldest first (by
   * creation time, then seq), at most `limit`: keyset paging along the created_at
   * index, so each page costs the same however large the window.
   */
  scanDecisions(options: {
    since: string;
    until: string;
    environment?: string;
    entityRef?: string;
    after?: { createdAt: string; seq: number };
    limit: number;
    /** Shared inputs the caller already holds (by hash): their bodies are not read again (`sharedInputs` null). */
    known?: (inputsHash: string) => boolean;
  }): Promise<DecisionScanRow[]>;
  /** The stored reasons (JSON text) of the given decisions, by id (a backtest's page of changed decisions). */
  getDecisionReasons(ids: string[]): Promise<Map<string, string>>;
  /**
   * The decisions awaiting approval (pending and created after `pendingSince` of
   * their environment; of `environment` when given), as the org summary shows
   * them: how many per entity, counted in the database, and the `first` oldest.
   */
  summarizePendingDecisions(options: {
    environment?: string;
    pendingSince: { byEnvironment: Record<string, string>; other: string };
    first: number;
  }): Promise<PendingDecisionsSummary>;
  /** The decisions awaiting approval of `entityRefs` (as above), oldest first, at most `limit`. */
  listPendingDecisionHeads(options: {
    environment?: string;
    pendingSince: { byEnvironment: Record<string, string>; other: string };
    entityRefs: string[];
    limit: number;
  }): Promise<PendingDecisionHead[]>;
  /**
   * Dry-run decisions since `since` (of `environment` when given), counted per
   * UTC day (`YYYY-MM-DD`) and entity, with how many would have blocked or
   * needed approval (counted in the database: no answer is parsed).
   */
  countDryRunOutcomes(options: {
    since: string;
    environment?: string;
  }): Promise<{ day: string; entityRef: string; total: number; block: number; approval: number }[]>;
  /**
   * Signals having any of the given identifier values, with the identifiers that
   * matched, as the engine and coverage use them (id, source, severity,
   * confidence, status, title, lastSeenAt, fetchedAt; no asset or raw record):
   * the one lookup of the org summary for every host at once.
   */
  findSignalHeadsByIdentifiers(values: string[]): Promise<IdentifiedSignal[]>;
}

/** The hash-chained decision log, read side (`DatabaseAuditLogStore`). */
export interface AuditLogStore {
  /** Audit-log records after `afterSeq`, oldest first (optionally of one subject). */
  listAuditRecords(options: { afterSeq?: number; limit: number; subject?: string }): Promise<AuditRecord[]>;
  /** Walks the audit log's hash chain page by page, up to the head read first (one snapshot). */
  verifyAuditLog(): Promise<ChainVerification>;
  /** The head: seq and hash of the last record (`{0, 64 zeros}` when empty). */
  getAuditHead(): Promise<{ seq: number; hash: string }>;
  /** One record by sequence number. */
  getAuditRecord(seq: number): Promise<AuditRecord | undefined>;
}

/** The version of what the gate reads (`store/transaction.ts`). */
export interface DataVersionStore {
  /**
   * The version of what the gate reads (signals, source state, entity index,
   * exceptions): every write of that data increments it in its own transaction.
   * An opaque token (`<database epoch>.<counter>`): compare for equality only.
   */
  getDataVersion(): Promise<string>;
}

/**
 * A host of the vendor host inventory (issue 15 part 3): what a source's
 * Hosts / Machines / Agents API lists, by the vendor's own host id. Not the
 * entity -> hosts inventory file of correlation (`matchedBy: inventory`).
 */
export interface InventoryHost {
  /** The source instance id that listed it. */
  source: string;
  /** The vendor's host id (device id, machine id, agent id). */
  sourceId: string;
  /** Normalized asset (identifiers, cloud, Kubernetes cluster / namespace / pod / node / labels). */
  asset: Signal['asset'];
  /** The vendor's last contact with the host, when it says. */
  lastSeenAt: string | null;
  /** When the source last listed it. */
  listedAt: string;
}

/** Inventory walk state of one source (its own cursor; separate from the signal cursor and health). */
export interface HostInventoryState {
  source: string;
  type: string;
  cursor: string | null;
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  /** When the last walk over the whole inventory finished. */
  lastCompleteAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  rejectedCount: number;
}

/** An inventory host matched through one of its identifiers. */
export interface IdentifiedHost {
  host: InventoryHost;
  identifiers: { kind: string; value: string }[];
}

/** The vendor host inventory (`DatabaseHostInventoryStore`). */
export interface HostInventoryStore {
  /**
   * Upserts one page of listed hosts (by source + vendor host id) and saves the
   * source's inventory cursor, in one transaction. Hosts not on the page are
   * kept (a host that leaves the vendor's list ages out of the coverage window).
   * `complete`: the page ends a walk over the whole inventory.
   */
  commitHostPage(options: {
    sourceId: string;
    sourceType: string;
    hosts: Omit<InventoryHost, 'source' | 'listedAt'>[];
    /** The inventory cursor after this page; undefined (hosts an alert batch described) leaves the inventory state alone. */
    cursor?: string | null;
    complete?: boolean;
    rejected?: number;
    at: string;
    /** With `complete`: the source's hosts last listed before this time (ISO) are deleted (retention of churned hosts, e.g. pods). */
    pruneListedBefore?: string;
  }): Promise<void>;
  /** Records a failed inventory sync; keeps the cursor and every stored host. */
  recordHostInventoryFailure(options: { sourceId: string; sourceType: string; error: string; at: string }): Promise<void>;
  getHostInventoryState(sourceId: string): Promise<HostInventoryState | undefined>;
  /** Inventory hosts having any of the given identifier values (lower-cased), with the identifiers that matched (gate path). */
  findHostsByIdentifiers(values: string[]): Promise<IdentifiedHost[]>;
  /** The newest `listedAt` of any inventory host (undefined when none is stored). */
  latestHostListedAt(): Promise<string | undefined>;
  /** Every inventory host, a page at a time by (source, sourceId) (index rebuild, tests). */
  listInventoryHosts(options: {
    after?: { source: string; sourceId: string };
    limit: number;
    source?: string;
    /** Only hosts listed at or after this time (ISO). */
    listedSince?: string;
    /** Only hosts listed before this time (ISO). */
    listedBefore?: string;
  }): Promise<{
    items: InventoryHost[];
    next?: { source: string; sourceId: string };
  }>;
}

/** An idempotency key of a gate request, claimed by the first request that used it. */
export interface IdempotencyClaim {
  /** The caller's principal (user ref or service subject), lower-cased. */
  caller: string;
  key: string;
  /** sha256 of the canonical request body. */
  requestHash: string;
  /** The decision the first request recorded (or is recording). */
  decisionId: string;
  createdAt: string;
}

/** Idempotency keys of gate requests (`DatabaseIdempotencyStore`): one decision per (caller, key). */
export interface IdempotencyStore {
  /**
   * Claims (caller, key) for `claim.decisionId` unless a row exists (unique key,
   * atomic on every replica); `claimed` tells whether this call won, `current` is the row now.
   */
  claimIdempotencyKey(claim: IdempotencyClaim): Promise<{ claimed: boolean; current?: IdempotencyClaim }>;
  getIdempotencyKey(caller: string, key: string): Promise<IdempotencyClaim | undefined>;
  /** Replaces `previous` (expired, or abandoned by a crashed request) with `claim` if it is still the row; true if it was. */
  takeOverIdempotencyKey(previous: IdempotencyClaim, claim: IdempotencyClaim): Promise<boolean>;
  /** Removes the claim (its request failed before recording a decision), if it is still the row. */
  releaseIdempotencyKey(claim: IdempotencyClaim): Promise<void>;
  /** Deletes keys created before `createdBefore`; how many. */
  sweepIdempotencyKeys(createdBefore: string): Promise<number>;
}

/** Persistence of the runtime-risk backend: every kind of data, each behind its own interface above. */
export interface RuntimeRiskStore
  extends SignalStore,
    HostInventoryStore,
    SourceStore,
    EntityIndexStore,
    DecisionStore,
    IdempotencyStore,
    ExceptionStore,
    AuditLogStore,
    DataVersionStore,
    PolicyStore,
    DecisionScanStore {}
