import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeGateServer } from './testing/fakeGate';
import { outputOf } from './testing/runCli';

const PACKAGE_DIR = path.resolve(__dirname, '..');
const VERSION = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')).version as string;
const TOKEN = 'pack-test-t0ken-5b1e';

/** Runs a command to completion; the environment holds PATH (node and npm) and `env` only. */
function run(command: string, args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    env: { PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, HOME: options.cwd, ...options.env },
    timeout: 120_000,
  });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The CLI as a user gets it: `npm pack` of plugins/runtime-risk-cli, installed globally
 * into an empty prefix outside the repository (offline: it has no dependencies) and run
 * by its bin link, from a directory where no node_modules of this repository can be found.
 */
describe('runtime-risk CLI from its npm tarball', () => {
  let tmp: string;
  let bin: string;
  let installed: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-risk-cli-pack-'));
    const npmEnv = { npm_config_cache: path.join(tmp, 'npm-cache'), npm_config_update_notifier: 'false' };
    const pack = run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: PACKAGE_DIR, env: npmEnv });
    expect(pack.code, pack.stderr).toBe(0);
    const [{ filename }] = JSON.parse(pack.stdout) as { filename: string }[];
    const prefix = path.join(tmp, 'prefix');
    const install = run(
      'npm',
      ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', path.join(tmp, filename)],
      { cwd: tmp, env: npmEnv },
    );
    expect(install.code, install.stderr).toBe(0);
    bin = path.join(prefix, 'bin', 'runtime-risk');
    installed = path.join(prefix, 'lib', 'node_modules', '@runtime-risk', 'runtime-risk-cli');
  }, 180_000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the bin (executable, with a node shebang) and the runtime sources only', () => {
    const binFile = path.join(installed, 'bin', 'runtime-risk');
    expect(fs.readFileSync(binFile, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(fs.statSync(binFile).mode & 0o111).not.toBe(0);
    const files = fs.readdirSync(installed, { recursive: true, encoding: 'utf8' }).map(f => f.split(path.sep).join('/'));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'bin/runtime-risk', 'src/cli.js', 'src/format.js']));
    expect(files.filter(f => /\.test\.|testing|\.ts$|tsconfig/.test(f))).toEqual([]);
    // No runtime dependency: the installed package has no node_modules of its own to find.
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.bin).toEqual({ 'runtime-risk': 'bin/runtime-risk' });
  });

  it('requires nothing but Node built-ins and its own files', () => {
    const sources = ['bin/runtime-risk', ...fs.readdirSync(path.join(installed, 'src')).map(f => `src/${f}`)];
    for (const file of sources) {
      const text = fs.readFileSync(path.join(installed, file), 'utf8');
      for (const [, spec] of text.matchAll(/require\(\s*'([^']+)'\s*\)/g)) {
        if (spec.startsWith('node:')) continue;
        expect(spec, `${file} requires '${spec}'`).toMatch(/^\.\.?\//);
        expect(() => require.resolve(spec, { paths: [path.dirname(path.join(installed, file))] }), `${file}: ${spec}`).not.toThrow();
        expect(require.resolve(spec, { paths: [path.dirname(path.join(installed, file))] }).startsWith(installed)).toBe(true);
      }
    }
  });

  it('runtime-risk --help exits 0 and prints the usage', () => {
    const result = run(bin, ['--help'], { cwd: tmp });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`runtime-risk ${VERSION}: deployment gate client`);
    expect(result.stdout).toContain('runtime-risk gate --entity <ref> --env <environment>');
    expect(result.stdout).toContain('4  bad usage');
  });

  it('runtime-risk --version exits 0 and prints the package version', () => {
    const result = run(bin, ['--version'], { cwd: tmp });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${VERSION}\n`);
  });

  it('asks a gate and exits with its answer', async () => {
    const gate = new FakeGateServer(TOKEN);
    gate.scenarios.set('component:default/payments', {
      decision: 'block',
      riskLevel: 'high',
      score: 90,
      reasons: [{ code: 'signal_active', message: 'critical detection on web-01', signalIds: ['file:d-1'] }],
    });
    await gate.start();
    try {
      // Not spawnSync: it would block the event loop the fake gate answers on.
      const result = await outputOf(
        spawn(bin, ['gate', '--entity', 'component:default/payments', '--env', 'production', '--json'], {
          cwd: tmp,
          env: {
            PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
            RUNTIME_RISK_URL: gate.url,
            RUNTIME_RISK_TOKEN: TOKEN,
          },
        }),
      );
      expect(result.code, result.stderr).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ decision: 'block', riskLevel: 'high' });
    } finally {
      await gate.stop();
    }
  });
});
