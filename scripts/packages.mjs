#!/usr/bin/env node
/*
 * Builds and packs the publishable packages (every workspace without "private": true).
 *
 *   node scripts/packages.mjs build            (npm run build:packages)
 *     tsc once at the root (declarations into dist-types/), then
 *     `backstage-cli package build` in every publishable package that has a build script
 *     (the CLI is plain JavaScript and has none), a few at a time.
 *   node scripts/packages.mjs pack [--dest DIR] (npm run pack:packages; DIR defaults to dist-packages/)
 *     `npm pack --pack-destination DIR` in every publishable package. prepack/postpack
 *     (backstage-cli) rewrite package.json for the tarball and restore it; this script
 *     fails if a package.json is not byte-for-byte what it was before.
 *
 * Also imported by scripts/consumer-check.mjs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_PACK_DEST = path.join(ROOT, 'dist-packages');

/** Runs a command; resolves with { code, output (stdout+stderr), stdout }, never rejects on a non-zero exit. */
export function run(cmd, args, { cwd = ROOT, env = process.env, timeoutMs = 20 * 60_000, echo = false } = {}) {
  return new Promise(resolve => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    const onData = d => {
      output += d;
      if (echo) process.stdout.write(d);
    };
    child.stdout.on('data', d => {
      stdout += d;
      onData(d);
    });
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      output += `\n[timed out after ${Math.round(timeoutMs / 1000)} s]\n`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', e => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}\n${e.message}`, stdout });
    });
    child.on('close', code => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output, stdout });
    });
  });
}

/** The workspace folders of the root package.json (packages/*, plugins/*), sorted. */
function workspaceDirs() {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const dirs = [];
  for (const pattern of rootPkg.workspaces ?? []) {
    if (!pattern.endsWith('/*')) {
      dirs.push(path.join(ROOT, pattern));
      continue;
    }
    const parent = path.join(ROOT, pattern.slice(0, -2));
    if (!fs.existsSync(parent)) continue;
    for (const name of fs.readdirSync(parent).sort()) dirs.push(path.join(parent, name));
  }
  return dirs.filter(d => fs.existsSync(path.join(d, 'package.json')));
}

/**
 * The publishable packages, dependencies before dependents:
 * [{ dir, name, version, build: boolean, internalDeps: string[] }].
 */
export function listPublishable() {
  const pkgs = [];
  for (const dir of workspaceDirs()) {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    pkgs.push({
      dir,
      rel: path.relative(ROOT, dir),
      name: pkg.name,
      version: pkg.version,
      build: Boolean(pkg.scripts?.build),
      deps: Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }),
    });
  }
  const names = new Set(pkgs.map(p => p.name));
  for (const p of pkgs) p.internalDeps = p.deps.filter(d => names.has(d));
  // topological order (stable by folder name)
  const ordered = [];
  const seen = new Set();
  const visit = (p, stack = []) => {
    if (seen.has(p.name)) return;
    if (stack.includes(p.name)) throw new Error(`dependency cycle: ${[...stack, p.name].join(' -> ')}`);
    for (const d of p.internalDeps) visit(pkgs.find(q => q.name === d), [...stack, p.name]);
    seen.add(p.name);
    ordered.push(p);
  };
  for (const p of pkgs) visit(p);
  return ordered;
}

function localBin(name) {
  return path.join(ROOT, 'node_modules', '.bin', name);
}

/** tsc at the root, then backstage-cli package build everywhere (a dependency's build before its dependents'). */
export async function buildPackages({ log = console.log, concurrency = Math.max(1, Math.min(4, os.cpus().length)) } = {}) {
  const started = Date.now();
  log(`build: tsc -p tsconfig.json (declarations into dist-types/)`);
  const tsc = await run(localBin('tsc'), ['-p', 'tsconfig.json']);
  if (tsc.code !== 0) {
    throw new Error(`tsc failed (exit ${tsc.code}):\n${tsc.output.trim().split('\n').slice(-40).join('\n')}`);
  }
  const pkgs = listPublishable().filter(p => p.build);
  const done = new Set();
  const failed = [];
  const pending = [...pkgs];
  const running = new Set();
  await new Promise(resolveAll => {
    const next = () => {
      if (pending.length === 0 && running.size === 0) return resolveAll();
      while (running.size < concurrency) {
        // backstage-cli builds from dist-types, so a package does not need its dependencies'
        // dist/; the order only keeps the log readable and dependents after dependencies.
        const i = pending.findIndex(p => p.internalDeps.every(d => done.has(d) || !pkgs.some(q => q.name === d)));
        if (i < 0) break;
        const [p] = pending.splice(i, 1);
        const t0 = Date.now();
        const job = run(localBin('backstage-cli'), ['package', 'build'], { cwd: p.dir }).then(r => {
          running.delete(job);
          if (r.code === 0) {
            log(`build: ${p.rel} ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          } else {
            failed.push(`${p.rel} (exit ${r.code}):\n${r.output.trim().split('\n').slice(-30).join('\n')}`);
            log(`build: ${p.rel} FAILED`);
          }
          done.add(p.name);
          next();
        });
        running.add(job);
      }
    };
    next();
  });
  if (failed.length) throw new Error(`backstage-cli package build failed in:\n${failed.join('\n\n')}`);
  log(`build: ${pkgs.length} packages in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * npm pack of every publishable package into dest (emptied first).
 * Returns [{ name, version, rel, file (absolute path of the .tgz), files: [paths in the tarball] }].
 */
export async function packPackages({ dest = DEFAULT_PACK_DEST, log = console.log, concurrency = Math.max(1, Math.min(4, os.cpus().length)) } = {}) {
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  const results = [];
  const problems = [];
  // each package's prepack/postpack touches only its own package.json, so a few run at once
  const packOne = async p => {
    const pkgJson = path.join(p.dir, 'package.json');
    // backstage-cli prepack keeps the original as package.json-prepack until postpack:
    // while it exists, another npm pack of this package is running (or was cut short);
    // packing now would save the rewritten file as the "original"
    const backup = path.join(p.dir, 'package.json-prepack');
    for (let waited = 0; fs.existsSync(backup) && waited < 120; waited++) {
      await new Promise(r => setTimeout(r, 1000));
    }
    if (fs.existsSync(backup)) {
      problems.push(`${p.rel}: package.json-prepack exists (another npm pack running, or one cut short: compare it with package.json and restore it)`);
      return;
    }
    const before = fs.readFileSync(pkgJson);
    if (p.build && !fs.existsSync(path.join(p.dir, 'dist'))) {
      problems.push(`${p.rel}: no dist/ (run npm run build:packages first)`);
      return;
    }
    const r = await run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: p.dir, timeoutMs: 5 * 60_000 });
    const after = fs.readFileSync(pkgJson);
    if (!before.equals(after)) {
      // not written back: a difference is either a postpack that did not restore the file
      // (backstage-cli keeps the original as package.json-prepack) or someone's edit meanwhile
      problems.push(`${p.rel}: package.json is not what it was before npm pack (see git diff ${p.rel}/package.json)`);
    }
    if (r.code !== 0) {
      problems.push(`${p.rel}: npm pack failed (exit ${r.code}):\n${r.output.trim().split('\n').slice(-20).join('\n')}`);
      return;
    }
    let info;
    try {
      // lifecycle scripts may print before the JSON array
      info = JSON.parse(r.stdout.slice(r.stdout.search(/^\[/m)))[0];
    } catch {
      info = undefined;
    }
    const filename = info?.filename ?? `${p.name.replace(/^@/, '').replace('/', '-')}-${p.version}.tgz`;
    const file = path.join(dest, filename);
    if (!fs.existsSync(file)) {
      problems.push(`${p.rel}: npm pack wrote no ${filename}`);
      return;
    }
    const files = (info?.files ?? []).map(f => f.path);
    results.push({ name: p.name, version: p.version, rel: p.rel, file, files });
    log(`pack: ${p.rel} -> ${path.basename(file)} (${files.length} files, ${(fs.statSync(file).size / 1024).toFixed(0)} kB)`);
  };
  const queue = listPublishable();
  const order = queue.map(p => p.name);
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      while (queue.length) await packOne(queue.shift());
    }),
  );
  results.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  if (problems.length) throw new Error(`packing failed:\n${problems.join('\n')}`);
  return results;
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  try {
    if (cmd === 'build') {
      await buildPackages();
    } else if (cmd === 'pack') {
      const i = rest.indexOf('--dest');
      const dest = i >= 0 ? path.resolve(rest[i + 1]) : DEFAULT_PACK_DEST;
      const packed = await packPackages({ dest });
      console.log(`pack: ${packed.length} tarballs in ${path.relative(ROOT, dest) || dest}`);
    } else if (cmd === 'list') {
      for (const p of listPublishable()) console.log(`${p.name}@${p.version}  ${p.rel}${p.build ? '' : '  (no build)'}`);
    } else {
      console.error('usage: node scripts/packages.mjs build | pack [--dest DIR] | list');
      process.exit(2);
    }
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
