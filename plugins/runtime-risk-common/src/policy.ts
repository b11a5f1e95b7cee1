import { z } from 'zod';

/** A Backstage HumanDuration-like object, e.g. `{ minutes: 15 }`. */
export const DurationSchema = z
  .object({
    years: z.number().nonnegative().optional(),
    months: z.number().nonnegative().optional(),
    weeks: z.number().nonnegative().optional(),
    days: z.number().nonnegative().optional(),
    hours: z.number().nonnegative().optional(),
    minutes: z.number().nonnegative().optional(),
    seconds: z.number().nonnegative().optional(),
    milliseconds: z.number().nonnegative().optional(),
  })
  .strict()
  .refine(d => Object.keys(d).length > 0, { message: 'must name at least one unit, e.g. { minutes: 15 }' });
export type Duration = z.infer<typeof DurationSchema>;

export function durationToMs(d: Duration): number {
  return (
    (d.years ?? 0) * 365 * 86400000 +
    (d.months ?? 0) * 30 * 86400000 +
    (d.weeks ?? 0) * 7 * 86400000 +
    (d.days ?? 0) * 86400000 +
    (d.hours ?? 0) * 3600000 +
    (d.minutes ?? 0) * 60000 +
    (d.seconds ?? 0) * 1000 +
    (d.milliseconds ?? 0)
  );
}

export const ACTIONS = ['proceed', 'approval_required', 'block'] as const;
export const ActionSchema = z.enum(ACTIONS);
export type Action = z.infer<typeof ActionSchema>;

export const FAILURE_ACTIONS = ['block', 'approval_required', 'proceed_with_warning'] as const;
export const FailureActionSchema = z.enum(FAILURE_ACTIONS);
export type FailureAction = z.infer<typeof FailureActionSchema>;

export const FAILURE_MODES = ['sourceUnavailable', 'signalsStale', 'uncorrelated', 'scoreUnavailable'] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export const EnvironmentPolicySchema = z
  .object({
    thresholds: z
      .object({ moderate: z.number().min(0).max(100), high: z.number().min(0).max(100) })
      .strict()
      .refine(t => t.moderate <= t.high, { message: 'moderate must be <= high', path: ['moderate'] }),
    actions: z
      .object({ low: ActionSchema, moderate: ActionSchema, high: ActionSchema })
      .strict(),
    maxSignalAge: DurationSchema,
    onFailure: z
      .object({
        sourceUnavailable: FailureActionSchema,
        signalsStale: FailureActionSchema,
        uncorrelated: FailureActionSchema,
        scoreUnavailable: FailureActionSchema,
      })
      .strict(),
    /** Longest an exception may last in this environment. */
    maxExceptionDuration: DurationSchema.optional(),
    /** How long an approval of a pending decision stays valid. */
    approvalTtl: DurationSchema.optional(),
  })
  .strict();
export type EnvironmentPolicy = z.infer<typeof EnvironmentPolicySchema>;

const severityRecord = <T extends z.ZodTypeAny>(t: T) =>
  z
    .object({
      informational: t.optional(),
      low: t.optional(),
      medium: t.optional(),
      high: t.optional(),
      critical: t.optional(),
    })
    .strict();

export const ScoringConfigSchema = z
  .object({
    severityWeights: severityRecord(z.number().min(0).max(100)).optional(),
    halfLife: severityRecord(DurationSchema).optional(),
  })
  .strict();

export const PolicyConfigSchema = z
  .object({
    id: z.string().min(1).default('default'),
    environments: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'environment names are letters, digits, - and _'), EnvironmentPolicySchema)
      .refine(e => Object.keys(e).length > 0, { message: 'at least one environment is required' }),
    scoring: ScoringConfigSchema.optional(),
  })
  .strict();
export type PolicyConfig = z.infer<typeof PolicyConfigSchema>;

export const DEFAULT_SEVERITY_WEIGHTS = { informational: 0, low: 10, medium: 35, high: 70, critical: 100 } as const;
export const DEFAULT_HALF_LIFE: Record<string, Duration> = {
  informational: { hours: 6 },
  low: { hours: 12 },
  medium: { hours: 24 },
  high: { hours: 72 },
  critical: { days: 7 },
};
