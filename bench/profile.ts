import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

/**
 * Runs `fn` under a V8 CPU profile of this process (the bench runs the backend
 * in-process) when `dir` is set, and writes `<dir>/<name>.cpuprofile`. Set by
 * RUNTIME_RISK_BENCH_READ_PROFILE (read routes) and RUNTIME_RISK_BENCH_GATE_PROFILE
 * (the recorded gate load).
 */
export async function profiled<T>(dir: string | undefined, name: string, fn: () => Promise<T>, log: (m: string) => void): Promise<T> {
  if (!dir) return fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    log(`CPU profile of ${name} in ${file}`);
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Where a profiled load spent the process's time: shares by kind of work and the top functions by self time. */
export interface ProfileSummary {
  /** Milliseconds sampled. */
  totalMs: number;
  /** Share (0..1) per kind of work. */
  shares: Record<string, number>;
  /** The functions with the most self time. */
  top: { name: string; where: string; share: number }[];
}

/** The kind of work a frame is: the package it is in, the runtime's own, or this repository's plugin code. */
function kindOf(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)') return 'idle (waiting: PostgreSQL, the loader)';
  if (functionName === '(program)' || functionName === '(root)') return 'V8 / native (program)';
  if (/node_modules\/(pg|pg-protocol|pg-types|knex|tarn|pg-copy-streams)\//.test(url)) return 'database driver (knex, pg)';
  if (/node_modules\/(express|express-promise-router|body-parser|raw-body|qs|content-type|etag|send|finalhandler|router|express-openapi-validator|cors|helmet|compression|morgan)\//.test(url)) {
    return 'HTTP framework (express, body parsing, OpenAPI validator)';
  }
  if (/node_modules\/@backstage\//.test(url)) return 'Backstage services (auth, auditor, permissions, cache, notifications)';
  if (/node_modules\//.test(url)) return 'other packages';
  if (url.startsWith('node:') || url === '') {
    return /writev|write|read|utf8|latin1|Socket|stream|http/i.test(`${url} ${functionName}`) ? 'Node HTTP and sockets' : 'Node runtime';
  }
  if (/plugins\/runtime-risk|bench\.cjs/.test(url)) return 'runtime-risk code';
  return 'other';
}

/** Summarizes a V8 CPU profile (`Profiler.stop`'s `profile`). */
export function summarizeProfile(profile: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] }, top = 12): ProfileSummary {
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (deltas[i] ?? 0) / 1000);
  let totalMs = 0;
  const kinds = new Map<string, number>();
  const fns = new Map<string, { name: string; where: string; ms: number }>();
  for (const n of profile.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (!ms) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    // the profiler's own inspector session is not the backend's work
    if (url === 'node:inspector') continue;
    totalMs += ms;
    const kind = kindOf(url, functionName);
    kinds.set(kind, (kinds.get(kind) ?? 0) + ms);
    const where = `${url.replace(/.*node_modules\//, '').replace(/.*\/(bench\/\.out\/)/, '$1')}:${lineNumber + 1}`;
    const key = `${functionName}@${where}`;
    const f = fns.get(key) ?? { name: functionName || '(anonymous)', where, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
  }
  const share = (ms: number) => Math.round((ms / (totalMs || 1)) * 1000) / 1000;
  return {
    totalMs: Math.round(totalMs),
    shares: Object.fromEntries([...kinds.entries()].sort((a, b) => b[1] - a[1]).map(([k, ms]) => [k, share(ms)])),
    top: [...fns.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map(f => ({ name: f.name, where: f.where, share: share(f.ms) })),
  };
}

/** Runs `fn` under a CPU profile and answers its summary with its result. */
export async function withProfileSummary<T>(fn: () => Promise<T>): Promise<{ result: T; profile: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    const result = await fn();
    const { profile } = await session.post('Profiler.stop');
    return { result, profile: summarizeProfile(profile as never) };
  } finally {
    session.disconnect();
  }
}

/** Markdown lines of a profile summary. */
export function profileMarkdown(title: string, p: ProfileSummary): string[] {
  const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;
  return [
    `**${title}** (CPU profile of the bench process, which runs the backend; ${p.totalMs} ms sampled)`,
    '',
    '| kind of work | share |',
    '| --- | --- |',
    ...Object.entries(p.shares).map(([k, v]) => `| ${k} | ${pct(v)} |`),
    '',
    '| function (self time) | where | share |',
    '| --- | --- | --- |',
    ...p.top.map(f => `| ${f.name.replace(/\|/g, '\\|')} | ${f.where.replace(/\|/g, '\\|')} | ${pct(f.share)} |`),
    '',
  ];
}
