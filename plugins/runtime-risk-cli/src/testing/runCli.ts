import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import path from 'node:path';

export const BIN = path.resolve(__dirname, '../../bin/runtime-risk');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The exit code and whole output of `child` (spawned with piped stdout and stderr), once it has closed. */
export function outputOf(child: ChildProcess & { stdout: Readable; stderr: Readable }): Promise<Run> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr }));
  });
}

/**
 * A runner of the real CLI (`node bin/runtime-risk ...`) with a clean
 * environment (PATH plus `env`). Whatever happens, `secret` (the token) must
 * never reach stdout or stderr: every run asserts it.
 */
export function cliRunner(secret: string): (args: string[], env?: Record<string, string>) => Promise<Run> {
  return async (args, env = {}) => {
    const run = await outputOf(
      spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    expect(`${run.stdout}\n${run.stderr}`).not.toContain(secret);
    return run;
  };
}
