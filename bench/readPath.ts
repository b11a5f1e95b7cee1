/**
 * Bench phase of issue 18 part 1: the read-only evaluations against the bare
 * `/.backstage/health/v1/readiness` of the same backend, each route loaded right
 * after a health load (its ratios are against that one: on a shared machine the
 * load changes between minutes) with the same connections, duration and service token, with the
 * visibility checks of the routes in place (`catalog.entity.read` per entity
 * through Backstage's permissions service). Every route answers from the gate's
 * cached inputs and records nothing: the phase counts decision and audit rows
 * before and after and fails if any was written.
 *
 * Rows: entity risk in one environment and in every environment
 * (`GET /v1/entities/{kind}/{namespace}/{name}/risk`, the entity card), the
 * analysis endpoint (`GET /v1/analysis`: Argo Rollouts' Web metric and the
 * OpenFeature provider, which calls it), and the org summary (`GET /v1/summary`).
 */
import type { Knex } from 'knex';
import { profileMarkdown, profiled, withProfileSummary, type ProfileSummary } from './profile';

export interface ReadLoad {
  requests: number;
  ok: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
}

export interface ReadPathRow {
  name: string;
  route: string;
  load: ReadLoad;
  /** The health load measured just before this route's (the machine's load changes from minute to minute). */
  health: ReadLoad;
  ratios: { p50: number; p99: number; rps: number };
  /** Where the time went, when a target was missed (a 5 s extra load under a CPU profile). */
  profile?: ProfileSummary;
}

export interface ReadPathResult {
  health: ReadLoad;
  rows: ReadPathRow[];
  rowsWritten: { decisions: number; auditRecords: number };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function countRows(knex: Knex, table: string): Promise<number> {
  if (!(await knex.schema.hasTable(table))) return 0;
  return Number((await knex(table).count({ n: '*' }).first())?.n ?? 0);
}

export async function readPathPhase(options: {
  knex: Knex;
  /** `http://127.0.0.1:<port>` of the backend. */
  base: string;
  authorization: string;
  /** Entity refs the load alternates over (the gate's sample). */
  refs: string[];
  common: Record<string, unknown>;
  runLoader: (spec: Record<string, unknown>) => Promise<ReadLoad>;
  log: (message: string) => void;
}): Promise<ReadPathResult> {
  const { knex, base, authorization, refs, common, runLoader, log } = options;
  const headers = { authorization };
  const riskUrl = (ref: string, query = '') => {
    const [kind, rest] = ref.split(':');
    const [namespace, name] = rest.split('/');
    return `${base}/api/runtime-risk/v1/entities/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/risk${query}`;
  };
  const routes: { name: string; route: string; urls: string[] }[] = [
    { name: 'entity risk, one environment', route: 'GET /api/runtime-risk/v1/entities/:kind/:namespace/:name/risk?environment=production', urls: refs.map(r => riskUrl(r, '?environment=production')) },
    { name: 'entity risk, every environment (entity card)', route: 'GET /api/runtime-risk/v1/entities/:kind/:namespace/:name/risk', urls: refs.map(r => riskUrl(r)) },
    {
      name: 'analysis (Argo Rollouts, OpenFeature provider)',
      route: 'GET /api/runtime-risk/v1/analysis?entityRef=&environment=production',
      urls: refs.map(r => `${base}/api/runtime-risk/v1/analysis?entityRef=${encodeURIComponent(r)}&environment=production`),
    },
    { name: 'org summary', route: 'GET /api/runtime-risk/v1/summary?environment=production', urls: [`${base}/api/runtime-risk/v1/summary?environment=production`] },
  ];
  // probe each route once (also warms the summary's snapshot, as a running portal has it)
  for (const r of routes) {
    const res = await fetch(r.urls[0], { headers });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${r.route} probe answered ${res.status}: ${text.slice(0, 300)}`);
  }
  // steady state, as a portal that has shown these entities before: one sequential pass over the sampled
  // entities in every environment puts each one's inputs in the gate's cache (the gate load above covered
  // only the production ones it reached on a loaded machine)
  for (const ref of new Set(refs)) {
    const res = await fetch(riskUrl(ref), { headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`warming ${ref}: HTTP ${res.status}`);
  }
  const before = { decisions: await countRows(knex, 'runtime_risk_decisions'), auditRecords: await countRows(knex, 'runtime_risk_audit_log') };
  const loadHealth = async () => {
    const h = await runLoader({ ...common, url: `${base}/.backstage/health/v1/readiness`, method: 'GET' });
    log(`read path: health ${JSON.stringify(h)}`);
    return h;
  };
  const rows: ReadPathRow[] = [];
  // RUNTIME_RISK_BENCH_READ_PROFILE=<dir>: a V8 CPU profile of the backend process per read route
  const profileDir = process.env.RUNTIME_RISK_BENCH_READ_PROFILE;
  for (const [i, r] of routes.entries()) {
    // health and route back to back: each ratio is against the health load just before it
    const health = await loadHealth();
    log(`read path: loading ${r.route}`);
    const load = await profiled(profileDir, `read-${i}`, () => runLoader({ ...common, urls: r.urls, method: 'GET', headers }), log);
    const ratios = { p50: round(load.p50 / health.p50), p99: round(load.p99 / health.p99), rps: round(load.rps / health.rps, 3) };
    log(`read path: ${r.name}: ${JSON.stringify(load)}; p50 ${ratios.p50}x, p99 ${ratios.p99}x health`);
    let profile: ProfileSummary | undefined;
    if (ratios.p50 > 1.5 || ratios.p99 > 2) {
      profile = (await withProfileSummary(() => runLoader({ ...common, durationMs: Math.min(5_000, Number(common.durationMs)), urls: r.urls, method: 'GET', headers }))).profile;
      log(`read path: ${r.name}: profile ${JSON.stringify(profile.shares)}`);
    }
    rows.push({ name: r.name, route: r.route, load, health, ratios, ...(profile ? { profile } : {}) });
  }
  const after = { decisions: await countRows(knex, 'runtime_risk_decisions'), auditRecords: await countRows(knex, 'runtime_risk_audit_log') };
  const rowsWritten = { decisions: after.decisions - before.decisions, auditRecords: after.auditRecords - before.auditRecords };
  if (rowsWritten.decisions !== 0 || rowsWritten.auditRecords !== 0) {
    throw new Error(`read routes wrote rows: ${JSON.stringify(rowsWritten)} (they must record nothing)`);
  }
  return { health: rows[0].health, rows, rowsWritten };
}

type Target = { name: string; target: string; measured: string; status: 'met' | 'missed' | 'not measured'; by: string };

/** Issue 18 part 1: p50 <= 1.5x and p99 <= 2x health, per read route. */
export function readPathTargets(r: ReadPathResult | undefined): Target[] {
  if (!r) return [];
  return r.rows.flatMap(row =>
    (
      [
        ['p50', row.ratios.p50, 1.5, row.load.p50, row.health.p50],
        ['p99', row.ratios.p99, 2, row.load.p99, row.health.p99],
      ] as const
    ).map(([what, ratio, max, ms, healthMs]) => ({
      // healthMs: the health load just before this route's
      name: `${row.name} ${what} vs bare health endpoint`,
      target: `<= ${max}x health ${what}`,
      measured: `${ratio}x (${ms} ms vs health ${healthMs} ms; ${row.load.rps} vs ${row.health.rps} req/s)`,
      status: ratio <= max ? ('met' as const) : ('missed' as const),
      by: ratio <= max ? `${round(max / ratio)}x margin` : `${round(ratio / max)}x over the target`,
    })),
  );
}

/** The markdown section of the phase. */
export function readPathMarkdown(r: ReadPathResult | undefined): string[] {
  if (!r) return [];
  const lines = ['## Read path (issue 18 part 1: same backend, same token, visibility checks in place, nothing recorded)', ''];
  lines.push('| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | p50 / health | p99 / health | statuses |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of r.rows) {
    const h = row.health;
    lines.push(`| GET /.backstage/health/v1/readiness (just before) | ${h.requests} | ${h.rps} | ${h.p50} | ${h.p90} | ${h.p99} | ${h.max} | 1 | 1 | ${JSON.stringify(h.statuses)} |`);
    const l = row.load;
    lines.push(`| ${row.route} | ${l.requests} | ${l.rps} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${row.ratios.p50}x | ${row.ratios.p99}x | ${JSON.stringify(l.statuses)} |`);
  }
  lines.push('');
  lines.push(`Rows written during the read phase: ${r.rowsWritten.decisions} decisions, ${r.rowsWritten.auditRecords} audit records.`);
  lines.push('');
  for (const row of r.rows) if (row.profile) lines.push(...profileMarkdown(`Where the time goes: ${row.route} (5 s extra load, targets missed)`, row.profile));
  return lines;
}
