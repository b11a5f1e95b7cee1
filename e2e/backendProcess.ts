import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');
export const DEMO_TOKEN = 'runtime-risk-demo-token';

/** Finds a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as any).port as number;
      srv.close(() => res(port));
    });
  });
}

export interface RunningBackend {
  baseUrl: string;
  logs: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts the real packages/backend (new backend system) with the repository's
 * app-config.yaml, as `npm start` does, on a free port. Extra config may be
 * given as a JSON-like object through APP_CONFIG_ environment variables, and
 * as further config files (`configFiles`, relative to the repository root).
 */
export async function startDemoBackend(
  options: { extraEnv?: Record<string, string>; configFiles?: string[] } = {},
): Promise<RunningBackend> {
  const port = await freePort();
  const baseUrl = `http://localhost:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--require',
      require.resolve('@backstage/cli/config/nodeTransform.cjs', { paths: [ROOT] }),
      'src/index.ts',
      '--config',
      resolve(ROOT, 'app-config.yaml'),
      ...(options.configFiles ?? []).flatMap(file => ['--config', resolve(ROOT, file)]),
    ],
    {
      cwd: resolve(ROOT, 'packages/backend'),
      env: {
        ...process.env,
        NODE_ENV: 'development',
        APP_CONFIG_backend_listen_port: String(port),
        APP_CONFIG_backend_baseUrl: baseUrl,
        APP_CONFIG_app_baseUrl: baseUrl,
        ...options.extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', d => (output += d.toString()));
  child.stderr!.on('data', d => (output += d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));

  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) throw new Error(`backend exited during start-up:\n${output.slice(-4000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`backend did not become ready in 180 s:\n${output.slice(-4000)}`);
    }
    try {
      const r = await fetch(`${baseUrl}/.backstage/health/v1/readiness`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise(r => setTimeout(r, 500));
  }
  return {
    baseUrl,
    logs: () => output,
    stop: async () => {
      if (exited) return;
      const done = new Promise(r => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await done;
      clearTimeout(t);
    },
  };
}

/** Polls `fn` until it returns a value (not undefined) or the timeout passes. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise(r => setTimeout(r, 1000));
  }
}
