#!/usr/bin/env node
/*
 * Consumer check (npm run consumer-check): installs the packages the way a Backstage
 * adopter would, from their `npm pack` tarballs only, in a temporary directory outside
 * this repository, and uses them there.
 *
 *   1. builds (tsc + backstage-cli package build) and packs every publishable package;
 *   2. looks inside each tarball: main/types/module/exports/bin/configSchema targets exist,
 *      the backend ships its migrations;
 *   3. in os.tmpdir(): a backend project depending on the tarballs by file: path
 *      (no workspace links, nothing pointing into the repository) next to
 *      @backstage/backend-defaults, the catalog backend, the scaffolder backend and
 *      better-sqlite3 at the versions of the repository's package-lock.json; npm install;
 *   4. starts createBackend() + catalog + scaffolder + the runtime-risk backend and all
 *      its modules with an app-config.yaml (SQLite in memory, a static external-access
 *      token, a two-component catalog, the file signal source on an NDJSON file), waits
 *      for readiness and calls POST /api/runtime-risk/v1/gate with the token;
 *   5. the OpenFeature provider tarball answers from that backend;
 *   6. the CLI tarball installs into its own prefix; `runtime-risk --help` runs and
 *      `runtime-risk gate` gets the same decision from the backend;
 *   7. bundles a minimal frontend entry importing the packed frontend plugin (its main
 *      entry and /alpha) with esbuild, so a file or dependency missing from the tarball
 *      fails the bundle.
 *
 * Prints PASS/FAIL per check and a last line `consumer check: PASS|FAIL (...)`; exits
 * non-zero on any failure, keeping the temporary directory (its path is printed).
 *
 * Options: --skip-build (use the dist/ folders as they are), --keep (keep the temporary
 * directory on success too), --report FILE (JSON: { checks: [{ name, ok, detail }] }).
 * Environment: CONSUMER_CHECK_TIMEOUT_MS (whole run, default 30 min).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { buildPackages, listPublishable, packPackages, ROOT, run } from './packages.mjs';

const argv = process.argv.slice(2);
const SKIP_BUILD = argv.includes('--skip-build');
const KEEP = argv.includes('--keep');
const REPORT = argv.includes('--report') ? path.resolve(argv[argv.indexOf('--report') + 1]) : undefined;
const TOTAL_TIMEOUT_MS = Number(process.env.CONSUMER_CHECK_TIMEOUT_MS || 30 * 60_000);

const FRONTEND = '@runtime-risk/backstage-plugin-runtime-risk';
const BACKEND = '@runtime-risk/backstage-plugin-runtime-risk-backend';
const CLI = '@runtime-risk/runtime-risk-cli';
const OPENFEATURE = '@runtime-risk/runtime-risk-openfeature-provider';
const TOKEN = `consumer-check-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
const DECISIONS = ['proceed', 'approval_required', 'block'];

const started = Date.now();
const checks = [];
const reportVersions = {};
let tmp;
let backend;

const secs = t0 => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const log = msg => console.log(`consumer-check: ${msg}`);

function record(name, ok, detail = '') {
  checks.push({ name, ok, detail });
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}

/** Thrown to stop at a failure after it was recorded. */
class Stop extends Error {}

function must(name, ok, detail) {
  if (!record(name, ok, detail)) throw new Stop(name);
}

function tail(text, lines = 40) {
  return String(text).trim().split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------------------------
// environment

function nodeEnv() {
  const env = { ...process.env };
  // node-gyp builds better-sqlite3 against the running Node's headers (offline)
  const nodeDir = path.dirname(path.dirname(process.execPath));
  if (!env.npm_config_nodedir && fs.existsSync(path.join(nodeDir, 'include', 'node', 'node.h'))) {
    env.npm_config_nodedir = nodeDir;
  }
  // nothing of the repository may leak into module resolution
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_/.test(k) || k === 'INIT_CWD' || k === 'npm_config_local_prefix') delete env[k];
  }
  env.NPM_CONFIG_UPDATE_NOTIFIER = 'false';
  return env;
}

function lockVersion(name) {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const v = lock.packages?.[`node_modules/${name}`]?.version;
  if (!v) throw new Error(`${name} is not in package-lock.json`);
  return v;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function fetchJson(url, init = {}, timeoutMs = 10_000) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

// ---------------------------------------------------------------------------------
// 2. what is inside the tarballs

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

function tarballTargets(pkg) {
  const targets = [];
  for (const field of ['main', 'module', 'types', 'browser']) {
    if (typeof pkg[field] === 'string') targets.push([field, pkg[field]]);
  }
  const walk = (v, where) => {
    if (typeof v === 'string') targets.push([where, v]);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}[${k}]`);
  };
  // exports targets are "./..." paths; other strings (the `backstage` condition's
  // "@backstage/BackendFeature") are metadata
  const exportTargets = [];
  const walkExports = (v, where) => {
    if (typeof v === 'string') {
      if (v.startsWith('./')) exportTargets.push([where, v]);
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walkExports(x, `${where}[${k}]`);
  };
  walkExports(pkg.exports, 'exports');
  targets.push(...exportTargets);
  for (const [k, v] of Object.entries(pkg.typesVersions?.['*'] ?? {})) walk(v, `typesVersions[${k}]`);
  if (typeof pkg.bin === 'string') targets.push(['bin', pkg.bin]);
  else walk(pkg.bin, 'bin');
  if (pkg.configSchema && typeof pkg.configSchema === 'string') targets.push(['configSchema', pkg.configSchema]);
  return targets;
}

async function inspectTarballs(packed) {
  const problems = [];
  const warnings = [];
  const unpacked = [];
  for (const p of packed) {
    const dir = path.join(tmp, 'unpacked', p.name.replace('/', '+'));
    fs.mkdirSync(dir, { recursive: true });
    const r = await run('tar', ['-xzf', p.file, '-C', dir]);
    if (r.code !== 0) problems.push(`${p.name}: cannot unpack ${path.basename(p.file)}: ${tail(r.output, 3)}`);
    else unpacked.push(p);
  }
  for (const p of unpacked) {
    const root = path.join(tmp, 'unpacked', p.name.replace('/', '+'), 'package');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    if (pkg.private) problems.push(`${p.name}: packed package.json is private`);
    for (const [field, target] of tarballTargets(pkg)) {
      if (target.includes('*')) continue;
      if (!fs.existsSync(path.join(root, target))) problems.push(`${p.name}: ${field} -> ${target} is not in the tarball`);
      if (/(^|\/)src\/.*\.tsx?$/.test(target) && !target.endsWith('.d.ts')) {
        problems.push(`${p.name}: ${field} -> ${target} points at TypeScript source`);
      }
    }
    for (const [dep, range] of Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies })) {
      if (/^(workspace|link|file):/.test(String(range))) problems.push(`${p.name}: dependency ${dep}@${range} is not installable`);
    }
    // every package the built code imports is a dependency (not only a devDependency)
    const declared = new Set([pkg.name, ...Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies })]);
    const undeclared = new Map();
    // files the code finds at run time with resolvePackagePath(<one of these packages>, '<path>')
    const names = new Set(packed.map(x => x.name));
    const jsFiles = [...listFiles(path.join(root, 'dist')), ...listFiles(path.join(root, 'src')), ...listFiles(path.join(root, 'bin'))].filter(
      f => /\.(c|m)?js$/.test(f) || (path.basename(path.dirname(f)) === 'bin' && !path.extname(f)),
    );
    for (const js of jsFiles) {
      const code = fs.readFileSync(js, 'utf8');
      for (const m of code.matchAll(/(?:\brequire\(\s*|\bimport\(\s*|\bfrom\s+|^\s*import\s+)["']([^"'.\/\s,][^"'\s,]*)["']/gm)) {
        const spec = m[1];
        if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) continue;
        const dep = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!declared.has(dep) && !undeclared.has(dep)) undeclared.set(dep, path.relative(root, js));
      }
      for (const m of code.matchAll(/resolvePackagePath\(\s*["'`]([^"'`]+)["'`]\s*,\s*((?:["'`][^"'`]*["'`]\s*,?\s*)+)\)/g)) {
        if (!names.has(m[1])) continue;
        const parts = [...m[2].matchAll(/["'`]([^"'`]*)["'`]/g)].map(x => x[1]);
        const owner = path.join(tmp, 'unpacked', m[1].replace('/', '+'), 'package');
        const target = path.join(...parts);
        if (m[1] === p.name ? !fs.existsSync(path.join(root, target)) : fs.existsSync(owner) && !fs.existsSync(path.join(owner, target))) {
          // a warning only: resolvePackagePath computes a path, the backend run shows whether it is read
          warnings.push(`${p.name}: ${path.relative(root, js)} resolves ${m[1]}/${target}, which is not in the tarball`);
        }
      }
    }
    for (const [dep, file] of undeclared) {
      problems.push(`${p.name}: ${file} imports ${dep}, which is not in its dependencies`);
    }
    if (p.name === BACKEND) {
      const migrations = fs.existsSync(path.join(root, 'migrations')) ? fs.readdirSync(path.join(root, 'migrations')) : [];
      const repoMigrations = fs.readdirSync(path.join(ROOT, 'plugins/runtime-risk-backend/migrations'));
      for (const m of repoMigrations) if (!migrations.includes(m)) problems.push(`${p.name}: migrations/${m} is not in the tarball`);
    }
  }
  return { problems, warnings };
}

// ---------------------------------------------------------------------------------
// 3. the consumer project

function writeConsumerProject(packed, consumerDir, tarballDir) {
  const deps = {};
  const overrides = {};
  for (const p of packed) {
    if (p.name === CLI) continue;
    const spec = `file:${path.relative(consumerDir, path.join(tarballDir, path.basename(p.file)))}`;
    deps[p.name] = spec;
    // the tarballs depend on each other by version; npm must take them from the tarballs too
    overrides[p.name] = `$${p.name}`;
  }
  const pinned = [
    // backend, as in packages/backend of this repository (Backstage 1.55)
    '@backstage/backend-defaults',
    '@backstage/plugin-catalog-backend',
    '@backstage/plugin-scaffolder-backend',
    'better-sqlite3',
    // frontend: what the plugin leaves to the app (its peer dependencies). Not
    // @material-ui/core: its react peer range stops at 17, and npm refuses that conflict
    // for a direct dependency (ERESOLVE) while it only warns for the plugin's own.
    'react',
    'react-dom',
    'react-router-dom',
  ];
  for (const name of pinned) deps[name] = lockVersion(name);
  const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const pkg = {
    name: 'runtime-risk-consumer-check',
    version: '0.0.0',
    private: true,
    description: 'A Backstage backend and app using the Runtime Risk packages from their tarballs (made by scripts/consumer-check.mjs)',
    engines: { node: '22 || 24' },
    dependencies: deps,
    overrides,
    // the same review of install scripts as the repository's (better-sqlite3 builds with node-gyp)
    allowScripts: rootPkg.allowScripts ?? { 'better-sqlite3': true },
  };
  fs.writeFileSync(path.join(consumerDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  // npm's defaults, whatever the user's ~/.npmrc says (peer dependencies installed and checked)
  fs.writeFileSync(path.join(consumerDir, '.npmrc'), 'legacy-peer-deps=false\nfund=false\naudit=false\n');
  return pkg;
}

function writeBackendFiles(consumerDir, port) {
  const catalog = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-payments
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    runtime-risk.io/hosts: pay-prod-01
spec:
  type: service
  lifecycle: production
  owner: group:default/team-payments
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations:
    runtime-risk.io/hosts: ledger-prod-01
spec:
  type: service
  lifecycle: production
  owner: group:default/team-payments
`;
  const signals = [
    {
      sourceId: 'det-1',
      kind: 'detection',
      severity: 'critical',
      confidence: 0.95,
      status: 'active',
      title: 'Credential dumping via LSASS access',
      asset: { hostname: 'pay-prod-01', ips: ['10.0.1.11'] },
      firstSeenAt: 'now-3h',
      lastSeenAt: 'now-20m',
    },
    {
      sourceId: 'pos-ledger-prod-01',
      kind: 'posture',
      severity: 'informational',
      confidence: 1,
      status: 'active',
      title: 'Sensor healthy',
      asset: { hostname: 'ledger-prod-01', ips: ['10.0.2.11'] },
      firstSeenAt: 'now-30d',
      lastSeenAt: 'now-5m',
    },
  ];
  fs.writeFileSync(path.join(consumerDir, 'catalog.yaml'), catalog);
  fs.writeFileSync(path.join(consumerDir, 'signals.ndjson'), `${signals.map(s => JSON.stringify(s)).join('\n')}\n`);
  const appConfig = `# Written by scripts/consumer-check.mjs
app:
  baseUrl: http://localhost:3000
backend:
  baseUrl: http://localhost:${port}
  listen:
    port: ${port}
    host: 127.0.0.1
  database:
    client: better-sqlite3
    connection: ':memory:'
  auth:
    externalAccess:
      - type: static
        options:
          token: ${TOKEN}
          subject: consumer-check-ci
catalog:
  rules:
    - allow: [Component, System, API, Resource, Location, Group, User, Template]
  locations:
    - type: file
      target: ${JSON.stringify(path.join(consumerDir, 'catalog.yaml'))}
runtimeRisk:
  sources:
    file:
      path: ${JSON.stringify(path.join(consumerDir, 'signals.ndjson'))}
  ingestion:
    frequency: { seconds: 5 }
  correlation:
    frequency: { seconds: 5 }
  policy:
    id: consumer-check
    environments:
      production:
        thresholds: { moderate: 30, high: 70 }
        actions: { low: proceed, moderate: approval_required, high: block }
        maxSignalAge: { minutes: 15 }
        onFailure:
          sourceUnavailable: block
          signalsStale: approval_required
          uncorrelated: approval_required
          scoreUnavailable: block
`;
  fs.writeFileSync(path.join(consumerDir, 'app-config.yaml'), appConfig);
  const index = `// Written by scripts/consumer-check.mjs: the backend of a Backstage app, as in README "Install into your Backstage".
const { createBackend } = require('@backstage/backend-defaults');

const backend = createBackend();
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(import('@backstage/plugin-scaffolder-backend'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-file'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-crowdstrike'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-defender'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-sentinelone'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-webhook'));
backend.add(import('@runtime-risk/backstage-plugin-scaffolder-backend-module-runtime-risk'));
backend.start();
`;
  fs.writeFileSync(path.join(consumerDir, 'index.js'), index);
}

// ---------------------------------------------------------------------------------
// 4. the backend

function startBackend(consumerDir, env) {
  const logFile = path.join(consumerDir, 'backend.log');
  const out = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, ['index.js', '--config', path.join(consumerDir, 'app-config.yaml')], {
    cwd: consumerDir,
    env: { ...env, NODE_ENV: 'production', LOG_LEVEL: env.LOG_LEVEL ?? 'info' },
    stdio: ['ignore', out, out],
    detached: true,
  });
  fs.closeSync(out);
  const state = { child, logFile, exited: null };
  child.on('exit', (code, signal) => {
    state.exited = { code, signal };
  });
  return state;
}

function stopBackend() {
  if (!backend || backend.exited) return;
  try {
    process.kill(-backend.child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  const pid = backend.child.pid;
  setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 5000).unref();
}

/** The backend's errors, then the last lines of its log without the request lines. */
function backendLog() {
  if (!backend) return '';
  const lines = fs.readFileSync(backend.logFile, 'utf8').split('\n');
  const errors = lines.filter(l => /"level":"error"|^\s*Error|BackendStartupError/.test(l)).map(l => l.slice(0, 1500));
  const rest = lines.filter(l => !/"type":"incomingRequest"/.test(l));
  return [...(errors.length ? ['errors:', ...errors.slice(0, 10), 'last lines:'] : []), ...rest.slice(-15)].join('\n');
}

/** The backend logged that it could not start (it keeps running, answering 503). */
function startupFailure() {
  if (!backend) return undefined;
  const line = fs
    .readFileSync(backend.logFile, 'utf8')
    .split('\n')
    .find(l => /BackendStartupError|Backend startup failed/.test(l));
  if (!line) return undefined;
  try {
    return JSON.parse(line).message;
  } catch {
    return line.slice(0, 1500);
  }
}

async function waitFor(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (backend?.exited) {
      return { ok: false, last: `backend exited (${JSON.stringify(backend.exited)}) while waiting for ${what}` };
    }
    try {
      const r = await probe();
      if (r.ok || r.fatal) return r;
      last = r.last;
    } catch (e) {
      last = e.message;
    }
    await sleep(1000);
  }
  return { ok: false, last: `timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${last}` };
}

async function gate(base, entityRef, environment, token = TOKEN) {
  return fetchJson(`${base}/api/runtime-risk/v1/gate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ entityRef, environment, artifact: 'consumer-check', pipeline: { provider: 'consumer-check' } }),
  });
}

const hostIds = body => (Array.isArray(body?.hosts) ? body.hosts.map(h => h.id) : []);

async function backendChecks(consumerDir, env, port) {
  const base = `http://127.0.0.1:${port}`;
  let t0 = Date.now();
  backend = startBackend(consumerDir, env);
  const ready = await waitFor('readiness', 180_000, async () => {
    const failure = startupFailure();
    if (failure) return { ok: false, fatal: true, last: `the backend did not start: ${failure}` };
    const r = await fetchJson(`${base}/.backstage/health/v1/readiness`, {}, 3000);
    return { ok: r.status === 200, last: `readiness ${r.status} ${JSON.stringify(r.body)}` };
  });
  must('backend starts (createBackend + catalog + scaffolder + runtime-risk backend and modules from the tarballs)', ready.ok, ready.ok ? `ready on :${port} in ${secs(t0)}` : `${ready.last}\n--- backend.log (tail) ---\n${backendLog()}`);

  const unauth = await gate(base, 'component:default/payments', 'production', null);
  record('gate refuses a call without credentials', unauth.status === 401, `HTTP ${unauth.status}`);

  // the catalog processes its file location and the file source syncs shortly after start
  t0 = Date.now();
  const blocked = await waitFor('the gate to see payments with its signal', 120_000, async () => {
    const r = await gate(base, 'component:default/payments', 'production');
    const ok = r.status === 200 && hostIds(r.body).includes('pay-prod-01') && r.body?.signals?.count >= 1;
    return { ok, last: `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`, r };
  });
  if (!blocked.ok) {
    must('POST /api/runtime-risk/v1/gate (static token) answers for component:default/payments', false, `${blocked.last}\n--- backend.log (tail) ---\n${backendLog()}`);
  }
  const b = blocked.r.body;
  must(
    'POST /api/runtime-risk/v1/gate (static token) matches hosts and decides',
    DECISIONS.includes(b.decision) &&
      b.decision === 'block' &&
      b.riskLevel === 'high' &&
      Array.isArray(b.reasons) &&
      b.reasons.some(x => x.code === 'signal_active') &&
      typeof b.decisionId === 'string',
    `payments -> production: ${b.decision} (risk ${b.riskLevel}, score ${b.score}, hosts ${hostIds(b).join(',')}, reasons ${(b.reasons ?? []).map(x => x.code).join(',')}) after ${secs(t0)}`,
  );

  const quiet = await waitFor('the gate to see ledger with its posture signal', 60_000, async () => {
    const r = await gate(base, 'component:default/ledger', 'production');
    const ok = r.status === 200 && hostIds(r.body).includes('ledger-prod-01') && r.body?.signals?.stale === false;
    return { ok, last: `HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`, r };
  });
  record(
    'gate lets a component with a healthy host proceed',
    quiet.ok && quiet.r.body.decision === 'proceed',
    quiet.ok ? `ledger -> production: ${quiet.r.body.decision} (risk ${quiet.r.body.riskLevel})` : quiet.last,
  );

  const decisions = await fetchJson(`${base}/api/runtime-risk/v1/decisions?entityRef=${encodeURIComponent('component:default/payments')}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const items = decisions.body?.items ?? [];
  record('decisions are recorded (GET /v1/decisions)', decisions.status === 200 && Array.isArray(items) && items.length >= 1, `HTTP ${decisions.status}, ${Array.isArray(items) ? items.length : '?'} decisions`);

  const actions = await fetchJson(`${base}/api/scaffolder/v2/actions`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const actionIds = Array.isArray(actions.body) ? actions.body.map(a => a.id) : [];
  record('scaffolder module registers runtime-risk:gate', actionIds.includes('runtime-risk:gate'), `HTTP ${actions.status}, ${actionIds.length} actions`);

  // the OpenFeature provider tarball, used from the consumer project against the running backend
  const ofScript = path.join(consumerDir, 'openfeature-check.js');
  fs.writeFileSync(
    ofScript,
    `const { RuntimeRiskProvider, DECISION_FLAG } = require('${OPENFEATURE}');
const provider = new RuntimeRiskProvider({ baseUrl: process.argv[2], token: process.argv[3] });
provider
  .resolveStringEvaluation(DECISION_FLAG, 'unknown', { entityRef: 'component:default/payments', environment: 'production' })
  .then(r => { console.log(JSON.stringify(r)); process.exit(r.value === 'block' ? 0 : 1); })
  .catch(e => { console.error(e); process.exit(1); });
`,
  );
  const of = await run(process.execPath, [ofScript, `${base}/api/runtime-risk`, TOKEN], { cwd: consumerDir, env, timeoutMs: 60_000 });
  let ofDetail = tail(of.output, 5);
  try {
    const r = JSON.parse(of.stdout.trim().split('\n').pop());
    ofDetail = `value ${r.value}, reason ${r.reason}`;
  } catch {
    // keep the raw output
  }
  record('OpenFeature provider (from its tarball) answers runtime-risk.decision', of.code === 0, ofDetail);
  return base;
}

// ---------------------------------------------------------------------------------
// 6. the CLI

async function cliChecks(packed, env, base) {
  const cli = packed.find(p => p.name === CLI);
  if (!cli) return record('CLI tarball', false, `${CLI} was not packed`);
  const prefix = path.join(tmp, 'cli-prefix');
  const t0 = Date.now();
  const inst = await run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', cli.file], { cwd: tmp, env, timeoutMs: 5 * 60_000 });
  if (!record('CLI installs from its tarball alone (npm i -g --prefix)', inst.code === 0, inst.code === 0 ? `in ${secs(t0)}` : tail(inst.output, 20))) return;
  const bin = path.join(prefix, 'bin', 'runtime-risk');
  const help = await run(bin, ['--help'], { cwd: tmp, env, timeoutMs: 60_000 });
  record('runtime-risk --help runs from the installed tarball', help.code === 0 && /Usage:/.test(help.output), help.code === 0 ? help.output.trim().split('\n')[0] : `exit ${help.code}: ${tail(help.output, 10)}`);
  if (!base) return;
  const g = await run(bin, ['gate', '--entity', 'component:default/payments', '--env', 'production'], {
    cwd: tmp,
    env: { ...env, RUNTIME_RISK_URL: base, RUNTIME_RISK_TOKEN: TOKEN },
    timeoutMs: 60_000,
  });
  record('runtime-risk gate (installed CLI) gets the block from the backend (exit 1)', g.code === 1 && /BLOCK/.test(g.output), `exit ${g.code}: ${g.output.trim().split('\n')[0]}`);
}

// ---------------------------------------------------------------------------------
// 7. the frontend

async function frontendCheck(consumerDir) {
  const appDir = path.join(consumerDir, 'app');
  fs.mkdirSync(appDir, { recursive: true });
  fs.writeFileSync(
    path.join(appDir, 'index.jsx'),
    `// Written by scripts/consumer-check.mjs: what an app imports from the frontend plugin.
import React from 'react';
import { createRoot } from 'react-dom/client';
import {
  runtimeRiskPlugin,
  RuntimeRiskPage,
  EntityRuntimeRiskCard,
  EntityRuntimeRiskContent,
  runtimeRiskApiRef,
  RuntimeRiskClient,
} from '${FRONTEND}';
import runtimeRiskFeature from '${FRONTEND}/alpha';

export const legacy = { runtimeRiskPlugin, RuntimeRiskPage, EntityRuntimeRiskCard, EntityRuntimeRiskContent, runtimeRiskApiRef, RuntimeRiskClient };
export const features = [runtimeRiskFeature];
export function mount(el) {
  createRoot(el).render(React.createElement('div', null, runtimeRiskPlugin.getId()));
}
`,
  );
  // esbuild from the repository's node_modules; everything it bundles resolves from the
  // consumer project (the entry lives there, and the temporary directory is outside the repository)
  const esbuild = createRequire(path.join(ROOT, 'package.json'))('esbuild');
  const t0 = Date.now();
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: consumerDir,
      entryPoints: [path.join(appDir, 'index.jsx')],
      outdir: path.join(appDir, 'dist'),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      metafile: true,
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
      loader: { '.svg': 'file', '.png': 'file', '.jpg': 'file', '.gif': 'file', '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.css': 'css', '.js': 'jsx' },
    });
  } catch (e) {
    const msgs = (e.errors ?? []).map(x => `${x.location ? `${x.location.file}:${x.location.line}: ` : ''}${x.text}`);
    return record('frontend plugin (and /alpha) bundles from its tarball with esbuild', false, msgs.slice(0, 20).join('\n') || e.message);
  }
  const inputs = Object.keys(result.metafile.inputs).map(f => path.resolve(consumerDir, f));
  const fromRepo = inputs.filter(f => f.startsWith(`${ROOT}${path.sep}`));
  const pluginDir = `${path.sep}node_modules${path.sep}@runtime-risk${path.sep}backstage-plugin-runtime-risk${path.sep}`;
  const pluginFiles = inputs.filter(f => f.includes(pluginDir) && !f.split(pluginDir).pop().includes(`node_modules${path.sep}`));
  const lazy = pluginFiles.filter(f => f.includes(`${path.sep}components${path.sep}`));
  const size = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  record(
    'frontend plugin (and /alpha) bundles from its tarball with esbuild',
    fromRepo.length === 0 && pluginFiles.length > 0 && lazy.length > 0,
    fromRepo.length
      ? `resolved into the repository: ${fromRepo.slice(0, 5).join(', ')}`
      : `${inputs.length} modules (${pluginFiles.length} from the plugin, ${lazy.length} lazy component files), ${(size / 1024 / 1024).toFixed(1)} MB in ${secs(t0)}`,
  );
}

// ---------------------------------------------------------------------------------

function writeReport(extra = {}) {
  if (!REPORT) return;
  fs.mkdirSync(path.dirname(REPORT), { recursive: true });
  const report = { checks, tmp, seconds: Math.round((Date.now() - started) / 1000), versions: reportVersions, ...extra };
  fs.writeFileSync(REPORT, `${JSON.stringify(report, null, 2)}\n`);
}

function finish(code, message) {
  stopBackend();
  const failed = checks.filter(c => !c.ok);
  const ok = code === 0 && failed.length === 0;
  if (ok && tmp && !KEEP) {
    fs.rmSync(tmp, { recursive: true, force: true });
  } else if (tmp) {
    console.log(`consumer-check: kept ${tmp}`);
  }
  writeReport(message ? { error: message } : {});
  const summary = `${checks.length - failed.length} passed, ${failed.length} failed, ${secs(started)}`;
  if (ok) {
    console.log(`consumer check: PASS (${summary})`);
  } else {
    if (message) console.log(`consumer-check: ${message}`);
    for (const c of failed) console.log(`consumer-check: failed: ${c.name}`);
    console.log(`consumer check: FAIL (${summary})`);
  }
  process.exit(ok ? 0 : 1);
}

process.on('exit', stopBackend);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => finish(1, `interrupted by ${sig}`));
}
setTimeout(() => {
  record('whole check within its time limit', false, `still running after ${TOTAL_TIMEOUT_MS / 1000} s`);
  finish(1, 'timed out');
}, TOTAL_TIMEOUT_MS).unref();

async function main() {
  const env = nodeEnv();
  const node = await run(process.execPath, ['--version']);
  const npm = await run('npm', ['--version'], { env });
  log(`node ${node.output.trim()}, npm ${npm.output.trim()}`);
  Object.assign(reportVersions, { node: node.output.trim(), npm: npm.output.trim() });
  if (!/^v(22|24)\./.test(node.output.trim())) {
    must('Node 22 or 24 on PATH', false, `node ${node.output.trim()}`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-risk-consumer-'));
  if (tmp.startsWith(`${ROOT}${path.sep}`)) throw new Error(`temporary directory ${tmp} is inside the repository`);
  log(`temporary directory ${tmp}`);

  // 1. build and pack
  let t0 = Date.now();
  if (!SKIP_BUILD) {
    try {
      await buildPackages({ log: m => log(m) });
    } catch (e) {
      must('packages build (tsc + backstage-cli package build)', false, e.message);
    }
    record('packages build (tsc + backstage-cli package build)', true, secs(t0));
  }
  t0 = Date.now();
  const tarballDir = path.join(tmp, 'tarballs');
  let packed;
  try {
    packed = await packPackages({ dest: tarballDir, log: m => log(m) });
  } catch (e) {
    must('npm pack of every publishable package (package.json restored after)', false, e.message);
  }
  const expected = listPublishable().map(p => p.name);
  must(
    'npm pack of every publishable package (package.json restored after)',
    expected.every(n => packed.some(p => p.name === n)),
    `${packed.length} tarballs in ${secs(t0)}`,
  );

  // 2. contents
  const { problems, warnings } = await inspectTarballs(packed);
  for (const w of warnings) console.log(`WARN ${w}`);
  record('every tarball has what its package.json names (main, types, exports, bin, configSchema, migrations) and declares every package its code imports', problems.length === 0, problems.join('\n'));

  // 3. install
  const consumerDir = path.join(tmp, 'consumer');
  fs.mkdirSync(consumerDir);
  const consumerPkg = writeConsumerProject(packed, consumerDir, tarballDir);
  const cache = (await run('npm', ['config', 'get', 'cache'], { cwd: ROOT, env })).stdout.trim();
  t0 = Date.now();
  log(`npm install in ${consumerDir} (cache ${cache})`);
  const inst = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--cache', cache], {
    cwd: consumerDir,
    env,
    timeoutMs: 15 * 60_000,
  });
  fs.writeFileSync(path.join(tmp, 'npm-install.log'), inst.output);
  must('npm install of the tarballs (file: only) with the Backstage 1.55 backend', inst.code === 0, inst.code === 0 ? `in ${secs(t0)}` : tail(inst.output, 40));
  // every @runtime-risk package in the tree must be a real folder unpacked from a tarball
  const links = [];
  const scopeDir = path.join(consumerDir, 'node_modules', '@runtime-risk');
  for (const name of fs.existsSync(scopeDir) ? fs.readdirSync(scopeDir) : []) {
    const d = path.join(scopeDir, name);
    if (fs.lstatSync(d).isSymbolicLink() || fs.realpathSync(d).startsWith(ROOT)) links.push(`@runtime-risk/${name}`);
  }
  const nested = (await run('find', ['node_modules', '-path', '*/node_modules/@runtime-risk/*', '-maxdepth', '6', '-name', 'package.json', '-not', '-path', 'node_modules/@runtime-risk/*'], { cwd: consumerDir })).stdout.trim();
  must(
    'installed @runtime-risk packages are unpacked tarballs (no links into the repository, no second copy)',
    links.length === 0 && nested === '' && Object.keys(consumerPkg.overrides).every(n => fs.existsSync(path.join(consumerDir, 'node_modules', n, 'package.json'))),
    links.length ? `linked: ${links.join(', ')}` : nested ? `nested copies: ${nested.split('\n').join(', ')}` : `${Object.keys(consumerPkg.overrides).length} packages`,
  );
  const versions = {};
  for (const n of ['@backstage/backend-defaults', '@backstage/plugin-catalog-backend', '@backstage/plugin-scaffolder-backend', 'better-sqlite3', 'react']) {
    versions[n] = JSON.parse(fs.readFileSync(path.join(consumerDir, 'node_modules', n, 'package.json'), 'utf8')).version;
  }
  Object.assign(reportVersions, versions);
  log(`installed ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(', ')}`);

  // 4-5. backend
  const port = await freePort();
  writeBackendFiles(consumerDir, port);
  let base;
  try {
    base = await backendChecks(consumerDir, env, port);
  } catch (e) {
    // recorded; the CLI and the frontend are still checked
    if (!(e instanceof Stop)) throw e;
  }
  // 6. CLI (its gate call uses the backend when it runs)
  await cliChecks(packed, env, base);
  stopBackend();
  // 7. frontend
  await frontendCheck(consumerDir);
}

main().then(
  () => finish(0),
  e => finish(1, e instanceof Stop ? undefined : `error: ${e.stack || e.message}`),
);
