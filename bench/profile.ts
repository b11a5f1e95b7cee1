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
