/**
 * Bench phase of issue 17 parts 4-5: a backtest of 100,000 stored decisions
 * (POST /v1/policy/backtest, target < 10 s) and the org summary
 * (GET /v1/summary, target < 300 ms at 10,000 entities), through the running
 * backend's HTTP API. Decisions are made by the gate first (or taken from the
 * load phase), then copied with new ids over the last 7 days up to the count.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { profiled } from './profile';
import { DEFAULT_POLICY_CONFIG } from '../plugins/runtime-risk-backend/src/engine';

export interface PolicySummaryResult {
  backtest: { decisions: number; seconds: number; total: number; changed: number; transitions: unknown };
  summary: { entities: number; coldMs: number; warmMs: number[]; warmMedianMs: number; rows: number };
}

/**
 * The default policy (DESIGN.md "Configuration") with production stricter:
 * moderate from 5, high from 20. Without `scoring`, so the backend fills in its
 * scoring defaults.
 */
const { scoring: _defaultScoring, ...DEFAULT_ENVIRONMENTS_POLICY } = DEFAULT_POLICY_CONFIG;
const STRICT_POLICY = {
  ...DEFAULT_ENVIRONMENTS_POLICY,
  id: 'bench-stricter',
  environments: {
    ...DEFAULT_POLICY_CONFIG.environments,
    production: { ...DEFAULT_POLICY_CONFIG.environments.production, thresholds: { moderate: 5, high: 20 } },
  },
};

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Copies stored decisions (new ids, times spread over the last 7 days) until the table holds `count` in that window. */
export async function fillDecisions(knex: Knex, count: number): Promise<number> {
  const weekAgo = Date.now() - 7 * 24 * 3600_000;
  const have = Number((await knex('runtime_risk_decisions').where('created_at', '>=', new Date(weekAgo).toISOString()).count({ n: '*' }).first())?.n ?? 0);
  if (have >= count) return have;
  const samples: Record<string, unknown>[] = await knex('runtime_risk_decisions').select().orderBy('seq', 'desc').limit(500);
  if (samples.length === 0) throw new Error('no decision to copy: call the gate first');
  const rows: Record<string, unknown>[] = [];
  const flush = async () => {
    if (rows.length) await knex.batchInsert('runtime_risk_decisions', rows.splice(0), 1000);
  };
  for (let i = have; i < count; i++) {
    const { seq: _seq, ...row } = samples[i % samples.length];
    rows.push({ ...row, id: randomUUID(), created_at: new Date(weekAgo + Math.floor(((i + 0.5) / count) * 7 * 24 * 3600_000)).toISOString(), status: 'final' });
    if (rows.length >= 5000) await flush();
  }
  await flush();
  return count;
}

export async function policySummaryPhase(options: {
  knex: Knex;
  /** `http://127.0.0.1:<port>` of the backend. */
  base: string;
  authorization: string;
  decisions: number;
  log: (message: string) => void;
}): Promise<PolicySummaryResult> {
  const { knex, base, authorization, log } = options;
  const headers = { 'content-type': 'application/json', authorization };
  const filled = await fillDecisions(knex, options.decisions);
  log(`policy backtest: ${filled} decisions in the last 7 days`);

  const t0 = performance.now();
  // RUNTIME_RISK_BENCH_BACKTEST_PROFILE=<dir>: a V8 CPU profile of the backend process during the backtest
  const res = await profiled(process.env.RUNTIME_RISK_BENCH_BACKTEST_PROFILE, 'backtest', () =>
    fetch(`${base}/api/runtime-risk/v1/policy/backtest`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ policy: STRICT_POLICY, since: '8d', limit: 50 }),
    }), log);
  const seconds = (performance.now() - t0) / 1000;
  const body = (await res.json()) as { total: number; changed: number; transitions: unknown; error?: unknown };
  if (res.status !== 200) throw new Error(`backtest answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  log(`policy backtest: ${body.total} decisions replayed in ${round(seconds, 2)} s, ${body.changed} would change (target < 10 s)`);

  const summaryOnce = async () => {
    const s = performance.now();
    const r = await fetch(`${base}/api/runtime-risk/v1/summary?environment=production`, { headers });
    const b = (await r.json()) as { entities?: { total: number }; topRiskyTotal?: number };
    if (r.status !== 200) throw new Error(`summary answered ${r.status}: ${JSON.stringify(b).slice(0, 300)}`);
    return { ms: performance.now() - s, body: b };
  };
  const cold = await summaryOnce();
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) warm.push(round((await summaryOnce()).ms, 1));
  const sorted = [...warm].sort((a, b) => a - b);
  const result: PolicySummaryResult = {
    backtest: { decisions: filled, seconds: round(seconds, 3), total: body.total, changed: body.changed, transitions: body.transitions },
    summary: {
      entities: cold.body.entities?.total ?? 0,
      coldMs: round(cold.ms, 1),
      warmMs: warm,
      warmMedianMs: sorted[Math.floor(sorted.length / 2)],
      rows: cold.body.topRiskyTotal ?? 0,
    },
  };
  log(
    `org summary: ${result.summary.entities} entities, first call ${result.summary.coldMs} ms (evaluates every entity), ` +
      `then median ${result.summary.warmMedianMs} ms (${warm.join(', ')} ms) (target < 300 ms)`,
  );
  return result;
}

/** The targets of issue 17: backtest of 100,000 decisions < 10 s; org summary < 300 ms at 10,000 entities. */
export function policySummaryTargets(
  r: PolicySummaryResult | undefined,
): { name: string; target: string; measured: string; status: 'met' | 'missed' | 'not measured'; by: string }[] {
  if (!r) return [];
  const backtestOk = r.backtest.seconds < 10;
  const summaryOk = r.summary.warmMedianMs < 300;
  return [
    {
      name: `policy backtest of ${r.backtest.decisions} stored decisions`,
      target: '< 10 s for 100,000 decisions',
      measured: `${r.backtest.seconds} s (${r.backtest.total} replayed, ${r.backtest.changed} changed)`,
      status: r.backtest.decisions < 100_000 ? 'not measured' : backtestOk ? 'met' : 'missed',
      by: backtestOk ? `${round(10 / r.backtest.seconds)}x margin` : `${round(r.backtest.seconds / 10)}x over the target`,
    },
    {
      name: `org summary at ${r.summary.entities} entities`,
      target: '< 300 ms at 10,000 entities',
      measured: `median ${r.summary.warmMedianMs} ms (first call of the process ${r.summary.coldMs} ms)`,
      status: r.summary.entities < 10_000 ? 'not measured' : summaryOk ? 'met' : 'missed',
      by: summaryOk ? `${round(300 / r.summary.warmMedianMs)}x margin` : `${round(r.summary.warmMedianMs / 300)}x over the target`,
    },
  ];
}
