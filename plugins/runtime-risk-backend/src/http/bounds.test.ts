import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { GATE_REQUEST_LIMITS } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { startBackend, type Harness } from '../testUtils/backend';
import { MemoryPullSource, sign, signalInput, testPushSource } from '../testUtils/fixtures';

/**
 * Issue 16 part 9: bounded inputs. Gate `artifact` and `pipeline.*` have size
 * limits (400 naming the field); a webhook body over the source's limit is
 * refused (413) before any other work, the signature check included. (A
 * signal `url` that is not https:/http: is dropped: ingest/poisonedRecords.test.ts.)
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3'] });
const USER = mockCredentials.user.header();

describe.each(databases.eachSupportedId())('bounded inputs on %p', databaseId => {
  let harness: Harness;
  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    const edr = new MemoryPullSource('edr');
    edr.pages = [{ signals: [signalInput('crit-1', { hostname: 'web-01' })] }];
    harness = await startBackend({ knex, sources: [edr, testPushSource] });
    await harness.runTask('runtime-risk-ingest-edr');
    await harness.runTask('runtime-risk-correlate');
  });
  afterAll(async () => {
    await harness?.backend.stop();
  });

  const gate = (extra: Record<string, unknown>) =>
    request(harness.backend.server)
      .post('/api/runtime-risk/v1/gate')
      .set('Authorization', USER)
      .send({ entityRef: 'component:default/payments', environment: 'production', dryRun: true, ...extra });

  it('refuses an over-long artifact or pipeline field with a 400 naming it; accepts the limit', async () => {
    const x = (n: number) => 'x'.repeat(n);
    for (const [extra, field] of [
      [{ artifact: x(GATE_REQUEST_LIMITS.artifact + 1) }, 'artifact'],
      [{ pipeline: { provider: x(GATE_REQUEST_LIMITS.pipelineProvider + 1) } }, 'pipeline/provider'],
      [{ pipeline: { runId: x(GATE_REQUEST_LIMITS.pipelineRunId + 1) } }, 'pipeline/runId'],
      [{ pipeline: { url: `https://ci.example.com/${x(GATE_REQUEST_LIMITS.pipelineUrl)}` } }, 'pipeline/url'],
    ] as const) {
      const res = await gate(extra);
      expect(res.status, field).toBe(400);
      expect(res.body.error.message.replace(/\./g, '/'), field).toContain(field);
    }
    const atLimit = await gate({
      artifact: x(GATE_REQUEST_LIMITS.artifact),
      pipeline: { provider: x(GATE_REQUEST_LIMITS.pipelineProvider), runId: x(GATE_REQUEST_LIMITS.pipelineRunId), url: x(GATE_REQUEST_LIMITS.pipelineUrl) },
    });
    expect(atLimit.status, atLimit.text).toBe(200);
  });

  it('refuses a webhook body over the source limit with 413 before checking the signature', async () => {
    const big = JSON.stringify({ signals: [signalInput('big', { description: 'x'.repeat(1024 * 1024) })] });
    // unsigned and too large: 413, not 401 (the size is checked first)
    const unsigned = await request(harness.backend.server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .send(big);
    expect(unsigned.status).toBe(413);
    expect(unsigned.body.error.message).toBe(`body: ${Buffer.byteLength(big)} bytes is more than the 1048576 allowed by source 'hooks'`);
    // unknown source: 404 without reading the body
    const unknown = await request(harness.backend.server).post('/api/runtime-risk/v1/signals/webhook/nope').set('x-signature', sign(big)).send(big);
    expect(unknown.status).toBe(404);
  });

  it('stops reading a chunked body (no Content-Length) at the source limit', async () => {
    const address = harness.backend.server.address() as AddressInfo;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: address.port, method: 'POST', path: '/api/runtime-risk/v1/signals/webhook/hooks', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'x-signature': 'sha256=00' } },
        res => {
          let body = '';
          res.on('data', d => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const write = () => {
        // up to 4 MiB, unless the server has answered and closed
        while (sent < 4 * 1024 * 1024 && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', write);
            return;
          }
        }
        req.end();
      };
      write();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.message).toBe("body: more than the 1048576 bytes allowed by source 'hooks'");
  });
});
