// Entry of `npm run bench`: bundles bench/bench.ts (and the workspace sources it
// imports, which ship as TypeScript) with esbuild, then runs it with node.
// Every flag is passed on (see `npm run bench -- --help`); `--profile` adds a
// V8 CPU profile (bench/.out/*.cpuprofile) of the benchmark process.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = path.join(here, '.out', 'bench.cjs');

/** Leaves npm packages outside the bundle, resolved from the importing file (keeps nested versions). */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, args => {
      if (args.path.startsWith('@runtime-risk/') || args.kind === 'entry-point') return undefined;
      try {
        const resolved = createRequire(path.join(args.resolveDir, 'noop.js')).resolve(args.path);
        return { path: resolved, external: true };
      } catch {
        // not resolvable with require (e.g. an ESM-only export map): node resolves it at run time
        return { path: args.path, external: true };
      }
    });
  },
};

await build({
  entryPoints: [path.join(here, 'bench.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile,
  sourcemap: 'inline',
  logLevel: 'warning',
  plugins: [externalPackages],
});

const args = process.argv.slice(2);
const nodeArgs = ['--enable-source-maps'];
if (args.includes('--profile')) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.join(here, '.out')}`);
const child = spawn(process.execPath, [...nodeArgs, outfile, ...args.filter(a => a !== '--profile')], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
