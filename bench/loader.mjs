// A small closed-loop HTTP load generator (no dependencies), run as its own
// process so that it does not share the backend's event loop.
//
//   node bench/loader.mjs '<json spec>'
//   spec: { url | urls, method, headers, bodies: string[], connections, durationMs, maxRequests, warmupMs }
//
// Each of `connections` workers keeps one keep-alive socket and sends the next
// request as soon as the previous answer is read. Prints one JSON line with
// latency percentiles (ms), req/s and status counts.
import http from 'node:http';

const spec = JSON.parse(process.argv[2]);
// one URL, or several used round-robin (replicas behind a simple balancer)
const urls = (spec.urls ?? [spec.url]).map(u => new URL(u));
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections, maxFreeSockets: spec.connections });
const bodies = spec.bodies?.length ? spec.bodies.map(b => Buffer.from(b)) : [undefined];

function once(body, url) {
  return new Promise(resolve => {
    const started = process.hrtime.bigint();
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: spec.method ?? 'GET',
        headers: { ...(spec.headers ?? {}), ...(body ? { 'content-length': body.length } : {}) },
      },
      res => {
        res.on('data', () => {});
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      },
    );
    req.on('error', e => resolve({ status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6, error: e.code ?? e.message }));
    if (body) req.write(body);
    req.end();
  });
}

async function phase(durationMs, maxRequests, record) {
  const latencies = [];
  const statuses = {};
  const errors = {};
  let sent = 0;
  let i = 0;
  const deadline = Date.now() + durationMs;
  const started = process.hrtime.bigint();
  async function worker() {
    while (Date.now() < deadline && sent < maxRequests) {
      sent++;
      const n = i++;
      const r = await once(bodies[n % bodies.length], urls[n % urls.length]);
      if (!record) continue;
      latencies.push(r.ms);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    }
  }
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  return { latencies, statuses, errors, elapsedS };
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const round = v => (v === null ? null : Math.round(v * 100) / 100);

if (spec.warmupMs > 0) await phase(spec.warmupMs, Math.max(1, Math.floor(spec.maxRequests / 10)), false);
const { latencies, statuses, errors, elapsedS } = await phase(spec.durationMs, spec.maxRequests, true);
latencies.sort((a, b) => a - b);
const ok = Object.entries(statuses)
  .filter(([s]) => Number(s) >= 200 && Number(s) < 300)
  .reduce((n, [, c]) => n + c, 0);
process.stdout.write(
  `${JSON.stringify({
    requests: latencies.length,
    ok,
    seconds: round(elapsedS),
    rps: round(latencies.length / elapsedS),
    p50: round(pct(latencies, 50)),
    p90: round(pct(latencies, 90)),
    p99: round(pct(latencies, 99)),
    max: round(latencies[latencies.length - 1] ?? null),
    statuses,
    errors,
  })}\n`,
);
agent.destroy();
