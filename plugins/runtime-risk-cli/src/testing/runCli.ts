import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve(__dirname, '../../bin/runtime-risk');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A runner of the real CLI (`node bin/runtime-risk ...`) with a clean
 * environment (PATH plus `env`). Whatever happens, `secret` (the token) must
 * never reach stdout or stderr: every run asserts it.
 */
export function cliRunner(secret: string): (args: string[], env?: Record<string, string>) => Promise<Run> {
  return (args, env = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', d => (stdout += d));
      child.stderr.on('data', d => (stderr += d));
      child.on('error', reject);
      child.on('close', code => {
        expect(`${stdout}\n${stderr}`).not.toContain(secret);
        resolve({ code, stdout, stderr });
      });
    });
}
