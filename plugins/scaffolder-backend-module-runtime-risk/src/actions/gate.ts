import { randomUUID } from 'node:crypto';
import { InputError } from '@backstage/errors';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import type { BackstageCredentials, LoggerService } from '@backstage/backend-plugin-api';
import {
  ACTIONS,
  GateDecision,
  REASON_CODES,
  RISK_LEVELS,
  parseDuration as parseDurationMs,
} from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { RuntimeRiskGateError, RuntimeRiskGateService } from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** -common's parseDuration, failing with Backstage's InputError naming the input field. */
function parseDuration(value: string | number, field: string): number {
  return parseDurationMs(value, field, message => new InputError(message));
}

export const RUNTIME_RISK_GATE_ACTION_ID = 'runtime-risk:gate';

/** Options for {@link createRuntimeRiskGateAction}. */
export interface RuntimeRiskGateActionOptions {
  gate: RuntimeRiskGateService;
  /** Frontend base URL (`app.baseUrl`), for links to the decision and the task. */
  portalBaseUrl?: string;
}

type Outcome = 'proceed' | 'block' | 'pending' | 'expired' | 'approval_required';

/** What a decision means for the task: approved pending decisions proceed, rejected ones block. */
function outcomeOf(d: GateDecision): Outcome {
  if (d.status === 'approved') return 'proceed';
  if (d.status === 'rejected') return 'block';
  if (d.status === 'expired') return 'expired';
  if (d.decision === 'approval_required') {
    return d.status === 'pending' || d.status === undefined ? 'pending' : 'approval_required';
  }
  return d.decision;
}

function summarize(d: GateDecision): string {
  return d.reasons.map(r => r.message).join('; ') || 'no reason given';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Error('runtime-risk:gate was cancelled while waiting for approval'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('runtime-risk:gate was cancelled while waiting for approval'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Attempts of `POST /v1/gate` after a transient failure (same Idempotency-Key each time). */
export const GATE_RETRIES = 2;

/**
 * Asks the gate, retrying a transient failure (network, 5xx, 409 of a key still
 * being evaluated) up to {@link GATE_RETRIES} times with the same key.
 */
async function evaluateWithRetries(
  evaluate: () => Promise<GateDecision>,
  logger: LoggerService,
  signal?: AbortSignal,
): Promise<GateDecision> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await evaluate();
    } catch (e) {
      const busy = e instanceof RuntimeRiskGateError && e.statusCode === 409;
      if (attempt >= GATE_RETRIES || !(isTransient(e) || busy)) throw e;
      logger.warn(`runtime-risk gate call failed (${(e as Error).message}); retrying with the same Idempotency-Key`);
      await sleep(500 * 2 ** attempt, signal);
    }
  }
}

/** A failure worth retrying while waiting: the gate restarting or the network blinking. */
function isTransient(e: unknown): boolean {
  if (e instanceof RuntimeRiskGateError) return e.statusCode >= 500;
  return e instanceof TypeError; // fetch's network failures
}

/**
 * The `runtime-risk:gate` scaffolder action: asks the Runtime Risk gate whether
 * an entity may be deployed to an environment now. Fails the step on `block`;
 * on `approval_required` fails, or with `wait: true` waits for an approver.
 *
 * The gate is evaluated again whenever the step runs (no checkpoint): a gate
 * answers for "now", so a retried task must not reuse an old answer.
 */
export function createRuntimeRiskGateAction(options: RuntimeRiskGateActionOptions) {
  const { gate } = options;
  const portal = options.portalBaseUrl?.replace(/\/+$/, '');

  return createTemplateAction({
    id: RUNTIME_RISK_GATE_ACTION_ID,
    description:
      'Asks the Runtime Risk gate whether an entity may be deployed to an environment now, from live EDR signals. ' +
      'Fails the step on block; on approval_required fails or waits for approval (input `wait`).',
    supportsDryRun: true,
    examples: [
      {
        description: 'Gate a promotion to production, waiting up to 30 minutes for an approval',
        example: [
          'steps:',
          '  - id: gate',
          '    name: Runtime risk gate',
          '    action: runtime-risk:gate',
          '    input:',
          '      entityRef: component:default/payments',
          '      environment: production',
          '      wait: true',
          '      timeout: 30m',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        entityRef: z => z.string().min(1).describe('Entity to deploy, e.g. component:default/payments'),
        environment: z => z.string().min(1).describe('Target environment, e.g. production'),
        artifact: z => z.string().optional().describe('What is deployed (image digest, version); recorded with the decision'),
        dryRun: z =>
          z.boolean().optional().describe('Shadow mode: evaluate and record, never fail the step. Implied by a scaffolder dry run.'),
        wait: z =>
          z.boolean().optional().describe('On approval_required, wait for an approver instead of failing (default false)'),
        timeout: z =>
          z.union([z.string(), z.number()]).optional().describe('How long `wait` waits: 30m, 1h, or seconds (default 30m)'),
        pollInterval: z =>
          z.union([z.string(), z.number()]).optional().describe('How often `wait` polls the decision (default 10s)'),
      },
      output: {
        decision: z =>
          z.enum(ACTIONS).describe('The effective decision (an approved request is proceed)'),
        decisionId: z => z.string().describe('Id of the recorded decision'),
        riskLevel: z => z.enum(RISK_LEVELS).describe('low, moderate, high or unknown (uncorrelated)'),
        score: z => z.number().nullable().describe('Risk score 0-100, null when it could not be computed'),
        status: z => z.string().describe('final, pending, approved, rejected or expired'),
        reasons: z =>
          z
            .array(z.object({ code: z.enum(REASON_CODES), message: z.string(), signalIds: z.array(z.string()) }))
            .describe('Why the gate decided so'),
        decisionUrl: z => z.string().optional().describe('Link to the decision in the portal'),
      },
    },
    async handler(ctx) {
      const input = ctx.input;
      const dryRun = Boolean(ctx.isDryRun || input.dryRun);
      const timeoutMs = parseDuration(input.timeout ?? '30m', 'timeout');
      const pollMs = parseDuration(input.pollInterval ?? '10s', 'pollInterval');
      if (pollMs <= 0) throw new InputError('pollInterval: must be greater than zero');
      const credentials = await ctx.getInitiatorCredentials();

      // One key per run of the step, reused by its retries: a retry after a lost
      // answer gets the decision the gate already recorded instead of a second one.
      const idempotencyKey = `scaffolder:${ctx.task.id}:${randomUUID()}`;
      const gateRequest = {
          entityRef: input.entityRef,
          environment: input.environment,
          ...(input.artifact ? { artifact: input.artifact } : {}),
          pipeline: {
            provider: 'backstage-scaffolder',
            runId: ctx.task.id,
            ...(portal ? { url: `${portal}/create/tasks/${encodeURIComponent(ctx.task.id)}` } : {}),
          },
          dryRun,
      };
      let decision = await evaluateWithRetries(() =>
        gate.evaluate(gateRequest, { credentials, signal: ctx.signal, idempotencyKey }),
        ctx.logger,
        ctx.signal,
      );
      const decisionUrl = portal ? `${portal}/runtime-risk/decisions/${encodeURIComponent(decision.decisionId)}` : undefined;
      logDecision(ctx.logger, decision, decisionUrl);

      if (!dryRun && input.wait && outcomeOf(decision) === 'pending') {
        decision = await waitForApproval({ gate, decision, credentials, timeoutMs, pollMs, logger: ctx.logger, signal: ctx.signal });
      }

      const outcome = outcomeOf(decision);
      const effective = outcome === 'proceed' ? 'proceed' : outcome === 'block' ? 'block' : decision.decision;
      ctx.output('decision', effective);
      ctx.output('decisionId', decision.decisionId);
      ctx.output('riskLevel', decision.riskLevel);
      ctx.output('score', decision.score);
      ctx.output('status', decision.status ?? 'final');
      ctx.output(
        'reasons',
        decision.reasons.map(r => ({ code: r.code, message: r.message, signalIds: r.signalIds })),
      );
      if (decisionUrl) ctx.output('decisionUrl', decisionUrl);

      const what = `${decision.entityRef} -> ${decision.environment}`;
      if (dryRun) {
        ctx.logger.info(
          `runtime-risk:gate dry run, not enforced${decision.wouldHaveBeen ? `: the gate would have answered ${decision.wouldHaveBeen}` : ''}`,
        );
        return;
      }
      switch (outcome) {
        case 'proceed':
          return;
        case 'block':
          throw new Error(
            `Runtime Risk gate ${decision.status === 'rejected' ? 'approval was rejected' : 'blocked'} ${what}: ` +
              `${summarize(decision)} (decision ${decision.decisionId})`,
          );
        case 'expired':
          throw new Error(`Runtime Risk gate approval for ${what} expired (decision ${decision.decisionId})`);
        default:
          throw new Error(
            input.wait
              ? `Runtime Risk gate approval for ${what} was not granted within ${input.timeout ?? '30m'} (decision ${decision.decisionId})`
              : `Runtime Risk gate requires approval for ${what}: ${summarize(decision)}. ` +
                  `Have it approved${decisionUrl ? ` at ${decisionUrl}` : ''} and run again, or set wait: true (decision ${decision.decisionId})`,
          );
      }
    },
  });
}

function logDecision(logger: LoggerService, d: GateDecision, url: string | undefined) {
  const score = d.score === null ? 'n/a' : String(d.score);
  logger.info(
    `runtime-risk gate: ${d.decision}${d.status && d.status !== 'final' ? ` (${d.status})` : ''} for ${d.entityRef} -> ${d.environment}; ` +
      `risk level ${d.riskLevel}, score ${score}, decision ${d.decisionId}`,
  );
  for (const r of d.reasons) {
    logger.info(`  - ${r.code}: ${r.message}${r.signalIds.length ? ` [signals: ${r.signalIds.join(', ')}]` : ''}`);
  }
  if (url) logger.info(`  decision: ${url}`);
}

async function waitForApproval(options: {
  gate: RuntimeRiskGateService;
  decision: GateDecision;
  credentials: BackstageCredentials;
  timeoutMs: number;
  pollMs: number;
  logger: LoggerService;
  signal?: AbortSignal;
}): Promise<GateDecision> {
  const { gate, credentials, timeoutMs, pollMs, logger, signal } = options;
  let decision = options.decision;
  const deadline = Date.now() + timeoutMs;
  logger.info(`Waiting up to ${Math.round(timeoutMs / 1000)}s for approval of decision ${decision.decisionId}`);
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return decision;
    await sleep(Math.min(pollMs, remaining), signal);
    try {
      decision = await gate.getDecision(decision.decisionId, { credentials, signal });
    } catch (e) {
      if (!isTransient(e)) throw e;
      logger.warn(`Polling decision ${decision.decisionId} failed, will retry: ${(e as Error).message}`);
      continue;
    }
    if (outcomeOf(decision) !== 'pending') {
      logger.info(`Decision ${decision.decisionId} is now ${decision.status ?? decision.decision}`);
      logDecision(logger, decision, undefined);
      return decision;
    }
  }
}
