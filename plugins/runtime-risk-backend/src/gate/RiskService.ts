import { InputError, NotFoundError, ConflictError, ServiceUnavailableError, isError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import {
  durationToMs,
  type Decision,
  type DecisionApprovalState,
  type EntityRisk,
  type EvaluatedSignal,
  type EntitySourceHealth,
  type GateDecision,
  type MatchedHost,
  type ParsedGateRequest,
  type Requester,
  type SourceHealth,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { isPushSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { randomUUID } from 'node:crypto';
import { correlatedSignal, coveredHosts, type Correlated } from '../correlate/correlate';
import { correlationTried, partsWithoutHosts } from '../correlate/entityIndex';
import type { EntityIndexer } from '../correlate/EntityIndexer';
import {
  compilePolicy,
  evaluate,
  sourceDataAtMs,
  staleEnvironments,
  type CompiledPolicy,
  type EngineSource,
  type Evaluation,
  type EvaluationInput,
} from '../engine';
import { sourceHealth } from '../ingest/sourceStatus';
import { canonicalJson } from '../lib/canonicalJson';
import type { DecisionRecord, IndexedEntity, RuntimeRiskStore, SourceState } from '../store/types';
import type { RegisteredSource } from '../ingest/sources';
import { StoreGateReads, type GateReadSession, type GateReads } from './GateReads';

/** How long a pending decision waits for approval where the environment sets no `approvalTtl`. */
export const DEFAULT_APPROVAL_TTL_MS = 24 * 3600 * 1000;

/** How long a source's report of a host counts as covering it, where `runtimeRisk.coverage.window` does not say. */
export const DEFAULT_COVERAGE_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** Errors of a catalog lookup that describe the request, not an outage: passed on as they are. */
const CLIENT_ERRORS = new Set(['InputError', 'NotFoundError', 'NotAllowedError', 'AuthenticationError', 'ConflictError']);

/** The replay of a stored decision. */
export interface ReplayResult {
  decisionId: string;
  matches: boolean;
  original: ComparableOutcome;
  replayed: ComparableOutcome;
}

/** The parts of a decision that must be identical when replayed. */
export interface ComparableOutcome {
  decision: Decision;
  riskLevel: string;
  score: number | null;
  reasons: unknown[];
  wouldHaveBeen?: Decision;
  policy: { id: string; hash: string };
}

/**
 * Assembles the engine's input from the stored index, signals and source
 * state (never an EDR API), evaluates and records gate decisions.
 */
export class RiskService {
  constructor(
    private readonly options: {
      store: RuntimeRiskStore;
      indexer: EntityIndexer;
      policy: CompiledPolicy;
      sources: () => RegisteredSource[];
      clock?: () => Date;
      /** Told of every recorded gate answer (notifications); must not throw. */
      onDecision?: (answer: GateDecision, entity: IndexedEntity) => void;
      /** Where the underlying error of a failed catalog lookup is logged (it is not sent to the caller). */
      logger?: LoggerService;
      /** How gate inputs are read (default: straight from the store; the plugin uses {@link CachedGateReads}). */
      reads?: GateReads;
      /** `runtimeRisk.coverage.window` in ms (default 7 days): a source covers the hosts it reported within it. */
      coverageWindowMs?: number;
    },
  ) {
    this.reads = options.reads ?? new StoreGateReads(options.store);
  }

  private readonly reads: GateReads;

  get policy(): CompiledPolicy {
    return this.options.policy;
  }

  /** A session of the gate's (cached) reads, for callers that evaluate many entities in a row (score snapshots). */
  readSession(): Promise<GateReadSession> {
    return this.reads.session();
  }

  private nowDate(): Date {
    return this.options.clock?.() ?? new Date();
  }

  /** Throws InputError naming `environment` for an environment the policy does not define. */
  assertEnvironment(environment: string, field = 'environment'): void {
    if (!Object.prototype.hasOwnProperty.call(this.options.policy.environments, environment)) {
      const known = Object.keys(this.options.policy.environments).sort().join(', ');
      throw new InputError(`${field}: unknown environment '${environment}'; the policy defines: ${known}`);
    }
  }

  /** The indexed entity, or (once) the catalog's answer for an entity the index does not know yet; 404 otherwise. */
  async resolveEntity(entityRef: string, reads?: GateReadSession): Promise<IndexedEntity> {
    const indexed = await (reads ?? (await this.reads.session())).entity(entityRef);
    if (indexed) return indexed;
    let fetched: IndexedEntity | undefined;
    try {
      fetched = await this.options.indexer.indexOne(entityRef);
    } catch (e) {
      // Fail closed, but as a retryable 503 with a clean message: the catalog's
      // address and error text go to the log only, never to the caller.
      if (isError(e) && CLIENT_ERRORS.has(e.name)) throw e;
      this.options.logger?.warn(
        `runtime-risk could not resolve '${entityRef}' from the catalog: ${isError(e) ? e.message : String(e)}`,
      );
      throw new ServiceUnavailableError(`catalog unavailable, cannot resolve ${entityRef}; retry`);
    }
    if (!fetched) throw new NotFoundError(`entityRef: no entity '${entityRef}' in the catalog`);
    return fetched;
  }

  /** Matched hosts and the signals correlated to them. */
  async correlate(entity: IndexedEntity, environment: string | undefined, reads?: GateReadSession): Promise<Correlated> {
    return (reads ?? (await this.reads.session())).correlated(entity, environment);
  }

  private async sourceHealthList(nowMs: number): Promise<SourceHealth[]> {
    const health = await this.sourceHealthOf(this.options.sources().map(r => r.source.id), nowMs);
    // the environments each source is stale for, by the engine's rules (issue 19 part 2)
    return health.map(({ id, health: h, state }) => ({
      ...h,
      staleFor: staleEnvironments(this.engineSource(id, h.status, state), nowMs, this.options.policy.maxSignalAgeMs),
    }));
  }

  /** A source as the engine judges its freshness: status, sync and as-of times, push and heartbeat. */
  private engineSource(id: string, status: EngineSource['status'], state: SourceState | undefined): EngineSource {
    const s: EngineSource = { id, status, lastSuccessAt: state?.lastSuccessAt ?? null };
    if (state?.asOf) s.asOf = state.asOf;
    const source = this.options.sources().find(r => r.source.id === id)?.source;
    if (source && isPushSource(source)) {
      s.push = true;
      if (source.heartbeatMs !== undefined) s.heartbeatMs = source.heartbeatMs;
    }
    return s;
  }

  /**
   * Health of the given source ids, sorted by id, with the stored state of each
   * (one read of the source states; registered sources know their frequency).
   */
  private async sourceHealthOf(ids: string[], nowMs: number, read?: Promise<SourceState[]>) {
    const registered = this.options.sources();
    const states = new Map((await (read ?? (await this.reads.session()).sourceStates())).map(s => [s.id, s]));
    return [...new Set(ids)].sort().map(id => {
      const reg = registered.find(r => r.source.id === id);
      const state = states.get(id);
      const health = sourceHealth({
        id,
        type: reg?.source.type ?? state?.type ?? 'unknown',
        state,
        nowMs,
        frequencyMs: reg?.frequencyMs,
      });
      return { id, health, state };
    });
  }

  /** Health of every registered source (`GET /v1/sources`). */
  async listSources(): Promise<SourceHealth[]> {
    return this.sourceHealthList(this.nowDate().getTime());
  }

  /** Everything `evaluate` needs for one entity + environment, read from the store. */
  async buildInput(
    entity: IndexedEntity,
    environment: string,
    dryRun: boolean,
    now: Date,
    session?: GateReadSession,
  ): Promise<EvaluationInput> {
    return (await this.assemble(entity, environment, dryRun, now, session)).input;
  }

  /**
   * {@link buildInput} and the health of the sources that cover the entity
   * there (the answer's `sources`), from the same reads (the cached gate inputs).
   */
  private async assemble(
    entity: IndexedEntity,
    environment: string,
    dryRun: boolean,
    now: Date,
    session?: GateReadSession,
  ): Promise<{ input: EvaluationInput; sources: EntitySourceHealth[] }> {
    const reads = session ?? (await this.reads.session());
    // the three reads are independent: run them together
    const statesRead = reads.sourceStates();
    const exceptionsRead = reads.activeExceptions(entity.entityRef, environment, now.toISOString());
    // (handled below; this keeps an early failure of one from surfacing as an unhandled rejection)
    statesRead.catch(() => {});
    exceptionsRead.catch(() => {});
    const correlated = await reads.correlated(entity, environment);
    const { hosts } = correlated;
    // DESIGN "Coverage": only the sources that reported one of the hosts within the window matter
    const windowMs = this.options.coverageWindowMs ?? DEFAULT_COVERAGE_WINDOW_MS;
    const coverage = coveredHosts(correlated, new Date(now.getTime() - windowMs).toISOString());
    const covered = new Set(coverage.covered);
    const nowMs = now.getTime();
    const health: EntitySourceHealth[] = [];
    const sources: EngineSource[] = (await this.sourceHealthOf(coverage.sources, nowMs, statesRead)).map(({ id, health: h, state }) => {
      const s = this.engineSource(id, h.status, state);
      health.push(entitySourceHealth(s, h.type, nowMs, this.options.policy.maxSignalAgeMs));
      return s;
    });
    const exceptions = (await exceptionsRead).map(e => {
      const x: NonNullable<EvaluationInput['exceptions']>[number] = { id: e.id, expiresAt: e.expiresAt };
      if (e.signalIds) x.signalIds = e.signalIds;
      if (e.maxLevel) x.maxLevel = e.maxLevel as 'low' | 'moderate' | 'high' | 'unknown';
      return x;
    });
    const input: EvaluationInput = {
      entityRef: entity.entityRef,
      environment,
      now: now.toISOString(),
      hosts: hosts.map(h => ({ ...h })),
      // copies: cached values are shared and frozen
      signals: correlated.signals.map(correlatedSignal),
      sources,
      exceptions,
      dryRun,
    };
    const components = partsWithoutHosts(entity, environment);
    const unseen = hosts.filter(h => !covered.has(h.id)).map(h => h.id);
    if (components.length || unseen.length) {
      input.uncovered = {};
      if (components.length) input.uncovered.components = components;
      if (unseen.length) input.uncovered.hosts = unseen;
    }
    if (hosts.length === 0) input.correlationTried = correlationTried(environment, entity);
    return { input, sources: health };
  }

  /**
   * Evaluates a gate request and records the decision with its full inputs.
   * `requestedBy` is the caller's principal (user ref or service subject),
   * `requester` the person the request named, resolved; `decisionId` an id
   * claimed beforehand (idempotency key).
   */
  async gate(
    request: ParsedGateRequest,
    meta: { requestedBy?: string; requester?: Requester; decisionId?: string } = {},
  ): Promise<GateDecision> {
    this.assertEnvironment(request.environment);
    const reads = await this.reads.session();
    const entity = await this.resolveEntity(request.entityRef, reads);
    const now = this.nowDate();
    const { input, sources } = await this.assemble(entity, request.environment, request.dryRun, now, reads);
    const evaluation = evaluate(input, this.options.policy);
    const decisionId = meta.decisionId ?? randomUUID();
    const answer: GateDecision = {
      decisionId,
      entityRef: entity.entityRef,
      environment: request.environment,
      decision: evaluation.decision,
      riskLevel: evaluation.riskLevel,
      score: evaluation.score,
      reasons: evaluation.reasons,
      hosts: input.hosts,
      signals: evaluation.signals,
      policy: evaluation.policy,
      dryRun: request.dryRun,
      status: evaluation.decision === 'approval_required' && !request.dryRun ? 'pending' : 'final',
      evaluatedAt: input.now,
    };
    if (evaluation.exception) answer.exception = evaluation.exception;
    if (evaluation.wouldHaveBeen) answer.wouldHaveBeen = evaluation.wouldHaveBeen;
    if (meta.requester) answer.requester = meta.requester;
    answer.sources = sources;
    const record: DecisionRecord = {
      id: decisionId,
      entityRef: entity.entityRef,
      environment: request.environment,
      decision: evaluation.decision,
      riskLevel: evaluation.riskLevel,
      score: evaluation.score,
      reasons: evaluation.reasons,
      inputs: input,
      result: {
        ...answer,
        request: { artifact: request.artifact ?? null, pipeline: request.pipeline ?? null, requestedBy: meta.requestedBy ?? null, requester: meta.requester ?? null },
      },
      policyId: evaluation.policy.id,
      policyHash: evaluation.policy.hash,
      dryRun: request.dryRun,
      status: answer.status ?? 'final',
      createdAt: input.now,
      requestedBy: meta.requestedBy ?? null,
    };
    await this.options.store.insertDecision(record);
    this.options.onDecision?.(answer, entity);
    return answer;
  }

  /** The current risk of an entity in one or every environment; nothing is recorded. */
  async risk(entityRef: string, environment?: string): Promise<EntityRisk[]> {
    if (environment !== undefined) this.assertEnvironment(environment);
    const reads = await this.reads.session();
    const entity = await this.resolveEntity(entityRef, reads);
    const now = this.nowDate();
    const envs = environment !== undefined ? [environment] : Object.keys(this.options.policy.environments).sort();
    const out: EntityRisk[] = [];
    for (const env of envs) {
      const { input, sources } = await this.assemble(entity, env, false, now, reads);
      const evaluation = evaluate(input, this.options.policy);
      out.push({ ...toEntityRisk(input, evaluation), sources });
    }
    return out;
  }

  /** A stored decision as it was answered. */
  async getDecision(id: string): Promise<GateDecision> {
    const record = await this.options.store.getDecision(id);
    if (!record) throw new NotFoundError(`no decision '${id}'`);
    return this.present(record);
  }

  /** How long an approval of a pending decision in `environment` may take (`approvalTtl`, default 24 hours). */
  approvalTtlMs(environment: string): number {
    const env = this.options.policy.environments[environment];
    return env?.approvalTtl ? durationToMs(env.approvalTtl) : DEFAULT_APPROVAL_TTL_MS;
  }

  /** Whether a pending decision has waited longer than its environment's `approvalTtl` at `now`. */
  isApprovalExpired(record: DecisionRecord, now: Date = this.nowDate()): boolean {
    return record.status === 'pending' && Date.parse(record.createdAt) + this.approvalTtlMs(record.environment) <= now.getTime();
  }

  /**
   * A stored decision as answered now: a pending one past its `approvalTtl` reads
   * as expired; one that needed approval carries `approval` (its expiry, who asked,
   * who decided). `detail` adds the signals the gate saw (`evaluatedSignals`).
   */
  present(record: DecisionRecord, options: { detail?: boolean } = {}): GateDecision {
    const answer = decisionFromRecord(record);
    const out: GateDecision = this.isApprovalExpired(record) ? { ...answer, status: 'expired' } : answer;
    const approval = this.approvalOf(record);
    if (approval) out.approval = approval;
    if (options.detail) out.evaluatedSignals = evaluatedSignalsOf(record);
    return out;
  }

  /** Per environment of the policy (and for any other), the oldest `createdAt` of a decision still awaiting approval at `now`. */
  pendingSince(now: Date = this.nowDate()): { byEnvironment: Record<string, string>; other: string } {
    const byEnvironment: Record<string, string> = {};
    for (const env of Object.keys(this.options.policy.environments)) {
      byEnvironment[env] = new Date(now.getTime() - this.approvalTtlMs(env)).toISOString();
    }
    return { byEnvironment, other: new Date(now.getTime() - DEFAULT_APPROVAL_TTL_MS).toISOString() };
  }

  /** The approval state of a decision that needed one (or was overridden). */
  private approvalOf(record: DecisionRecord): DecisionApprovalState | undefined {
    const needed = record.decision === 'approval_required' && !record.dryRun;
    if (!needed && !record.outcome) return undefined;
    const approval: DecisionApprovalState = {
      expiresAt: new Date(Date.parse(record.createdAt) + this.approvalTtlMs(record.environment)).toISOString(),
    };
    const request = (record.result as { request?: { requestedBy?: unknown } } | null)?.request;
    const requestedBy = record.requestedBy ?? (typeof request?.requestedBy === 'string' ? request.requestedBy : undefined);
    if (requestedBy) approval.requestedBy = requestedBy;
    if (record.decidedBy) approval.decidedBy = record.decidedBy;
    if (record.decidedAt) approval.decidedAt = record.decidedAt;
    if (record.outcome?.comment !== undefined) approval.comment = record.outcome.comment;
    return approval;
  }

  /**
   * The policy a decision was made with: the current one, or the body the policy
   * history stored under its hash; 409 when the history does not have it (a
   * decision made before the history existed) or it no longer compiles to that
   * hash (the engine's algorithm changed).
   */
  async policyOf(record: Pick<DecisionRecord, 'id' | 'policyHash'>): Promise<CompiledPolicy> {
    const current = this.options.policy;
    if (record.policyHash === current.hash) return current;
    const stored = await this.options.store.getPolicy(record.policyHash);
    if (!stored) {
      throw new ConflictError(
        `decision '${record.id}' was made with policy hash ${record.policyHash}, which is not in the policy history ` +
          `(the current policy hash is ${current.hash})`,
      );
    }
    let compiled: CompiledPolicy;
    try {
      compiled = compilePolicy(stored.body);
    } catch (e) {
      throw new ConflictError(`the stored policy ${record.policyHash} no longer compiles: ${(e as Error).message}`);
    }
    if (compiled.hash !== record.policyHash) {
      throw new ConflictError(
        `the stored policy ${record.policyHash} now compiles to ${compiled.hash} (the engine changed since); it cannot be replayed`,
      );
    }
    return compiled;
  }

  /** Re-evaluates a stored decision's inputs with the policy it was made with (from the policy history when it changed since). */
  async replay(id: string): Promise<ReplayResult> {
    const record = await this.options.store.getDecision(id);
    if (!record) throw new NotFoundError(`no decision '${id}'`);
    const policy = await this.policyOf(record);
    const evaluation = evaluate(record.inputs as EvaluationInput, policy);
    // the gate's own answer, before any approval, rejection or override
    const stored = decisionFromRecord({ ...record, outcome: null });
    const original: ComparableOutcome = comparable(stored);
    const replayed: ComparableOutcome = comparable(evaluation);
    return { decisionId: id, matches: canonicalJson(original) === canonicalJson(replayed), original, replayed };
  }
}

function comparable(x: {
  decision: Decision;
  riskLevel: string;
  score: number | null;
  reasons: unknown[];
  wouldHaveBeen?: Decision;
  policy: { id: string; hash: string };
}): ComparableOutcome {
  const out: ComparableOutcome = {
    decision: x.decision,
    riskLevel: x.riskLevel,
    score: x.score,
    reasons: x.reasons,
    policy: { id: x.policy.id, hash: x.policy.hash },
  };
  if (x.wouldHaveBeen) out.wouldHaveBeen = x.wouldHaveBeen;
  return out;
}

/** The signals a stored decision's evaluation saw (its inputs), most severe first. */
function evaluatedSignalsOf(record: DecisionRecord): EvaluatedSignal[] {
  const signals = (record.inputs as { signals?: unknown } | null)?.signals;
  if (!Array.isArray(signals)) return [];
  const rank: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1, informational: 0 };
  return signals
    .filter((x): x is EvaluatedSignal => typeof x === 'object' && x !== null && typeof (x as { id?: unknown }).id === 'string')
    .map(({ id, source, severity, confidence, status, lastSeenAt, title }) => ({ id, source, severity, confidence, status, lastSeenAt, title }))
    .sort((a, b) => (rank[b.severity] ?? -1) - (rank[a.severity] ?? -1) || a.id.localeCompare(b.id));
}

/** The answer of a stored decision (without the request metadata kept alongside). */
export function decisionFromRecord(record: DecisionRecord): GateDecision {
  const result = (record.result ?? {}) as GateDecision & { request?: unknown };
  const { request: _request, ...answer } = result;
  const out: GateDecision = { ...answer, status: record.status as GateDecision['status'] };
  // an approved, rejected or overridden decision answers its final decision and says why
  if (record.outcome) {
    out.decision = record.outcome.decision;
    out.reasons = [...answer.reasons, record.outcome.reason];
  }
  return out;
}

function toEntityRisk(input: EvaluationInput, evaluation: Evaluation): EntityRisk {
  const risk: EntityRisk = {
    entityRef: input.entityRef,
    environment: input.environment,
    riskLevel: evaluation.riskLevel,
    score: evaluation.score,
    decision: evaluation.decision,
    reasons: evaluation.reasons,
    hosts: input.hosts,
    signals: evaluation.signals,
    policy: evaluation.policy,
    evaluatedAt: input.now,
  };
  if (evaluation.exception) risk.exception = evaluation.exception;
  return risk;
}

/** A covering source's health in the entity's answer: status, data age and the environments it is stale for. */
function entitySourceHealth(
  src: EngineSource,
  vendor: string,
  nowMs: number,
  maxSignalAgeMs: Record<string, number>,
): EntitySourceHealth {
  const dataAt = sourceDataAtMs(src);
  const out: EntitySourceHealth = {
    id: src.id,
    vendor,
    status: src.status,
    lastSuccessAt: src.lastSuccessAt,
    newestDataAt: Number.isNaN(dataAt) ? null : new Date(dataAt).toISOString(),
    dataAgeSeconds: Number.isNaN(dataAt) ? null : Math.max(0, Math.round((nowMs - dataAt) / 1000)),
    staleFor: staleEnvironments(src, nowMs, maxSignalAgeMs),
  };
  if (src.push) out.push = true;
  return out;
}
