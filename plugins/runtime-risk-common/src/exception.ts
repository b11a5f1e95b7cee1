import { z } from 'zod';
import { EntityRefSchema } from './gate';

/** Lifecycle of a risk exception (the `status` of `GET /v1/exceptions`). */
export const EXCEPTION_STATUSES = ['pending', 'approved', 'rejected', 'revoked', 'expired'] as const;
export const ExceptionStatusSchema = z.enum(EXCEPTION_STATUSES);
export type ExceptionStatus = z.infer<typeof ExceptionStatusSchema>;

/** Highest risk level an exception may cover (`maxLevel`). */
export const EXCEPTION_MAX_LEVELS = ['low', 'moderate', 'high'] as const;
export const ExceptionMaxLevelSchema = z.enum(EXCEPTION_MAX_LEVELS);

/** Actions on an exception after it was requested (`POST /v1/exceptions/{id}/{action}`). */
export const EXCEPTION_ACTIONS = ['approve', 'reject', 'revoke'] as const;
export type ExceptionAction = (typeof EXCEPTION_ACTIONS)[number];

const isoDateTime = z
  .string()
  .refine(v => /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)), { message: 'must be an ISO 8601 date-time' });

/** Body of `POST /v1/exceptions`; unknown fields are refused. */
export const ExceptionRequestSchema = z
  .object({
    entityRef: EntityRefSchema,
    environment: z.string().min(1),
    reason: z.string().trim().min(1, { message: 'must say why the exception is needed' }).max(2000),
    expiresAt: isoDateTime,
    signalIds: z.array(z.string().min(1)).min(1).optional(),
    maxLevel: ExceptionMaxLevelSchema.optional(),
  })
  .strict();
/** What a caller sends to request an exception (`expiresAt` is an ISO 8601 date-time). */
export type ExceptionRequest = z.input<typeof ExceptionRequestSchema>;
/** A validated exception request (entity ref canonical). */
export type ParsedExceptionRequest = z.output<typeof ExceptionRequestSchema>;

/** Body of `POST /v1/exceptions/{id}/approve|reject|revoke`. */
export const ExceptionDecisionSchema = z.object({ comment: z.string().max(2000).optional() }).strict();
export type ExceptionDecision = z.input<typeof ExceptionDecisionSchema>;

/** An exception as the backend stores and serves it. */
export interface RiskException {
  id: string;
  entityRef: string;
  environment: string;
  reason: string;
  requestedBy: string;
  status: ExceptionStatus;
  approvedBy?: string | null;
  expiresAt: string;
  signalIds?: string[] | null;
  maxLevel?: string | null;
  createdAt?: string;
  decidedBy?: string | null;
  decidedAt?: string | null;
  decisionComment?: string | null;
}
