/**
 * `runtime-risk audit verify [--expect-head <seq>:<hash>]` against a loopback
 * server that answers the audit routes as documented (verify, head, records).
 * The end-to-end test against the real backend with a rewritten log is
 * plugins/runtime-risk-backend/src/http/auditRoutes.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cliRunner } from './testing/runCli';

const TOKEN = 'audit-cli-token-5521';
const runCli = cliRunner(TOKEN);
const h = (c: string) => c.repeat(64);

describe('runtime-risk audit verify', () => {
  let server: http.Server;
  let url: string;
  let verify: Record<string, unknown>;
  let records: Map<number, string>;
  let headRoute = true;
  const paths: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      paths.push(req.url ?? '');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { error: { name: 'AuthenticationError', message: 'no' } });
      const route = (req.url ?? '').replace(/^\/api\/runtime-risk/, '');
      if (route === '/v1/audit/verify') return send(200, verify);
      if (route === '/v1/audit/head' && headRoute) {
        const seq = Math.max(0, ...records.keys());
        return send(200, { seq, hash: records.get(seq) ?? h('0') });
      }
      const m = /^\/v1\/audit\/records\/(\d+)$/.exec(route);
      if (m && records.has(Number(m[1]))) return send(200, { seq: Number(m[1]), hash: records.get(Number(m[1])) });
      return send(404, { error: { name: 'NotFoundError', message: `nothing at ${route}` } });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>(resolve => server.close(() => resolve())));
  beforeEach(() => {
    verify = { ok: true, checked: 3, head: h('c') };
    records = new Map([
      [1, h('a')],
      [2, h('b')],
      [3, h('c')],
    ]);
    headRoute = true;
    paths.length = 0;
  });
  const env = () => ({ RUNTIME_RISK_URL: url, RUNTIME_RISK_TOKEN: TOKEN });

  it('exits 0 when the chain is intact and holds the expected head', async () => {
    const run = await runCli(['audit', 'verify', '--expect-head', `2:${h('b')}`], env());
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('decision log intact');
    expect(run.stdout).toContain('record 2 has the expected hash');
    expect(paths).toEqual(['/api/runtime-risk/v1/audit/verify', '/api/runtime-risk/v1/audit/head', '/api/runtime-risk/v1/audit/records/2']);
    // without --expect-head only verify is called
    paths.length = 0;
    expect((await runCli(['audit', 'verify'], env())).code).toBe(0);
    expect(paths).toEqual(['/api/runtime-risk/v1/audit/verify']);
  });

  it('exits 5 naming the record when the log was rewritten (a different hash at the anchored seq)', async () => {
    records.set(2, h('d'));
    const run = await runCli(['audit', 'verify', '--expect-head', `2:${h('b')}`], env());
    expect(run.code).toBe(5);
    expect(run.stdout).toContain('REWRITTEN');
    expect(run.stderr).toContain(`record 2 has hash ${h('d')}, the expected head says ${h('b')}: the log was rewritten`);
    const json = await runCli(['audit', 'verify', '--json', '--expect-head', `2:${h('B')}`], env());
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, expectedHead: { seq: 2, hash: h('b'), actualHash: h('d'), matches: false } });
  });

  it('exits 5 when the anchored record is gone (the log was cut below it)', async () => {
    records.delete(3);
    const run = await runCli(['audit', 'verify', '--expect-head', `3:${h('c')}`], env());
    expect(run.code).toBe(5);
    expect(run.stderr).toContain("record 3 of the expected head is missing (the log's head is record 2)");
  });

  it('a broken chain exits 1 whatever the head', async () => {
    verify = { ok: false, checked: 1, brokenAt: 2, problem: 'modified', message: 'record 2 was modified after it was written' };
    const run = await runCli(['audit', 'verify', '--expect-head', `2:${h('b')}`], env());
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('decision log BROKEN');
  });

  it('exits 4 for a malformed --expect-head and 3 when the gate has no head route', async () => {
    for (const bad of ['2', `x:${h('b')}`, '2:abc', `0:${h('b')}`]) {
      const run = await runCli(['audit', 'verify', '--expect-head', bad], env());
      expect(run.code).toBe(4);
      expect(run.stderr).toContain('--expect-head');
    }
    headRoute = false;
    const run = await runCli(['audit', 'verify', '--expect-head', `2:${h('b')}`], env());
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('404');
  });
});
