/**
 * `npm run bench`: performance harness of the runtime-risk backend on PostgreSQL.
 *
 * Phases (each bounded by a count and a time cap):
 *  1. create a scratch PostgreSQL database, seed entities / hosts / signals (seeded RNG);
 *  2. correlation index rebuild at 1k and at the full entity count;
 *  3. start the backend (runtime-risk plugin, mock catalog with the seeded entities) and load
 *     `POST /api/runtime-risk/v1/gate` and `/.backstage/health/v1/readiness` with N connections;
 *  4. ingestion from a paged fake Falcon API (bench/fakeFalcon.mjs, its own process; the real
 *     CrowdStrike adapter) into PostgreSQL,
 *     then an incremental sync of new alerts;
 *  5. write bench/out/results.json and bench/out/results.md (ignored by git); drop the scratch database.
 *
 * Run `npm run bench -- --help` for the flags.
 */
import { policySummaryPhase, policySummaryTargets, type PolicySummaryResult } from './policySummary';
import { readPathMarkdown, readPathPhase, readPathTargets, type ReadPathResult } from './readPath';
import { permissionsServiceFactory } from '@backstage/backend-defaults/permissions';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import knexFactory, { type Knex } from 'knex';
import { mockCredentials, mockServices, startTestBackend, type TestBackend } from '@backstage/backend-test-utils';
import {
  coreServices,
  createBackendModule,
  createServiceFactory,
  type LoggerService,
  type SchedulerService,
  type SchedulerServiceTaskInvocationDefinition,
  type SchedulerServiceTaskScheduleDefinition,
} from '@backstage/backend-plugin-api';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Entity } from '@backstage/catalog-model';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { runtimeRiskPlugin } from '../plugins/runtime-risk-backend/src/plugin';
import { DatabaseRuntimeRiskStore } from '../plugins/runtime-risk-backend/src/store/DatabaseRuntimeRiskStore';
import { IngestionRunner } from '../plugins/runtime-risk-backend/src/ingest/IngestionRunner';
import { validateSignals } from '../plugins/runtime-risk-backend/src/ingest/validate';
import { EntityIndexer } from '../plugins/runtime-risk-backend/src/correlate/EntityIndexer';
import { MemoryPullSource } from '../plugins/runtime-risk-backend/src/testUtils/fixtures';
import { RiskService } from '../plugins/runtime-risk-backend/src/gate/RiskService';
import { CachedGateReads } from '../plugins/runtime-risk-backend/src/gate/GateReads';
import { CacheManager } from '@backstage/backend-defaults/cache';
import { readPolicyConfig } from '../plugins/runtime-risk-backend/src/engine';
import type { RuntimeRiskStore } from '../plugins/runtime-risk-backend/src/store/types';
import { ConfigReader } from '@backstage/config';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import type { PullSignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { CrowdStrikeSignalSource } from '../plugins/runtime-risk-backend-module-crowdstrike/src/CrowdStrikeSignalSource';
import { seededRandom } from '../plugins/runtime-risk-backend/src/faults/helpers';
import { parseEntityRef } from '@backstage/catalog-model';
import techInsightsPlugin from '@backstage-community/plugin-tech-insights-backend';
import techInsightsJsonRulesEngineModule from '@backstage-community/plugin-tech-insights-backend-module-jsonfc';
import { techInsightsFactRetrieversExtensionPoint, type FactRetriever } from '@backstage-community/plugin-tech-insights-node';
import { profileMarkdown, profiled, withProfileSummary, type ProfileSummary } from './profile';

// ---------------------------------------------------------------- options

interface Options {
  entities: number;
  hosts: number;
  signals: number;
  alerts: number;
  incremental: number;
  connections: number;
  durationS: number;
  warmupS: number;
  maxRequests: number;
  seed: number;
  pg: string;
  seedTimeoutS: number;
  keepDb: boolean;
  replicas: boolean;
  out: string;
}

const DEFAULTS: Options = {
  entities: 10_000,
  hosts: 50_000,
  signals: 200_000,
  alerts: 20_000,
  incremental: 1_000,
  connections: 100,
  durationS: 15,
  warmupS: 3,
  maxRequests: 200_000,
  seed: 42,
  pg: process.env.RUNTIME_RISK_BENCH_PG ?? 'postgresql://postgres@127.0.0.1:5432',
  seedTimeoutS: 150,
  keepDb: false,
  replicas: true,
  out: path.resolve(__dirname, '..', 'out'), // bench.cjs runs from bench/.out/
};

const QUICK: Partial<Options> = { entities: 1_000, hosts: 5_000, signals: 20_000, alerts: 5_000, durationS: 5, warmupS: 1 };

const HELP = `npm run bench -- [flags]
  --quick                 scaled down (1k entities, 5k hosts, 20k signals, 5k alerts, 5 s load phases)
  --entities N            catalog entities (default ${DEFAULTS.entities})
  --hosts N               hosts named by the entities (default ${DEFAULTS.hosts})
  --signals N             stored signals (default ${DEFAULTS.signals})
  --alerts N              alerts served by the fake Falcon API for the full sync (default ${DEFAULTS.alerts})
  --incremental N         new alerts for the incremental sync (default ${DEFAULTS.incremental})
  --connections N         concurrent connections of the load generator (default ${DEFAULTS.connections})
  --duration S            seconds per load phase, after a warm-up (default ${DEFAULTS.durationS})
  --warmup S              warm-up seconds per load phase (default ${DEFAULTS.warmupS})
  --max-requests N        request cap per load phase (default ${DEFAULTS.maxRequests})
  --seed-timeout S        time cap of seeding; the seeded count is reported (default ${DEFAULTS.seedTimeoutS})
  --seed N                PRNG seed (default ${DEFAULTS.seed})
  --pg URL                PostgreSQL server (default ${DEFAULTS.pg}; env RUNTIME_RISK_BENCH_PG)
  --out DIR               write DIR/results.json and DIR/results.md (default bench/out/, ignored by git)
  --no-replicas           skip the two-replica phase
  --keep-db               keep the scratch database
  --profile               write a V8 CPU profile to bench/.out/`;

function parseArgs(argv: string[]): Options {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const o: Options = { ...DEFAULTS, ...(argv.includes('--quick') ? QUICK : {}) };
  const num = (flag: string, key: keyof Options) => {
    const i = argv.indexOf(flag);
    if (i < 0) return;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${flag}: expected a non-negative number, got '${argv[i + 1]}'`);
    (o as unknown as Record<string, number>)[key] = v;
  };
  num('--entities', 'entities');
  num('--hosts', 'hosts');
  num('--signals', 'signals');
  num('--alerts', 'alerts');
  num('--incremental', 'incremental');
  num('--connections', 'connections');
  num('--duration', 'durationS');
  num('--warmup', 'warmupS');
  num('--max-requests', 'maxRequests');
  num('--seed-timeout', 'seedTimeoutS');
  num('--seed', 'seed');
  const out = argv.indexOf('--out');
  if (out >= 0) o.out = path.resolve(argv[out + 1]);
  const pg = argv.indexOf('--pg');
  if (pg >= 0) o.pg = argv[pg + 1];
  o.keepDb = argv.includes('--keep-db');
  o.replicas = !argv.includes('--no-replicas');
  if (o.entities < 1) throw new Error('--entities: at least 1');
  return o;
}

// ---------------------------------------------------------------- helpers

const log = (msg: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** A logger that drops debug/info (the bench prints its own progress) and counts warnings. */
function quietLogger(counter = { warnings: 0 }): LoggerService {
  const logger: LoggerService = {
    error: (m: string) => log(`error: ${m}`),
    warn: () => {
      counter.warnings++;
    },
    info: () => {},
    debug: () => {},
    child: () => logger,
  };
  return logger;
}

async function timed<X>(fn: () => Promise<X>): Promise<{ value: X; seconds: number }> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/** Wraps methods of an object so that the time spent in each is summed (ms) into `totals`. */
function withTimings<T extends object>(target: T, methods: (keyof T & string)[], totals: Record<string, number>): T {
  const wrapped: T = Object.create(target);
  for (const m of methods) {
    const original = (target[m] as unknown as (...a: unknown[]) => Promise<unknown>).bind(target);
    totals[m] = 0;
    (wrapped as Record<string, unknown>)[m] = async (...args: unknown[]) => {
      const t = process.hrtime.bigint();
      try {
        return await original(...args);
      } finally {
        totals[m] += Number(process.hrtime.bigint() - t) / 1e6;
      }
    };
  }
  return wrapped;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]) : null;
};

// ---------------------------------------------------------------- data

const hostName = (h: number) => `h-${h}`;
const entityName = (e: number) => `svc-${e}`;

/** Entities with `runtime-risk.io/hosts`: entity e names hosts e, e+E, e+2E, ... (every host belongs to one entity). */
function makeEntities(count: number, hosts: number): Entity[] {
  const entities: Entity[] = [];
  for (let e = 0; e < count; e++) {
    const names: string[] = [];
    for (let h = e; h < hosts; h += count) names.push(hostName(h));
    entities.push({
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: entityName(e), namespace: 'default', annotations: names.length ? { 'runtime-risk.io/hosts': names.join(',') } : {} },
      spec: { type: 'service', lifecycle: 'production', owner: `team-${e % 50}`, system: `system-${e % 200}` },
    });
  }
  return entities;
}

/** Seeded signals are stored with a `fetchedAt` this much before the seeding (see the seeding phase). */
const SEED_FETCHED_EARLIER_MS = 3600_000;

const SEVERITIES = ['informational', 'low', 'low', 'medium', 'medium', 'high', 'critical'] as const;
const STATUSES = ['active', 'active', 'resolved', 'resolved', 'resolved', 'false_positive'] as const;

function makeSignal(i: number, rand: () => number, hosts: number, now: number): SignalInput {
  // 90 % on catalog hosts, 10 % on hosts no entity names
  const onKnown = rand() < 0.9;
  const host = onKnown ? hostName(Math.floor(rand() * hosts)) : `stray-${Math.floor(rand() * hosts)}`;
  const lastSeen = new Date(now - Math.floor(rand() * 7 * 24 * 3600_000)).toISOString();
  return {
    sourceId: `sig-${i}`,
    kind: 'detection',
    severity: SEVERITIES[Math.floor(rand() * SEVERITIES.length)],
    confidence: round(0.3 + rand() * 0.7),
    status: STATUSES[Math.floor(rand() * STATUSES.length)],
    title: `Detection ${i}`,
    tactics: ['Execution'],
    techniques: ['T1059'],
    asset: {
      hostname: `${host}.prod.example.com`,
      deviceId: `dev-${i % 100_000}`,
      ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
      macs: [],
    },
    firstSeenAt: lastSeen,
    lastSeenAt: lastSeen,
  };
}

// ---------------------------------------------------------------- backend

type RecordedTask = SchedulerServiceTaskScheduleDefinition & SchedulerServiceTaskInvocationDefinition;

/** A scheduler that records tasks and never runs them (the bench drives ingestion, correlation and fact retrieval itself). */
function recordingScheduler() {
  const tasks: RecordedTask[] = [];
  const scheduler: SchedulerService = {
    scheduleTask: async task => {
      tasks.push(task);
    },
    createScheduledTaskRunner: () => ({ run: async () => {} }),
    getScheduledTasks: async () => [],
    triggerTask: async () => {},
    cancelTask: async () => {},
  };
  return { tasks, factory: createServiceFactory({ service: coreServices.scheduler, deps: {}, factory: () => scheduler }) };
}

// ---------------------------------------------------------------- Tech Insights

/** The fact retriever and check of the Tech Insights comparison (see docs/performance.md). */
const TECH_INSIGHTS_RETRIEVER = 'runtimeRiskDetectionsFactRetriever';
const TECH_INSIGHTS_CHECK = 'noActiveHighOrCriticalDetections';

/**
 * What a Tech Insights user would store to check an entity's runtime risk: per
 * catalog entity, its correlated hosts and the active (high/critical) detections on
 * them. Computed in one query from the runtime-risk tables of the bench database (a
 * real retriever would call the runtime-risk API; the check run never calls the
 * retriever, it reads the stored facts).
 */
/**
 * Bounds of the retriever's query: over 10,000 entities only the load phase's sampled
 * entities get facts (the one query over every entity ran for more than 13 minutes at
 * 50,000 entities, 250,000 hosts and 400,000 signals), and a statement timeout.
 */
interface FactScope {
  refs?: string[];
  timeoutMs: number;
}

function runtimeRiskFactRetriever(knex: Knex, scope: FactScope): FactRetriever {
  return {
    id: TECH_INSIGHTS_RETRIEVER,
    version: '0.1.0',
    title: 'Runtime risk detections',
    description: 'Active EDR detections on the hosts correlated with the entity',
    entityFilter: [{ kind: 'component' }],
    schema: {
      correlatedHosts: { type: 'integer', description: 'Hosts correlated with the entity' },
      activeDetections: { type: 'integer', description: 'Active detections on those hosts' },
      activeHighOrCriticalDetections: { type: 'integer', description: 'Active high or critical detections on those hosts' },
    },
    handler: async () => {
      type FactRow = { entity_ref: string; hosts: string | number; active: string | number; severe: string | number };
      const query = (db: Knex): Promise<FactRow[]> => db('runtime_risk_entities as e')
        .leftJoin('runtime_risk_entity_hosts as h', 'h.entity_ref', 'e.entity_ref')
        .leftJoin('runtime_risk_signal_identifiers as i', 'i.value', 'h.value')
        .leftJoin('runtime_risk_signals as s', join => {
          join.on('s.id', '=', 'i.signal_id').andOnVal('s.status', '=', 'active');
        })
        .groupBy('e.entity_ref')
        .select(
          'e.entity_ref',
          knex.raw('count(distinct h.value) as hosts'),
          knex.raw('count(distinct s.id) as active'),
          knex.raw("count(distinct case when s.severity in ('high', 'critical') then s.id end) as severe"),
        )
        .modify(q => {
          if (scope.refs) q.whereIn('e.entity_ref', scope.refs);
        });
      const rows = isPostgresKnex(knex)
        ? await knex.transaction(async tx => {
            await tx.raw(`SET LOCAL statement_timeout = ${Math.floor(scope.timeoutMs)}`);
            return query(tx);
          })
        : await query(knex);
      return rows.map(r => {
        const { kind, namespace, name } = parseEntityRef(r.entity_ref);
        return {
          entity: { kind, namespace, name },
          facts: { correlatedHosts: Number(r.hosts), activeDetections: Number(r.active), activeHighOrCriticalDetections: Number(r.severe) },
        };
      });
    },
  };
}

/** Config of the Tech Insights backend: the retriever (never run by the scheduler here) and one json-rules-engine check. */
const techInsightsConfig = {
  factRetrievers: { [TECH_INSIGHTS_RETRIEVER]: { cadence: '0 0 * * *' } },
  factChecker: {
    checks: {
      [TECH_INSIGHTS_CHECK]: {
        type: 'json-rules-engine',
        name: 'No active high or critical detections',
        description: 'No active high or critical EDR detection on any host of the entity',
        factIds: [TECH_INSIGHTS_RETRIEVER],
        rule: { conditions: { all: [{ fact: 'activeHighOrCriticalDetections', operator: 'equal', value: 0 }] } },
      },
    },
  },
};

// ---------------------------------------------------------------- backend (gate + Tech Insights)

/**
 * One backend: the runtime-risk plugin on the bench database, and the community
 * Tech Insights backend (json-rules-engine fact checker, the bench's fact retriever)
 * on a database of its own (as every plugin in a Backstage backend; both plugins
 * use knex's default migration table).
 */
async function startBenchBackend(
  knex: Knex,
  techInsightsKnex: Knex,
  entities: Entity[],
  sourceId: string,
  factScope: FactScope,
): Promise<{ backend: TestBackend; tasks: RecordedTask[] }> {
  const sourcesModule = createBackendModule({
    pluginId: 'runtime-risk',
    moduleId: 'bench-sources',
    register(env) {
      env.registerInit({
        deps: { sources: runtimeRiskSignalSourcesExtensionPoint },
        async init({ sources }) {
          // the seeded signals' source, idle: the bench never runs its task
          sources.addSignalSource(new MemoryPullSource(sourceId));
        },
      });
    },
  });
  const factsModule = createBackendModule({
    pluginId: 'tech-insights',
    moduleId: 'bench-runtime-risk-facts',
    register(env) {
      env.registerInit({
        deps: { retrievers: techInsightsFactRetrieversExtensionPoint },
        async init({ retrievers }) {
          retrievers.addFactRetrievers({ [TECH_INSIGHTS_RETRIEVER]: runtimeRiskFactRetriever(knex, factScope) });
        },
      });
    },
  });
  const scheduler = recordingScheduler();
  const backend = await startTestBackend({
    features: [
      runtimeRiskPlugin,
      sourcesModule,
      techInsightsPlugin,
      techInsightsJsonRulesEngineModule,
      factsModule,
      catalogServiceMock.factory({ entities }),
      createServiceFactory({
        service: coreServices.database,
        deps: { plugin: coreServices.pluginMetadata },
        factory: ({ plugin }) => mockServices.database({ knex: plugin.getId() === 'tech-insights' ? techInsightsKnex : knex }),
      }),
      // Backstage's own permissions service (not the allow-all mock): the routes' visibility checks
      // (catalog.entity.read per entity) are asked of it; a service token is decided by its access restrictions
      permissionsServiceFactory,
      mockServices.rootConfig.factory({
        data: {
          permission: { enabled: true },
          runtimeRisk: { ingestion: { frequency: { hours: 1 } }, correlation: { frequency: { hours: 1 } } },
          techInsights: techInsightsConfig,
        },
      }),
      mockServices.rootLogger.factory({ level: 'error' }),
      scheduler.factory,
    ],
  });
  return { backend, tasks: scheduler.tasks };
}

// ---------------------------------------------------------------- load

/**
 * Counts the statements `knex` sends (by their first words) until `stop`:
 * what one request costs the database, and how many round trips it waits for.
 */
function countStatements(knex: Knex) {
  const counts = new Map<string, number>();
  const onQuery = (q: { sql?: string }) => {
    const kind = String(q.sql ?? '').replace(/\s+/g, ' ').trim().split(' ').slice(0, 4).join(' ').replace(/"/g, '').slice(0, 60);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  };
  knex.on('query', onQuery);
  return {
    stop: () => knex.removeListener('query', onQuery),
    perRequest: (requests: number) =>
      Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => [k, round(n / Math.max(1, requests), 3)])),
  };
}

interface LoadResult {
  requests: number;
  ok: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
}

function runLoader(spec: Record<string, unknown>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'loader.mjs'), JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', d => {
      out += String(d);
    });
    child.on('error', reject);
    child.on('exit', code => {
      if (code !== 0) reject(new Error(`loader exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoadResult);
    });
  });
}

// ---------------------------------------------------------------- fake Falcon

interface FakeFalcon {
  url: string;
  /** Adds alerts (in `updated_timestamp` order) to what the fake API serves. */
  add(alerts: Record<string, unknown>[]): Promise<void>;
  /** Vendor API requests the fake received so far. */
  requests(): Promise<number>;
  /** Process id of the fake (its CPU time is the vendor's, not ours). */
  pid?: number;
  close(): Promise<void>;
}

function falconAlert(n: number, rand: () => number, hosts: number, at: number): Record<string, unknown> {
  const host = Math.floor(rand() * hosts);
  const ts = new Date(at).toISOString();
  return {
    composite_id: `cid:ind:dev${host}:alert${n}`,
    severity: [10, 30, 50, 70, 90][Math.floor(rand() * 5)],
    confidence: 50 + Math.floor(rand() * 50),
    status: rand() < 0.7 ? 'new' : 'closed',
    display_name: `Alert ${n}`,
    description: 'Suspicious process',
    mitre_attack: [{ tactic: 'Execution', tactic_id: 'TA0002', technique: 'PowerShell', technique_id: 'T1059.001' }],
    created_timestamp: ts,
    updated_timestamp: ts,
    device: {
      device_id: `dev${host}`,
      hostname: hostName(host).toUpperCase(),
      machine_domain: 'prod.example.com',
      local_ip: `10.1.${(host >> 8) & 255}.${host & 255}`,
    },
  };
}

/**
 * The Falcon endpoints the adapter calls, served by bench/fakeFalcon.mjs in its own
 * process (a real vendor is remote: its HTTP and JSON work is not ours). The bench
 * generates the seeded alerts and posts them to the fake's `/_bench/alerts`.
 */
async function startFakeFalcon(): Promise<FakeFalcon> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'fakeFalcon.mjs'), 'bench', 'bench-secret'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', code => reject(new Error(`fake Falcon exited with ${code}`)));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const line = out.split('\n').find(l => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const admin = async (method: string, route: string, body?: string) => {
    const res = await fetch(`${url}${route}`, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
    if (!res.ok) throw new Error(`fake Falcon ${method} ${route}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, number>;
  };
  return {
    url,
    pid: child.pid,
    async add(alerts) {
      await admin('POST', '/_bench/alerts', JSON.stringify(alerts));
    },
    requests: async () => (await admin('GET', '/_bench/stats')).requests,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise(resolve => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------------------------------------------------------------- where ingestion's time goes

/** CPU seconds (user + system) of the given processes so far, from /proc (Linux); undefined elsewhere. */
function processCpuSeconds(pids: number[]): number | undefined {
  let ticks = 0;
  try {
    for (const pid of pids) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // the process ended meanwhile (a PostgreSQL backend of a closed connection)
      }
    }
  } catch {
    return undefined;
  }
  return ticks / 100; // USER_HZ
}

/** The PostgreSQL server's processes on this machine (the bench's database server is local). */
function postgresPids(): number[] {
  try {
    return fs
      .readdirSync('/proc')
      .filter(d => /^\d+$/.test(d))
      .filter(d => {
        try {
          return fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres';
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Where ingestion's time goes (when it misses 20,000/s): one more sync of 5,000 new alerts,
 * with the CPU each party used (this process: adapter, runner, store, driver; PostgreSQL's
 * server processes; the fake vendor's process) and a CPU profile of this process. On two
 * cores the CPU-seconds per 20,000 alerts bound the rate from below.
 */
async function ingestionProfile(
  runner: IngestionRunner,
  source: PullSignalSource,
  falcon: FakeFalcon,
  rand: () => number,
  o: Options,
  at: number,
  log: (m: string) => void,
) {
  const alerts = 5_000;
  await falcon.add(Array.from({ length: alerts }, (_, n) => falconAlert(o.alerts + o.incremental + n, rand, o.hosts, at + n * 1000)));
  const pg = postgresPids();
  const vendor = falcon.pid ? [falcon.pid] : [];
  const pg0 = processCpuSeconds(pg);
  const vendor0 = processCpuSeconds(vendor);
  const node0 = process.cpuUsage();
  const started = performance.now();
  const { result, profile } = await withProfileSummary(() => runner.run(source));
  const seconds = (performance.now() - started) / 1000;
  const node = process.cpuUsage(node0);
  const pg1 = processCpuSeconds(pg);
  const vendor1 = processCpuSeconds(vendor);
  const per20k = (x: number | undefined) => (x === undefined ? undefined : round((x * 20_000) / Math.max(1, result.stored), 2));
  const cpu = {
    node: per20k((node.user + node.system) / 1e6),
    postgres: pg0 === undefined || pg1 === undefined ? undefined : per20k(pg1 - pg0),
    vendor: vendor0 === undefined || vendor1 === undefined ? undefined : per20k(vendor1 - vendor0),
  };
  const total = (cpu.node ?? 0) + (cpu.postgres ?? 0) + (cpu.vendor ?? 0);
  const cores = os.cpus().length;
  const out = {
    alerts,
    stored: result.stored,
    seconds: round(seconds, 3),
    cpuSecondsPer20000: cpu,
    // every party's CPU spread perfectly over every core: the fastest this machine could go
    ceilingPerSecond: total > 0 ? Math.round((20_000 * cores) / total) : undefined,
    cores,
    profile,
  };
  log(`ingestion: where the time goes ${JSON.stringify({ ...out, profile: profile.shares })}`);
  return out;
}

// ---------------------------------------------------------------- two replicas

interface ReplicaResult {
  entities: number;
  signals: number;
  one: LoadResult;
  two: LoadResult;
  throughputRatio: number;
  ingestion: { frequencySeconds: number; runs: { replica: string; at: string }[]; perReplica: Record<string, number>; minGapSeconds: number | null; overlapping: number; exactlyOnePerTick: boolean };
}

/**
 * Two backend replicas (each with its own connection pool and the real,
 * database-coordinated Backstage scheduler) on one PostgreSQL database: gate
 * throughput with one replica, then round-robin over both, and which replica ran
 * each tick of the global ingestion task. Runs on its own small database so that
 * the correlation task each replica schedules at start-up stays short.
 */
async function replicaPhase(o: Options, rand: () => number, admin: Knex, dbName: string): Promise<ReplicaResult> {
  const FREQUENCY_S = 5;
  const entityCount = Math.min(o.entities, 1000);
  const hosts = entityCount * 5;
  const signalCount = Math.min(o.signals, 10_000);
  await admin.raw(`create database ${dbName}`);
  const conn = `${o.pg.replace(/\/$/, '')}/${dbName}`;
  const knexes: Knex[] = [knexFactory({ client: 'pg', connection: conn, pool: { min: 1, max: 10 } })];
  const backends: TestBackend[] = [];
  try {
    const logger = quietLogger();
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex: knexes[0] }) });
    const now = Date.now();
    for (let n = 0; n < signalCount; n += 1000) {
      const inputs = Array.from({ length: Math.min(1000, signalCount - n) }, (_, k) => makeSignal(n + k, rand, hosts, now));
      const at = new Date().toISOString();
      const { signals } = validateSignals({ sourceId: 'edr', inputs, fetchedAt: at, logger });
      await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals, cursor: null, at });
    }
    const entities = makeEntities(entityCount, hosts);
    await new EntityIndexer({ catalog: catalogServiceMock({ entities }), auth: mockServices.auth(), store, logger }).rebuild();

    const runs: { replica: string; at: number }[] = [];
    const start = async (replica: string) => {
      const knex = knexFactory({ client: 'pg', connection: conn, pool: { min: 1, max: 10 } });
      knexes.push(knex);
      const source: PullSignalSource = {
        id: 'edr',
        type: 'memory',
        mode: 'pull',
        fetch: async ({ cursor }) => {
          runs.push({ replica, at: Date.now() });
          return { signals: [], cursor, hasMore: false };
        },
      };
      const backend = await startTestBackend({
        features: [
          runtimeRiskPlugin,
          createBackendModule({
            pluginId: 'runtime-risk',
            moduleId: `bench-replica-${replica}`,
            register(env) {
              env.registerInit({
                deps: { sources: runtimeRiskSignalSourcesExtensionPoint },
                async init({ sources }) {
                  sources.addSignalSource(source);
                },
              });
            },
          }),
          catalogServiceMock.factory({ entities }),
          mockServices.database.factory({ knex }),
          mockServices.rootConfig.factory({
            data: { runtimeRisk: { ingestion: { frequency: { seconds: FREQUENCY_S } }, correlation: { frequency: { hours: 1 } } } },
          }),
          mockServices.rootLogger.factory({ level: 'error' }),
          schedulerServiceFactory,
        ],
      });
      backends.push(backend);
      return `http://127.0.0.1:${(backend.server.address() as AddressInfo).port}`;
    };

    const refs = Array.from({ length: 200 }, () => `component:default/${entityName(Math.floor(rand() * entityCount))}`);
    const gateSpec = {
      connections: o.connections,
      durationMs: o.durationS * 1000,
      warmupMs: o.warmupS * 1000,
      maxRequests: o.maxRequests,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: mockCredentials.service.header() },
      bodies: refs.map(entityRef => JSON.stringify({ entityRef, environment: 'production' })),
    };
    const a = await start('A');
    const probe = await fetch(`${a}/api/runtime-risk/v1/gate`, { method: 'POST', headers: gateSpec.headers, body: gateSpec.bodies[0] });
    if (probe.status !== 200) throw new Error(`replica gate probe answered ${probe.status}: ${await probe.text()}`);
    log(`replicas: loading replica A alone (${o.connections} connections, ${o.durationS} s)`);
    const one = await runLoader({ ...gateSpec, urls: [`${a}/api/runtime-risk/v1/gate`] });
    log(`replicas: one replica: ${JSON.stringify(one)}`);
    const b = await start('B');
    log(`replicas: loading A and B round-robin`);
    const two = await runLoader({ ...gateSpec, urls: [a, b].map(u => `${u}/api/runtime-risk/v1/gate`) });
    log(`replicas: two replicas: ${JSON.stringify(two)}`);
    if (one.ok !== one.requests || two.ok !== two.requests) log('replicas: WARNING: some gate calls did not answer 2xx (see statuses)');
    // let a few more ticks pass with both replicas up (bounded)
    const bothUpAt = Date.now() - o.durationS * 1000;
    const deadline = Date.now() + 4 * FREQUENCY_S * 1000;
    while (Date.now() < deadline && runs.filter(r => r.at >= bothUpAt).length < 4) await new Promise(r => setTimeout(r, 500));

    const sorted = [...runs].sort((x, y) => x.at - y.at);
    const gaps = sorted.slice(1).map((r, i) => (r.at - sorted[i].at) / 1000);
    const overlapping = gaps.filter(g => g < FREQUENCY_S / 2).length;
    const perReplica: Record<string, number> = {};
    for (const r of sorted) perReplica[r.replica] = (perReplica[r.replica] ?? 0) + 1;
    return {
      entities: entityCount,
      signals: signalCount,
      one,
      two,
      throughputRatio: round(two.rps / one.rps),
      ingestion: {
        frequencySeconds: FREQUENCY_S,
        runs: sorted.map(r => ({ replica: r.replica, at: new Date(r.at).toISOString() })),
        perReplica,
        minGapSeconds: gaps.length ? round(Math.min(...gaps)) : null,
        overlapping,
        exactlyOnePerTick: sorted.length > 1 && overlapping === 0,
      },
    };
  } finally {
    for (const backend of backends) await backend.stop().catch(e => log(`replica stop failed: ${(e as Error).message}`));
    for (const knex of knexes) await knex.destroy();
    if (!o.keepDb) await admin.raw(`drop database if exists ${dbName} with (force)`);
  }
}

// ---------------------------------------------------------------- main

interface Target {
  name: string;
  target: string;
  measured: string;
  status: 'met' | 'missed' | 'not measured';
  by: string;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  log(`options: ${JSON.stringify({ ...o, out: undefined })}`);
  const rand = seededRandom(o.seed);
  const dbName = `runtime_risk_bench_${process.pid}_${Date.now()}`;
  const admin = knexFactory({ client: 'pg', connection: `${o.pg.replace(/\/$/, '')}/postgres`, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${dbName}`);
  log(`created database ${dbName}`);
  const knex = knexFactory({ client: 'pg', connection: `${o.pg.replace(/\/$/, '')}/${dbName}`, pool: { min: 1, max: 10 } });
  // the Tech Insights backend's own database (each plugin of a Backstage backend has one)
  await admin.raw(`create database ${dbName}_ti`);
  const techInsightsKnex = knexFactory({ client: 'pg', connection: `${o.pg.replace(/\/$/, '')}/${dbName}_ti`, pool: { min: 1, max: 10 } });
  let backend: TestBackend | undefined;
  let falcon: FakeFalcon | undefined;
  const results: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 2 ** 30, 1), node: process.version },
    options: { ...o, out: undefined, pg: o.pg.replace(/\/\/[^@]*@/, '//***@') },
  };
  try {
    const database = mockServices.database({ knex });
    const store = await DatabaseRuntimeRiskStore.create({ database });
    const warnings = { warnings: 0 };
    const logger = quietLogger(warnings);

    // 1. seed signals (the same validation and store path as ingestion), bounded by count and time
    const SEED_SOURCE = 'seed';
    const now = Date.now();
    const seedDeadline = Date.now() + o.seedTimeoutS * 1000;
    const seeded = await timed(async () => {
      let n = 0;
      const batch = 1000;
      while (n < o.signals && Date.now() < seedDeadline) {
        const size = Math.min(batch, o.signals - n);
        const inputs = Array.from({ length: size }, (_, k) => makeSignal(n + k, rand, o.hosts, now));
        const at = new Date().toISOString();
        // stored "an hour ago": as in production, where what an incremental rebuild reads again (the last
        // 10 minutes' signals) is a small part of what is stored; seeding 400,000 signals takes minutes, not days
        const fetchedAt = new Date(Date.parse(at) - SEED_FETCHED_EARLIER_MS).toISOString();
        const { signals } = validateSignals({ sourceId: SEED_SOURCE, inputs, fetchedAt, logger });
        await store.commitBatch({ sourceId: SEED_SOURCE, sourceType: 'memory', signals, cursor: String(n + size), at });
        n += size;
        if (n % 20_000 === 0) log(`seeded ${n} signals`);
      }
      return n;
    });
    const identifierRows = Number((await knex('runtime_risk_signal_identifiers').count({ n: '*' }).first())?.n ?? 0);
    log(`seeded ${seeded.value} signals (${identifierRows} identifier rows) in ${round(seeded.seconds)} s`);
    results.seed = {
      signals: seeded.value,
      signalsRequested: o.signals,
      identifierRows,
      seconds: round(seeded.seconds),
      signalsPerSecond: round(seeded.value / seeded.seconds, 0),
      cappedByTime: seeded.value < o.signals,
    };

    // 2. correlation index rebuild: full at 1k and at the full entity count, then incremental
    // (the process's next rebuilds): nothing new, then 1,000 new signals and one changed entity
    const entities = makeEntities(o.entities, o.hosts);
    const rebuilds: RebuildRow[] = [];
    const rebuildOnce = async (indexer: EntityIndexer, count: number, note: string) => {
      const r = await timed(() => indexer.rebuild());
      const indexedHosts = Number((await knex('runtime_risk_entity_hosts').count({ n: '*' }).first())?.n ?? 0);
      const stats = indexer.lastRebuild;
      const row: RebuildRow = {
        entities: count,
        mode: stats?.mode ?? 'full',
        note,
        seconds: round(r.seconds, 3),
        indexedHosts,
        ...(stats?.mode === 'incremental' ? { changed: stats.changed, signalsRead: stats.signalsRead } : {}),
      };
      rebuilds.push(row);
      log(`rebuild at ${count} entities (${row.mode}, ${note}): ${row.seconds} s (${indexedHosts} host rows${row.mode === 'incremental' ? `, ${row.changed} entities written, ${row.signalsRead} signals read` : ''})`);
    };
    if (o.entities > 1000) {
      const small = new EntityIndexer({ catalog: catalogServiceMock({ entities: entities.slice(0, 1000) }), auth: mockServices.auth(), store, logger });
      await rebuildOnce(small, 1000, 'first rebuild of a process');
    }
    let catalogEntities = entities;
    let catalogMock = { of: entities, mock: catalogServiceMock({ entities }) };
    const benchCatalog = new Proxy({} as ReturnType<typeof catalogServiceMock>, {
      get: (_, prop) => {
        if (catalogMock.of !== catalogEntities) catalogMock = { of: catalogEntities, mock: catalogServiceMock({ entities: catalogEntities }) };
        const mock = catalogMock.mock as unknown as Record<string | symbol, unknown>;
        const value = mock[prop];
        return typeof value === 'function' ? value.bind(mock) : value;
      },
    });
    const indexer = new EntityIndexer({ catalog: benchCatalog, auth: mockServices.auth(), store, logger });
    await rebuildOnce(indexer, o.entities, 'first rebuild of a process');
    await rebuildOnce(indexer, o.entities, 'nothing new');
    {
      const at = new Date().toISOString();
      const inputs = Array.from({ length: 1000 }, (_, k) => makeSignal(o.signals + k, rand, o.hosts, Date.now()));
      const { signals } = validateSignals({ sourceId: SEED_SOURCE, inputs, fetchedAt: at, logger });
      await store.commitBatch({ sourceId: SEED_SOURCE, sourceType: 'memory', signals, cursor: String(o.signals + 1000), at });
      const changed = { ...entities[0], metadata: { ...entities[0].metadata, annotations: { 'runtime-risk.io/hosts': 'bench-changed-host' } } };
      catalogEntities = [changed, ...entities.slice(1)];
    }
    await rebuildOnce(indexer, o.entities, '1,000 new signals, 1 entity changed');
    catalogEntities = entities;
    await rebuildOnce(indexer, o.entities, '1 entity changed back');
    if (isPostgresKnex(knex)) {
      // what autovacuum does some time after bulk writes, done now so that it does not run during the load phases
      const vacuum = await timed(() =>
        knex.raw('VACUUM ANALYZE runtime_risk_signals, runtime_risk_signal_identifiers, runtime_risk_entities, runtime_risk_entity_hosts'),
      );
      log(`VACUUM ANALYZE of the signal and index tables: ${round(vacuum.seconds, 2)} s`);
    }
    results.correlation = { rebuilds };

    // 3. the gate vs the bare readiness endpoint and a Tech Insights check run of the same backend
    const factScope: FactScope = { timeoutMs: 300_000 };
    const started = await startBenchBackend(knex, techInsightsKnex, entities, SEED_SOURCE, factScope);
    backend = started.backend;
    const port = (backend.server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    const sampleRefs = Array.from({ length: 500 }, () => `component:default/${entityName(Math.floor(rand() * o.entities))}`);
    const probe = await fetch(`${base}/api/runtime-risk/v1/gate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: mockCredentials.service.header() },
      body: JSON.stringify({ entityRef: sampleRefs[0], environment: 'production' }),
    });
    const probeBody = (await probe.json()) as { decision?: string; hosts?: unknown[]; signals?: { count: number } };
    if (probe.status !== 200) throw new Error(`gate probe answered ${probe.status}: ${JSON.stringify(probeBody)}`);
    log(`gate probe: ${probeBody.decision}, ${probeBody.hosts?.length} hosts, ${probeBody.signals?.count} signals`);
    const decisionsBefore = Number((await knex('runtime_risk_decisions').count({ n: '*' }).first())?.n ?? 0);
    const common = { connections: o.connections, durationMs: o.durationS * 1000, warmupMs: o.warmupS * 1000, maxRequests: o.maxRequests };
    log(`loading /.backstage/health/v1/readiness: ${o.connections} connections, ${o.durationS} s`);
    const health = await runLoader({ ...common, url: `${base}/.backstage/health/v1/readiness`, method: 'GET' });
    log(`health: ${JSON.stringify(health)}`);
    log(`loading POST /api/runtime-risk/v1/gate: ${o.connections} connections, ${o.durationS} s`);
    // the runtime-risk database statements sent during the gate load, by kind (per request in the results)
    const statements = countStatements(knex);
    // RUNTIME_RISK_BENCH_GATE_PROFILE=<dir>: a V8 CPU profile of the backend process during the gate load
    const gate = await profiled(process.env.RUNTIME_RISK_BENCH_GATE_PROFILE, 'gate', () =>
      runLoader({
        ...common,
        url: `${base}/api/runtime-risk/v1/gate`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: mockCredentials.service.header() },
        bodies: sampleRefs.map(entityRef => JSON.stringify({ entityRef, environment: 'production' })),
      }), log);
    statements.stop();
    log(`gate: ${JSON.stringify(gate)}`);
    const decisionsWritten = Number((await knex('runtime_risk_decisions').count({ n: '*' }).first())?.n ?? 0) - decisionsBefore;
    // per gate request (warm-up included: every request records one decision)
    const gateStatements = statements.perRequest(decisionsWritten);
    log(`gate: database statements per request ${JSON.stringify(gateStatements)}`);
    // where the time goes when a target is missed: a short extra load under a CPU profile
    // (not the measured one: the profiler's own cost would count in it)
    let gateProfile: ProfileSummary | undefined;
    if (gate.rps < 2500 || gate.p50 > 3 * health.p50) {
      gateProfile = (
        await withProfileSummary(() =>
          runLoader({
            ...common,
            durationMs: Math.min(5_000, common.durationMs),
            url: `${base}/api/runtime-risk/v1/gate`,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: mockCredentials.service.header() },
            bodies: sampleRefs.map(entityRef => JSON.stringify({ entityRef, environment: 'production' })),
          }),
        )
      ).profile;
      log(`gate profile: ${JSON.stringify(gateProfile.shares)}`);
    }
    // 3-read. the read-only evaluations vs health, same backend and token (issue 18 part 1)
    results.readPath = await readPathPhase({ knex, base, authorization: mockCredentials.service.header(), refs: sampleRefs, common, runLoader, log });

    // 3a. Tech Insights: store the facts (run the retriever's task by hand), then load the
    // check run for the same sampled entities, same connections and credentials
    const retrieverTask = started.tasks.find(t => t.id === TECH_INSIGHTS_RETRIEVER);
    if (!retrieverTask) throw new Error(`Tech Insights did not schedule ${TECH_INSIGHTS_RETRIEVER} (tasks: ${started.tasks.map(t => t.id).join(', ')})`);
    // bounded (see FactScope): over 10,000 entities, facts for the sampled entities only
    if (o.entities > 10_000) factScope.refs = [...new Set(sampleRefs.map(r => r.toLowerCase()))];
    const factEntities = factScope.refs?.length ?? o.entities;
    if (factScope.refs) log(`tech insights: facts for the ${factEntities} sampled entities only (of ${o.entities}), statement timeout ${factScope.timeoutMs / 1000} s`);
    const retrieval = await timed(() => Promise.resolve(retrieverTask.fn(new AbortController().signal)));
    const stored = (await techInsightsKnex('facts').where({ id: TECH_INSIGHTS_RETRIEVER }).select('facts')).map(
      (row: { facts: string }) => JSON.parse(row.facts) as { activeDetections: number; activeHighOrCriticalDetections: number },
    );
    const factRows = stored.length;
    const factSummary = {
      withActiveDetections: stored.filter(f => f.activeDetections > 0).length,
      failingCheck: stored.filter(f => f.activeHighOrCriticalDetections > 0).length,
    };
    log(`tech insights: ${factRows} fact rows stored by ${TECH_INSIGHTS_RETRIEVER} in ${round(retrieval.seconds, 3)} s ${JSON.stringify(factSummary)}`);
    if (factRows < factEntities) throw new Error(`Tech Insights facts: ${factRows} rows for ${factEntities} entities (the retriever's query may have hit its ${factScope.timeoutMs / 1000} s timeout)`);
    const checkRunUrl = (ref: string) => {
      const { kind, namespace, name } = parseEntityRef(ref);
      return `${base}/api/tech-insights/checks/run/${encodeURIComponent(namespace)}/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`;
    };
    const checkHeaders = { 'content-type': 'application/json', authorization: mockCredentials.service.header() };
    const checkBody = JSON.stringify({ checks: [TECH_INSIGHTS_CHECK] });
    const tiProbe = await fetch(checkRunUrl(sampleRefs[0]), { method: 'POST', headers: checkHeaders, body: checkBody });
    const tiProbeBody = (await tiProbe.json()) as { check?: { id: string }; result?: unknown; facts?: Record<string, { value: unknown }> }[];
    if (tiProbe.status !== 200 || !Array.isArray(tiProbeBody) || tiProbeBody.length !== 1) {
      throw new Error(`Tech Insights check run probe answered ${tiProbe.status}: ${JSON.stringify(tiProbeBody)}`);
    }
    const tiSample = {
      check: tiProbeBody[0].check?.id,
      result: tiProbeBody[0].result,
      facts: Object.fromEntries(Object.entries(tiProbeBody[0].facts ?? {}).map(([k, v]) => [k, v.value])),
    };
    log(`tech insights probe (${sampleRefs[0]}): ${JSON.stringify(tiSample)}`);
    log(`loading POST /api/tech-insights/checks/run/:namespace/:kind/:name: ${o.connections} connections, ${o.durationS} s`);
    // one URL per sampled entity; the loader alternates them per request
    const techInsights = await runLoader({ ...common, urls: sampleRefs.map(checkRunUrl), method: 'POST', headers: checkHeaders, bodies: [checkBody] });
    log(`tech insights: ${JSON.stringify(techInsights)}`);
    results.load = {
      connections: o.connections,
      durationS: o.durationS,
      health,
      gate,
      techInsights,
      gateDecisionsWritten: decisionsWritten,
      gateStatements,
      ...(gateProfile ? { gateProfile } : {}),
      ratios: { p50: round(gate.p50 / health.p50), p99: round(gate.p99 / health.p99), rps: round(gate.rps / health.rps, 3) },
      ratiosGateTechInsights: { p50: round(gate.p50 / techInsights.p50), p99: round(gate.p99 / techInsights.p99), rps: round(gate.rps / techInsights.rps) },
      sampleDecision: { decision: probeBody.decision, hosts: probeBody.hosts?.length, signals: probeBody.signals?.count },
      techInsightsSetup: {
        retriever: TECH_INSIGHTS_RETRIEVER,
        check: TECH_INSIGHTS_CHECK,
        factRows,
        factsSampled: !!factScope.refs,
        ...factSummary,
        retrievalSeconds: round(retrieval.seconds, 3),
        sampleCheck: tiSample,
      },
    };
    // 3a'. (while the backend still runs) a policy backtest of 100,000 stored decisions and the org summary of every entity (issue 17 parts 4-5)
    results.policySummary = await policySummaryPhase({
      knex,
      base,
      authorization: mockCredentials.service.header(),
      decisions: o.entities < 10_000 ? 10_000 : 100_000,
      log,
    }).catch(e => {
      // a failing phase is reported and the run goes on (every phase bounded: the run completes)
      const cause = (e as { cause?: unknown }).cause;
      log(`policy backtest / org summary phase failed: ${(e as Error).message}${cause ? ` (${String(cause)})` : ''}`);
      return undefined;
    });

    await backend.stop();
    backend = undefined;

    // 3b. where the gate's time goes: the same RiskService in-process, store calls timed,
    // with the plugin's gate input cache (memory store of the cache service; warmed by a
    // first pass) and without it
    const storeMs: Record<string, number> = {};
    const timedStore = withTimings(
      store as RuntimeRiskStore,
      ['getDataVersion', 'getEntity', 'findSignalsByIdentifiers', 'listSourceStates', 'listActiveExceptions', 'insertDecision'],
      storeMs,
    );
    const policy = readPolicyConfig(new ConfigReader({}));
    const riskWith = (cached: boolean) =>
      new RiskService({
        store: timedStore,
        indexer: new EntityIndexer({ catalog: catalogServiceMock({ entities }), auth: mockServices.auth(), store: timedStore, logger }),
        policy,
        sources: () => [{ source: new MemoryPullSource(SEED_SOURCE), frequencyMs: 3600_000 }],
        reads: cached
          ? new CachedGateReads({
              store: timedStore,
              cache: CacheManager.fromConfig(new ConfigReader({})).forPlugin('runtime-risk'),
              ttlMs: 600_000,
              namespace: policy.hash,
            })
          : undefined,
      });
    const breakdown: Record<string, unknown> = {};
    const modes = [
      ['sequential, cached', 1, true],
      ['concurrent, cached', Math.min(o.connections, 100), true],
      ['sequential, no cache', 1, false],
      ['concurrent, no cache', Math.min(o.connections, 100), false],
    ] as const;
    const risks = { cached: riskWith(true), uncached: riskWith(false) };
    // warm the cache with every sampled entity (the HTTP phase above did the same for the plugin's cache)
    for (const ref of new Set(sampleRefs)) await risks.cached.risk(ref, 'production');
    for (const [mode, concurrency, cached] of modes) {
      const risk = cached ? risks.cached : risks.uncached;
      for (const k of Object.keys(storeMs)) storeMs[k] = 0;
      const calls = 200;
      const latencies: number[] = [];
      let next = 0;
      const wall = await timed(() =>
        Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < calls) {
              const ref = sampleRefs[next++ % sampleRefs.length];
              const t = process.hrtime.bigint();
              await risk.gate({ entityRef: ref, environment: 'production', dryRun: false }, { requestedBy: 'bench' });
              latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
            }
          }),
        ),
      );
      const total = latencies.reduce((a, b) => a + b, 0);
      breakdown[mode] = {
        calls,
        concurrency,
        callsPerSecond: round(calls / wall.seconds, 1),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        // share of the summed call time spent in each store method (the rest: cache, correlation matching, scoring, JSON)
        shareOfCallTime: Object.fromEntries(
          [...Object.entries(storeMs).map(([k, v]) => [k, round(v / total, 3)]), ['other', round(1 - Object.values(storeMs).reduce((a, b) => a + b, 0) / total, 3)]],
        ),
        msPerCall: Object.fromEntries(Object.entries(storeMs).map(([k, v]) => [k, round(v / calls, 2)])),
      };
      log(`gate breakdown (${mode}): ${JSON.stringify(breakdown[mode])}`);
    }
    (results.load as Record<string, unknown>).breakdown = breakdown;

    // 4. ingestion from a paged fake Falcon API through the real adapter and runner
    falcon = await startFakeFalcon();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    await falcon.add(Array.from({ length: o.alerts }, (_, n) => falconAlert(n, rand, o.hosts, t0 + n * 1000)));
    const ingestMs: Record<string, number> = {};
    const source = withTimings(
      new CrowdStrikeSignalSource({ id: 'falcon', baseUrl: falcon.url, clientId: 'bench', clientSecret: 'bench-secret' }),
      ['fetch'],
      ingestMs,
    );
    const runner = new IngestionRunner({ store: withTimings(store as RuntimeRiskStore, ['commitBatch', 'commitHostPage'], ingestMs), logger });
    // CPU of this process (adapter, runner, store, driver; the fake vendor runs in its own process)
    const cpuBefore = process.cpuUsage();
    const full = await timed(async () => {
      const totals = { pages: 0, stored: 0, rejected: 0, runs: 0 };
      // one run fetches up to 50 pages; more runs only if the vendor still has more (bounded)
      for (let run = 0; run < 20; run++) {
        const r = await runner.run(source);
        if (r.error) throw new Error(`ingestion failed: ${r.error}`);
        totals.runs++;
        totals.pages += r.pages;
        totals.stored += r.stored;
        totals.rejected += r.rejected;
        if (totals.stored >= o.alerts || r.stored === 0) break;
      }
      return totals;
    });
    log(`full sync: ${full.value.stored} detections in ${round(full.seconds)} s (${round(full.value.stored / full.seconds, 0)}/s)`);
    const cpu = process.cpuUsage(cpuBefore);
    const fullSplit = {
      fetchSeconds: round(ingestMs.fetch / 1000, 3),
      commitSeconds: round(ingestMs.commitBatch / 1000, 3),
      hostsSeconds: round((ingestMs.commitHostPage ?? 0) / 1000, 3),
      benchProcessCpuSeconds: round((cpu.user + cpu.system) / 1e6, 3),
    };
    log(`full sync split: ${JSON.stringify(fullSplit)}`);
    ingestMs.fetch = 0;
    ingestMs.commitBatch = 0;
    ingestMs.commitHostPage = 0;
    const tInc = t0 + o.alerts * 1000 + 60_000;
    await falcon.add(Array.from({ length: o.incremental }, (_, n) => falconAlert(o.alerts + n, rand, o.hosts, tInc + n * 1000)));
    const inc = await timed(() => runner.run(source));
    if (inc.value.error) throw new Error(`incremental sync failed: ${inc.value.error}`);
    log(`incremental sync: ${inc.value.stored} detections in ${round(inc.seconds, 3)} s`);
    const falconStored = Number((await knex('runtime_risk_signals').where({ source: 'falcon' }).count({ n: '*' }).first())?.n ?? 0);
    results.ingestion = {
      full: { ...full.value, alerts: o.alerts, seconds: round(full.seconds, 3), detectionsPerSecond: round(full.value.stored / full.seconds, 0), ...fullSplit },
      incremental: {
        alerts: o.incremental,
        stored: inc.value.stored,
        seconds: round(inc.seconds, 3),
        detectionsPerSecond: round(inc.value.stored / inc.seconds, 0),
        fetchSeconds: round(ingestMs.fetch / 1000, 3),
        commitSeconds: round(ingestMs.commitBatch / 1000, 3),
        hostsSeconds: round((ingestMs.commitHostPage ?? 0) / 1000, 3),
      },
      storedFalconSignals: falconStored,
      ...(full.value.stored / full.seconds < 20_000 ? { whereTimeGoes: await ingestionProfile(runner, source, falcon, rand, o, tInc + o.incremental * 1000 + 60_000, log) } : {}),
      requestsToFakeFalcon: await falcon.requests(),
      rejectedWarnings: warnings.warnings,
    };

    // 5. two replicas on one database (stretch)
    if (o.replicas) {
      const replicas = await replicaPhase(o, rand, admin, `${dbName}_r`);
      log(`replicas: throughput x${replicas.throughputRatio}; ingestion runs ${JSON.stringify(replicas.ingestion.perReplica)}, min gap ${replicas.ingestion.minGapSeconds} s`);
      results.replicas = replicas;
    }

    // 6. targets
    const targets = evaluateTargets(results, o);
    results.targets = targets;
    results.finishedAt = new Date().toISOString();
    results.totalSeconds = round((Date.now() - startedAt.getTime()) / 1000, 1);
    fs.mkdirSync(o.out, { recursive: true });
    fs.writeFileSync(path.join(o.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    const md = markdown(results, targets);
    fs.writeFileSync(path.join(o.out, 'results.md'), md);
    process.stdout.write(`\n${md}\n`);
    log(`wrote ${path.join(o.out, 'results.json')} and results.md (${results.totalSeconds} s)`);
  } finally {
    await backend?.stop().catch(e => log(`backend stop failed: ${(e as Error).message}`));
    await falcon?.close().catch(() => {});
    await knex.destroy();
    await techInsightsKnex.destroy();
    if (!o.keepDb) {
      await admin.raw(`drop database if exists ${dbName} with (force)`);
      await admin.raw(`drop database if exists ${dbName}_ti with (force)`);
      log(`dropped databases ${dbName} and ${dbName}_ti`);
    }
    await admin.destroy();
  }
}

function evaluateTargets(results: Record<string, unknown>, o: Options): Target[] {
  const load = results.load as { health: LoadResult; gate: LoadResult; techInsights: LoadResult; ratios: { p50: number; p99: number } };
  const ingestion = results.ingestion as { full: { detectionsPerSecond: number }; incremental: { alerts: number; seconds: number } };
  const rebuilds = (results.correlation as { rebuilds: RebuildRow[] }).rebuilds;
  const atFull = rebuilds.filter(b => b.entities === Math.max(...rebuilds.map(x => x.entities)));
  const full = atFull.find(b => b.mode === 'full') ?? atFull[0];
  const incremental = atFull.filter(b => b.mode === 'incremental');
  const incrementalMax = incremental.length ? Math.max(...incremental.map(b => b.seconds)) : undefined;
  const ratioTarget = (name: string, ratio: number, max: number, what: string): Target => ({
    name,
    target: `<= ${max}x health ${what}`,
    measured: `${ratio}x (gate ${what === 'p50' ? load.gate.p50 : load.gate.p99} ms vs health ${what === 'p50' ? load.health.p50 : load.health.p99} ms)`,
    status: ratio <= max ? 'met' : 'missed',
    by: ratio <= max ? `${round(max / ratio)}x margin` : `${round(ratio / max)}x over the target`,
  });
  const atLeast = (name: string, value: number, min: number, unit: string): Target => ({
    name,
    target: `>= ${min} ${unit}`,
    measured: `${value} ${unit}`,
    status: value >= min ? 'met' : 'missed',
    by: value >= min ? `+${round((value / min - 1) * 100, 0)} %` : `${round((1 - value / min) * 100, 0)} % short`,
  });
  const ti = load.techInsights;
  const gateFaster = load.gate.p50 < ti.p50 && load.gate.rps > ti.rps;
  return [
    ratioTarget('gate p50 vs bare health endpoint', load.ratios.p50, 1.5, 'p50'),
    ratioTarget('gate p99 vs bare health endpoint', load.ratios.p99, 2, 'p99'),
    atLeast(`gate throughput (${o.connections} connections)`, load.gate.rps, 1000, 'req/s'),
    // issue 18 part 2: every gate answer here is a recorded decision
    atLeast(`recorded gate throughput (${o.connections} connections, issue 18)`, load.gate.rps, 2500, 'req/s'),
    ratioTarget('recorded gate p50 vs bare health endpoint (issue 18)', load.ratios.p50, 3, 'p50'),
    {
      name: 'gate vs Tech Insights check run',
      target: 'faster than the check run (lower p50, more req/s)',
      measured: `gate p50 ${load.gate.p50} ms vs ${ti.p50} ms; ${load.gate.rps} vs ${ti.rps} req/s`,
      status: gateFaster ? 'met' : 'missed',
      by: gateFaster
        ? `p50 ${round(ti.p50 / load.gate.p50)}x lower, req/s x${round(load.gate.rps / ti.rps)}`
        : `gate p50 ${round(load.gate.p50 / ti.p50)}x the check run's, req/s x${round(load.gate.rps / ti.rps)}`,
    },
    atLeast('ingestion from paged Falcon API', ingestion.full.detectionsPerSecond, 20000, 'detections/s'),
    {
      name: `incremental sync of ${ingestion.incremental.alerts} alerts`,
      target: '< 0.2 s for 1,000 alerts',
      measured: `${ingestion.incremental.seconds} s`,
      status: ingestion.incremental.seconds < 0.2 ? 'met' : 'missed',
      by: ingestion.incremental.seconds < 0.2 ? `${round(0.2 / ingestion.incremental.seconds)}x margin` : `${round(ingestion.incremental.seconds / 0.2)}x over the target`,
    },
    {
      name: `correlation rebuild at ${full.entities} entities`,
      target: '< 5 s at 10k entities',
      measured: `${full.seconds} s full (first of a process, then every 6 h)${incrementalMax !== undefined ? `; incremental up to ${incrementalMax} s` : ''}`,
      // the target is set at 10,000 entities; past it, the regular rebuild is the incremental one (row below)
      status: full.entities < 10_000 ? 'not measured' : full.seconds < 5 ? 'met' : full.entities > 10_000 ? 'not measured' : 'missed',
      by:
        full.entities < 10_000
          ? `scaled-down run (${full.entities} entities)`
          : full.seconds < 5
            ? `${round(5 / full.seconds)}x margin`
            : full.entities > 10_000
              ? `the target is for 10,000 entities; at ${full.entities} the full rebuild is the safety net (first of a process, then every 6 h)`
              : `${round(full.seconds / 5)}x over the target`,
    },
    ...(incrementalMax !== undefined && full.entities > 10_000
      ? [
          {
            name: `incremental correlation rebuild at ${full.entities} entities (issue 18 part 6)`,
            target: '< 5 s, whatever the number of stored signals',
            measured: `up to ${incrementalMax} s (nothing new; 1,000 new signals and a changed entity; that entity changed back)`,
            status: incrementalMax < 5 ? ('met' as const) : ('missed' as const),
            by: incrementalMax < 5 ? `${round(5 / incrementalMax)}x margin` : `${round(incrementalMax / 5)}x over the target`,
          },
        ] satisfies Target[]
      : []),
    replicasTarget(results.replicas as ReplicaResult | undefined),
    ...policySummaryTargets(results.policySummary as PolicySummaryResult | undefined),
    ...readPathTargets(results.readPath as ReadPathResult | undefined),
  ];
}

function replicasTarget(r: ReplicaResult | undefined): Target {
  const name = 'two replicas on one PostgreSQL';
  const target = 'throughput vs one replica; exactly one replica ingests per tick';
  if (!r) return { name, target, measured: '-', status: 'not measured', by: 'skipped (--no-replicas)' };
  return {
    name,
    target,
    measured: `x${r.throughputRatio} req/s (${r.one.rps} -> ${r.two.rps}); ${r.ingestion.runs.length} ingestion runs ${JSON.stringify(r.ingestion.perReplica)}, min gap ${r.ingestion.minGapSeconds} s`,
    status: r.ingestion.exactlyOnePerTick ? 'met' : 'missed',
    by: r.ingestion.exactlyOnePerTick
      ? `one ingester per tick (no two runs within ${r.ingestion.frequencySeconds / 2} s); throughput x${r.throughputRatio}`
      : `${r.ingestion.overlapping} overlapping run(s)`,
  };
}

/** One timed index rebuild of the bench. */
interface RebuildRow {
  entities: number;
  mode: 'full' | 'incremental';
  note: string;
  seconds: number;
  indexedHosts: number;
  changed?: number;
  signalsRead?: number;
}

function isPostgresKnex(db: Knex): boolean {
  const client = String(db.client.config.client);
  return client === 'pg' || client === 'postgres' || client === 'postgresql';
}

function markdown(results: Record<string, unknown>, targets: Target[]): string {
  const r = results as {
    startedAt: string;
    totalSeconds: number;
    machine: { cpus: number; cpuModel?: string; memoryGb: number; node: string };
    seed: { signals: number; identifierRows: number; seconds: number; signalsPerSecond: number; cappedByTime: boolean };
    options: Options;
    correlation: { rebuilds: RebuildRow[] };
    load: {
      health: LoadResult;
      gate: LoadResult;
      techInsights: LoadResult;
      ratios: { p50: number; p99: number; rps: number };
      ratiosGateTechInsights: { p50: number; p99: number; rps: number };
      techInsightsSetup: { factRows: number; failingCheck: number; retrievalSeconds: number; factsSampled?: boolean };
      gateDecisionsWritten: number;
      connections: number;
      durationS: number;
      breakdown: Record<string, { calls: number; concurrency: number; callsPerSecond: number; p50: number; p99: number; shareOfCallTime: Record<string, number>; msPerCall: Record<string, number> }>;
    };
    ingestion: {
      full: { alerts: number; stored: number; seconds: number; detectionsPerSecond: number; pages: number; runs: number; fetchSeconds: number; commitSeconds: number; hostsSeconds?: number };
      incremental: { alerts: number; stored: number; seconds: number; detectionsPerSecond: number; fetchSeconds: number; commitSeconds: number; hostsSeconds?: number };
      whereTimeGoes?: Awaited<ReturnType<typeof ingestionProfile>>;
    };
  };
  const lines: string[] = [];
  lines.push(`# Runtime Risk benchmark results`);
  lines.push('');
  lines.push(
    `Run ${r.startedAt} on ${r.machine.cpus} CPU(s) (${r.machine.cpuModel ?? 'unknown'}), ${r.machine.memoryGb} GB, Node ${r.machine.node}, PostgreSQL; total ${r.totalSeconds} s.`,
  );
  lines.push(
    `Data: ${r.options.entities} entities, ${r.options.hosts} hosts, ${r.seed.signals} signals${r.seed.cappedByTime ? ` (seeding capped by time; ${r.options.signals} requested)` : ''}, ${r.seed.identifierRows} identifier rows (seeded in ${r.seed.seconds} s, ${r.seed.signalsPerSecond} signals/s through the store).`,
  );
  lines.push('');
  lines.push('## Targets');
  lines.push('');
  lines.push('| target | goal | measured | status | by how much |');
  lines.push('| --- | --- | --- | --- | --- |');
  for (const t of targets) lines.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.status} | ${t.by} |`);
  lines.push('');
  lines.push(`## Load (${r.load.connections} connections, ${r.load.durationS} s per endpoint, same backend process)`);
  lines.push('');
  lines.push('| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | statuses |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, l] of [
    ['GET /.backstage/health/v1/readiness', r.load.health],
    ['POST /api/runtime-risk/v1/gate', r.load.gate],
    ['POST /api/tech-insights/checks/run/:namespace/:kind/:name (1 check)', r.load.techInsights],
  ] as const) {
    lines.push(`| ${name} | ${l.requests} | ${l.rps} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${JSON.stringify(l.statuses)} |`);
  }
  lines.push('');
  lines.push(`Ratios gate/health: p50 ${r.load.ratios.p50}x, p99 ${r.load.ratios.p99}x, req/s ${r.load.ratios.rps}x. Gate decisions recorded: ${r.load.gateDecisionsWritten}.`);
  lines.push('');
  const tr = r.load.ratiosGateTechInsights;
  lines.push(
    `Ratios gate/Tech Insights check run: p50 ${tr.p50}x, p99 ${tr.p99}x, req/s ${tr.rps}x. The check run (community Tech Insights backend, json-rules-engine fact checker, one check over one stored fact row per entity, ${r.load.techInsightsSetup.factRows} rows stored by the bench's retriever in ${r.load.techInsightsSetup.retrievalSeconds} s${r.load.techInsightsSetup.factsSampled ? ' (bounded: over 10,000 entities, facts for the load\'s sampled entities only, as the check run reads no other)' : ''}, ${r.load.techInsightsSetup.failingCheck} entities failing the check) reads stored facts and writes nothing; the gate reads live signals and records its decision.`,
  );
  lines.push('');
  const gateProfile = (results.load as { gateProfile?: ProfileSummary } | undefined)?.gateProfile;
  if (gateProfile) lines.push(...profileMarkdown('Where the recorded gate time goes (5 s extra load, targets missed)', gateProfile));
  lines.push(...readPathMarkdown(results.readPath as ReadPathResult | undefined));
  lines.push('### Where the gate time goes (RiskService.gate in-process, store calls timed, with and without the gate input cache; no HTTP, auth or audit middleware)');
  lines.push('');
  const storeKeys = Object.keys(Object.values(r.load.breakdown)[0]?.shareOfCallTime ?? {});
  lines.push(`| mode | calls/s | p50 ms | p99 ms | ${storeKeys.map(k => `${k} share`).join(' | ')} |`);
  lines.push(`| --- | --- | --- | --- | ${storeKeys.map(() => '---').join(' | ')} |`);
  for (const [mode, b] of Object.entries(r.load.breakdown)) {
    lines.push(`| ${mode} (${b.concurrency}) | ${b.callsPerSecond} | ${b.p50} | ${b.p99} | ${storeKeys.map(k => `${round((b.shareOfCallTime[k] ?? 0) * 100, 1)} %`).join(' | ')} |`);
  }
  lines.push('');
  lines.push('## Ingestion (fake Falcon API on loopback, real CrowdStrike adapter and ingestion runner, PostgreSQL)');
  lines.push('');
  lines.push('| sync | alerts | stored | seconds | detections/s | in fetch (vendor HTTP + normalize) s | in commit (PostgreSQL) s | hosts of the alerts stored (after the last commit) s |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  lines.push(
    `| full (${r.ingestion.full.pages} pages, ${r.ingestion.full.runs} run(s)) | ${r.ingestion.full.alerts} | ${r.ingestion.full.stored} | ${r.ingestion.full.seconds} | ${r.ingestion.full.detectionsPerSecond} | ${r.ingestion.full.fetchSeconds} | ${r.ingestion.full.commitSeconds} | ${r.ingestion.full.hostsSeconds ?? ''} |`,
  );
  lines.push(
    `| incremental | ${r.ingestion.incremental.alerts} | ${r.ingestion.incremental.stored} | ${r.ingestion.incremental.seconds} | ${r.ingestion.incremental.detectionsPerSecond} | ${r.ingestion.incremental.fetchSeconds} | ${r.ingestion.incremental.commitSeconds} | ${r.ingestion.incremental.hostsSeconds ?? ''} |`,
  );
  lines.push('');
  const w = r.ingestion.whereTimeGoes;
  if (w) {
    const c = w.cpuSecondsPer20000;
    lines.push(
      `**Where the ingestion time goes (target missed)**: one more sync of ${w.alerts} new alerts (${w.stored} stored) in ${w.seconds} s. ` +
        `CPU-seconds per 20,000 alerts: this process (adapter, runner, store, driver) ${c.node ?? '?'}, PostgreSQL server ${c.postgres ?? '?'}, ` +
        `fake vendor ${c.vendor ?? '?'}. On ${w.cores} cores that CPU allows at most ${w.ceilingPerSecond ?? '?'} alerts/s even if every part ran in parallel.`,
    );
    lines.push('');
    lines.push(...profileMarkdown('This process during that sync', w.profile));
  }
  lines.push('## Correlation index rebuild');
  lines.push('');
  lines.push('| entities | mode | what changed | seconds | host rows | entities written | signals read |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const b of r.correlation.rebuilds) {
    const all = b.mode === 'full' ? 'all' : '';
    lines.push(`| ${b.entities} | ${b.mode} | ${b.note} | ${b.seconds} | ${b.indexedHosts} | ${b.changed ?? all} | ${b.signalsRead ?? all} |`);
  }
  lines.push('');
  lines.push(
    `Seeded signals are stored with a fetchedAt ${SEED_FETCHED_EARLIER_MS / 60_000} minutes before the seeding, as if stored earlier: an incremental rebuild reads the signals fetched since the last rebuild's newest one less 10 minutes (runtimeRisk.correlation.incrementalOverlap). A full rebuild (the first of a process, then every 6 hours) reads every stored signal's asset.`,
  );
  lines.push('');
  const rep = results.replicas as ReplicaResult | undefined;
  if (rep) {
    lines.push(`## Two replicas on one PostgreSQL (${rep.entities} entities, ${rep.signals} signals, real scheduler)`);
    lines.push('');
    lines.push('| setup | requests | req/s | p50 ms | p99 ms | statuses |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    lines.push(`| one replica | ${rep.one.requests} | ${rep.one.rps} | ${rep.one.p50} | ${rep.one.p99} | ${JSON.stringify(rep.one.statuses)} |`);
    lines.push(`| two replicas, round-robin | ${rep.two.requests} | ${rep.two.rps} | ${rep.two.p50} | ${rep.two.p99} | ${JSON.stringify(rep.two.statuses)} |`);
    lines.push('');
    lines.push(
      `Global ingestion task every ${rep.ingestion.frequencySeconds} s: ${rep.ingestion.runs.length} runs (${rep.ingestion.runs.map(r => `${r.replica} ${r.at.slice(11, 19)}`).join(', ')}); smallest gap ${rep.ingestion.minGapSeconds} s; ${rep.ingestion.exactlyOnePerTick ? 'exactly one replica per tick' : `${rep.ingestion.overlapping} overlapping runs`}.`,
    );
    lines.push('');
  }
  if (!rep) {
    lines.push('Not measured: two replicas (--no-replicas).');
    lines.push('');
  }
  return lines.join('\n');
}

main().then(
  () => process.exit(0),
  e => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
