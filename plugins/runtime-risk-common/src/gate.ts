import { z } from 'zod';
import { stringifyEntityRef } from '@backstage/catalog-model';
import { parseEntityRefStrict } from './entityRef';
import { ActionSchema } from './policy';

export const RISK_LEVELS = ['low', 'moderate', 'high', 'unknown'] as const;
export const RiskLevelSchema = z.enum(RISK_LEVELS);
export type RiskLevel = z.infer<typeof RiskLevelSchema>;

export const DecisionSchema = ActionSchema;
export type Decision = z.infer<typeof DecisionSchema>;

export const REASON_CODES = [
  'signal_active',
  'no_active_signals',
  'source_unavailable',
  'signals_stale',
  'uncorrelated',
  'score_unavailable',
  'exception_applied',
  'dry_run',
  'approval_granted',
  'approval_rejected',
  'partial_coverage',
] as const;
export const ReasonCodeSchema = z.enum(REASON_CODES);
export type ReasonCode = z.infer<typeof ReasonCodeSchema>;

export const ReasonSchema = z.object({
  code: ReasonCodeSchema,
  message: z.string(),
  signalIds: z.array(z.string()).default([]),
  source: z.string().optional(),
});
export type Reason = z.infer<typeof ReasonSchema>;

/**
 * Parses and canonicalizes an entity ref (`component:default/payments`); throws on malformed refs:
 * exactly `[kind:][namespace/]name`, each part non-empty and valid (see `parseEntityRefStrict`).
 */
export function canonicalEntityRef(ref: string): string {
  const parsed = parseEntityRefStrict(ref, { defaultKind: 'component', defaultNamespace: 'default' });
  return stringifyEntityRef(parsed).toLowerCase();
}

export const EntityRefSchema = z.string().min(1).transform((v, ctx) => {
  try {
    return canonicalEntityRef(v);
  } catch (e) {
    const shown = v.length > 80 ? `${v.slice(0, 80)}...` : v;
    ctx.addIssue({
      code: 'custom',
      message: `malformed entity ref ${JSON.stringify(shown)} (${(e as Error).message}): expected [kind:][namespace/]name`,
    });
    return z.NEVER;
  }
});

/** Where a gate request's `requestedBy` login comes from (the backend resolves it by the catalog annotation `<provider>.com/user-login`). */
export const REQUESTED_BY_PROVIDERS = ['github', 'gitlab'] as const;

/** `requestedBy` of a gate request: the person behind the pipeline, as the CI system names them. */
export const RequestedBySchema = z
  .object({
    provider: z.enum(REQUESTED_BY_PROVIDERS, { error: `must be one of ${REQUESTED_BY_PROVIDERS.join(', ')}` }),
    login: z
      .string()
      .min(1, { message: 'must not be empty' })
      .max(255, { message: 'must be at most 255 characters' })
      .regex(/^[A-Za-z0-9_.\-[\]]+$/, { message: 'must be a login: letters, digits, ., _, -, [ and ]' }),
  })
  .strict();
export type RequestedBy = z.output<typeof RequestedBySchema>;

/**
 * Who asked for a recorded decision: the login the request named, the User
 * entity it resolved to (or `resolved: false`, with a note) and the principal
 * whose token asserted it.
 */
export const RequesterSchema = z.object({
  provider: z.enum(REQUESTED_BY_PROVIDERS),
  login: z.string(),
  entityRef: z.string().nullable(),
  resolved: z.boolean(),
  note: z.string().optional(),
  assertedBy: z.string(),
});
export type Requester = z.infer<typeof RequesterSchema>;

/**
 * Longest accepted `artifact` and `pipeline.*` of a gate request (characters);
 * longer ones are refused with a 400 naming the field (they are recorded with
 * every decision and shown in the portal).
 */
export const GATE_REQUEST_LIMITS = {
  artifact: 1024,
  pipelineProvider: 64,
  pipelineRunId: 256,
  pipelineUrl: 2048,
} as const;

const atMost = (n: number) => z.string().max(n, { message: `must be at most ${n} characters` });

export const GateRequestSchema = z
  .object({
    entityRef: EntityRefSchema,
    environment: z.string().min(1),
    artifact: atMost(GATE_REQUEST_LIMITS.artifact).optional(),
    pipeline: z
      .object({
        provider: atMost(GATE_REQUEST_LIMITS.pipelineProvider).optional(),
        runId: atMost(GATE_REQUEST_LIMITS.pipelineRunId).optional(),
        url: atMost(GATE_REQUEST_LIMITS.pipelineUrl).optional(),
      })
      .optional(),
    dryRun: z.boolean().default(false),
    requestedBy: RequestedBySchema.optional(),
  })
  .strict();
export type GateRequest = z.input<typeof GateRequestSchema>;
export type ParsedGateRequest = z.output<typeof GateRequestSchema>;

export const MatchedHostSchema = z.object({
  id: z.string(),
  matchedBy: z.string(),
  value: z.string().optional(),
  sources: z.array(z.string()).optional(),
});
export type MatchedHost = z.infer<typeof MatchedHostSchema>;

/** Approval state of a recorded gate decision (`status` of a GateDecision). */
export const DECISION_STATUSES = ['final', 'pending', 'approved', 'rejected', 'expired'] as const;
export const DecisionStatusSchema = z.enum(DECISION_STATUSES);
export type DecisionStatus = z.infer<typeof DecisionStatusSchema>;

export const SOURCE_STATUSES = ['ok', 'degraded', 'down'] as const;
export type SourceStatus = (typeof SOURCE_STATUSES)[number];

/**
 * Health of one source that covers an entity (reported one of its hosts within
 * the coverage window), as the entity's risk answer and the gate answer carry it:
 * readable by whoever may read the entity (the global `/v1/sources` is admin-only).
 */
export const EntitySourceHealthSchema = z.object({
  id: z.string(),
  /** The adapter type: `crowdstrike`, `defender`, `sentinelone`, `webhook`, `file`, ... */
  vendor: z.string(),
  status: z.enum(SOURCE_STATUSES),
  lastSuccessAt: z.string().nullable(),
  /** When the source's data is current as of: the older of its last successful sync and its own as-of time. */
  newestDataAt: z.string().nullable(),
  /** Seconds from `newestDataAt` to the answer's time; null when the source never synced. */
  dataAgeSeconds: z.number().nullable(),
  /**
   * The policy's environments (sorted) for which this source's signals are stale:
   * data older than the environment's `maxSignalAge` (a push source: a missed
   * heartbeat, in every environment). The gate answers `signals_stale` there.
   */
  staleFor: z.array(z.string()),
  /** A push (webhook) source: never stale for being quiet, only after a missed heartbeat. */
  push: z.boolean().optional(),
});
export type EntitySourceHealth = z.infer<typeof EntitySourceHealthSchema>;

/** The approval of a decision that needed one (`approval_required`, not a dry run). */
export const DecisionApprovalStateSchema = z.object({
  /** When a pending decision expires unapproved (creation + the environment's `approvalTtl`). */
  expiresAt: z.string(),
  /** The principal whose token asked the gate (user entity ref or service subject). */
  requestedBy: z.string().optional(),
  /** Who approved, rejected or overrode it, and when. */
  decidedBy: z.string().optional(),
  decidedAt: z.string().optional(),
  /** The approver's comment. */
  comment: z.string().optional(),
});
export type DecisionApprovalState = z.infer<typeof DecisionApprovalStateSchema>;

/** A signal the gate saw when it decided (from the decision's stored inputs). */
export const EvaluatedSignalSchema = z.object({
  id: z.string(),
  source: z.string(),
  severity: z.string(),
  confidence: z.number(),
  status: z.string(),
  lastSeenAt: z.string(),
  title: z.string(),
});
export type EvaluatedSignal = z.infer<typeof EvaluatedSignalSchema>;

export const GateDecisionSchema = z.object({
  decisionId: z.string(),
  entityRef: z.string(),
  environment: z.string(),
  decision: DecisionSchema,
  riskLevel: RiskLevelSchema,
  score: z.number().nullable(),
  reasons: z.array(ReasonSchema),
  hosts: z.array(MatchedHostSchema),
  signals: z.object({ count: z.number(), freshAt: z.string().nullable(), stale: z.boolean() }),
  policy: z.object({ id: z.string(), hash: z.string() }),
  exception: z.object({ id: z.string(), expiresAt: z.string() }).optional(),
  dryRun: z.boolean(),
  /** In dry-run, the decision that the gate would have made. */
  wouldHaveBeen: DecisionSchema.optional(),
  status: DecisionStatusSchema.optional(),
  evaluatedAt: z.string(),
  /** Approval state of a decision that needed one (`GET /v1/decisions`, `GET /v1/decisions/:id`). */
  approval: DecisionApprovalStateSchema.optional(),
  /** The signals the gate saw when it decided (`GET /v1/decisions/:id` only). */
  evaluatedSignals: z.array(EvaluatedSignalSchema).optional(),
  /** The person the request named (`requestedBy`), resolved to a User entity, and who asserted it. */
  requester: RequesterSchema.optional(),
  /** Health and data age of the sources that cover the entity (absent on decisions recorded before it existed). */
  sources: z.array(EntitySourceHealthSchema).optional(),
});
export type GateDecision = z.infer<typeof GateDecisionSchema>;

export interface SourceHealth {
  id: string;
  type: string;
  status: SourceStatus;
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  lastError?: string;
  consecutiveFailures: number;
  lagSeconds: number | null;
  cursor?: string | null;
  /** The policy's environments (sorted) whose `maxSignalAge` this source's data is older than (see EntitySourceHealth). */
  staleFor?: string[];
  /** Records of the source rejected so far (invalid, or not storable: e.g. an over-long identifier). */
  rejectedCount?: number;
  /** Why the last one was rejected (`field: problem`, never the value). */
  lastRejectedReason?: string;
}

/** The risk of an entity in one environment at one time (a score snapshot, `GET .../risk/history`). */
export interface RiskSnapshot {
  environment: string;
  at: string;
  score: number | null;
  riskLevel: RiskLevel;
  decision: Decision;
}

/** `GET /v1/entities/{kind}/{namespace}/{name}/risk/history`: snapshots taken since `since`, oldest first. */
export interface EntityRiskHistory {
  entityRef: string;
  since: string;
  items: RiskSnapshot[];
}

export interface ListResponse<T> {
  items: T[];
  totalCount: number;
  nextCursor?: string;
}

/** Risk of one entity in one environment, as the card shows it (no decision recorded). */
export interface EntityRisk {
  entityRef: string;
  environment: string;
  riskLevel: RiskLevel;
  score: number | null;
  decision: Decision;
  reasons: Reason[];
  hosts: MatchedHost[];
  signals: { count: number; freshAt: string | null; stale: boolean };
  policy: { id: string; hash: string };
  exception?: { id: string; expiresAt: string };
  evaluatedAt: string;
  /** Health and data age of the sources that cover the entity in this environment (sorted by id). */
  sources?: EntitySourceHealth[];
}
