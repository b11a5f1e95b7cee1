import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import { spawn } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DEFAULT_POLICY_CONFIG } from '../engine';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';
import { DEV, LEAD, OUTSIDER, SECURITY, securityTeamPolicy } from '../testUtils/permissions';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const as = (user: string) => mockCredentials.user.header(user);
/** The CI command line (it reaches the backend over HTTP only). */
const CLI = path.resolve(__dirname, '../../../runtime-risk-cli/bin/runtime-risk');
const API = '/api/runtime-risk/v1';

describe.each(databases.eachSupportedId())('decision approvals on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    signals: [
      // payments: one fresh medium detection scores 35 -> moderate -> approval_required in production
      signalInput('med-1', { hostname: 'web-01', severity: 'medium' }),
      // checkout: critical -> block
      signalInput('crit-1', { hostname: 'app-01', severity: 'critical' }),
    ],
    authorize: securityTeamPolicy({ createRequiresUser: true, overrider: LEAD }),
    config: {
      runtimeRisk: {
        ingestion: { frequency: { seconds: 30 } },
        policy: {
          ...DEFAULT_POLICY_CONFIG,
          environments: {
            ...DEFAULT_POLICY_CONFIG.environments,
            production: { ...DEFAULT_POLICY_CONFIG.environments.production, approvalTtl: { hours: 1 } },
          },
        },
      },
    },
  });

  afterAll(() => {
    vi.useRealTimers();
  });

  const gate = async (user: string, entity = 'payments') => {
    const res = await request(seeded.server)
      .post(`${API}/gate`)
      .set('Authorization', as(user))
      .send({ entityRef: `component:default/${entity}`, environment: 'production' });
    expect(res.status).toBe(200);
    return GateDecisionSchema.parse(res.body);
  };
  const get = async (id: string) => {
    const res = await request(seeded.server).get(`${API}/decisions/${id}`).set('Authorization', as(DEV));
    expect(res.status).toBe(200);
    return GateDecisionSchema.parse(res.body);
  };
  const act = (id: string, action: 'approve' | 'reject', user: string, body?: Record<string, unknown>) => {
    const r = request(seeded.server).post(`${API}/decisions/${id}/${action}`).set('Authorization', as(user));
    return body ? r.send(body) : r;
  };

  it('pending -> approved by another user: GET shows approved and proceed with approval_granted', async () => {
    const pending = await gate(DEV);
    expect(pending).toMatchObject({ decision: 'approval_required', riskLevel: 'moderate', status: 'pending' });
    expect(await get(pending.decisionId)).toMatchObject({ status: 'pending', decision: 'approval_required' });

    // no permission, not a person, the requester (lacking permission anyway), unknown decision
    const outsider = await act(pending.decisionId, 'approve', OUTSIDER);
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.name).toBe('NotAllowedError');
    expect((await act(pending.decisionId, 'approve', DEV)).status).toBe(403);
    const service = await request(seeded.server)
      .post(`${API}/decisions/${pending.decisionId}/approve`)
      .set('Authorization', mockCredentials.service.header());
    expect(service.status).toBe(403);
    expect((await act('no-such-decision', 'approve', SECURITY)).status).toBe(404);
    const badBody = await act(pending.decisionId, 'approve', SECURITY, { comment: 'ok', approvedBy: LEAD });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.message).toContain('approvedBy');
    expect(await get(pending.decisionId)).toMatchObject({ status: 'pending' });

    const approved = await act(pending.decisionId, 'approve', SECURITY, { comment: 'hotfix window' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ decisionId: pending.decisionId, status: 'approved', decision: 'proceed' });

    const after = await get(pending.decisionId);
    expect(after).toMatchObject({ status: 'approved', decision: 'proceed', riskLevel: 'moderate' });
    const granted = after.reasons.find(r => r.code === 'approval_granted');
    expect(granted?.message).toContain(SECURITY);
    expect(granted?.message).toContain('hotfix window');
    // the gate's own reasons stay
    expect(after.reasons.map(r => r.code)).toContain('signal_active');

    expect((await act(pending.decisionId, 'approve', LEAD)).status).toBe(409);
    expect((await act(pending.decisionId, 'reject', LEAD)).status).toBe(409);

    const listed = await request(seeded.server)
      .get(`${API}/decisions?entityRef=component:default/payments`)
      .set('Authorization', as(DEV));
    expect(listed.body.items.find((d: { decisionId: string }) => d.decisionId === pending.decisionId)).toMatchObject({
      status: 'approved',
      decision: 'proceed',
    });

    // replay compares the gate's own evaluation, not the approval
    const replay = await request(seeded.server).post(`${API}/decisions/${pending.decisionId}/replay`).set('Authorization', as(DEV));
    expect(replay.body).toMatchObject({ matches: true, original: { decision: 'approval_required' } });
  });

  it('never lets the one who requested the deploy approve or reject it, even an approver', async () => {
    const pending = await gate(LEAD);
    expect(pending.status).toBe('pending');
    const self = await act(pending.decisionId, 'approve', LEAD);
    expect(self.status).toBe(403);
    expect(self.body.error.name).toBe('NotAllowedError');
    expect(self.body.error.message).toContain('requester');
    expect((await act(pending.decisionId, 'reject', LEAD)).status).toBe(403);
    expect(await get(pending.decisionId)).toMatchObject({ status: 'pending' });

    const rejected = await act(pending.decisionId, 'reject', SECURITY, { comment: 'not during the freeze' });
    expect(rejected.status).toBe(200);
    const after = await get(pending.decisionId);
    expect(after).toMatchObject({ status: 'rejected', decision: 'block' });
    expect(after.reasons.find(r => r.code === 'approval_rejected')?.message).toContain('not during the freeze');
    expect((await act(pending.decisionId, 'approve', SECURITY)).status).toBe(409);
  });

  it('only pending decisions can be approved', async () => {
    const blocked = await gate(DEV, 'checkout');
    expect(blocked).toMatchObject({ decision: 'block', status: 'final' });
    expect((await act(blocked.decisionId, 'approve', SECURITY)).status).toBe(409);
  });

  it('expires a pending decision after the environment approvalTtl (controllable clock)', async () => {
    const t0 = Date.now();
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(t0);
      const pending = await gate(DEV);
      expect(pending.status).toBe('pending');

      vi.setSystemTime(t0 + 59 * 60_000);
      expect(await get(pending.decisionId)).toMatchObject({ status: 'pending' });

      vi.setSystemTime(t0 + 61 * 60_000);
      expect(await get(pending.decisionId)).toMatchObject({ status: 'expired', decision: 'approval_required' });
      const late = await act(pending.decisionId, 'approve', SECURITY);
      expect(late.status).toBe(409);
      expect(late.body.error.message).toContain('expired');
      expect((await seeded.knex('runtime_risk_decisions').where({ id: pending.decisionId }).first()).status).toBe('expired');

      // the sweep marks other stale pending decisions
      vi.setSystemTime(t0);
      const other = await gate(DEV);
      vi.setSystemTime(t0 + 2 * 3600_000);
      expect((await seeded.knex('runtime_risk_decisions').where({ id: other.decisionId }).first()).status).toBe('pending');
      await seeded.harness.runTask('runtime-risk-exceptions');
      expect((await seeded.knex('runtime_risk_decisions').where({ id: other.decisionId }).first()).status).toBe('expired');
      const logged = await seeded.knex('runtime_risk_audit_log').where({ subject: other.decisionId }).orderBy('seq');
      expect(logged.map(r => r.type)).toEqual(['gate-decision', 'decision-expire']);
      expect(logged[1].actor).toBe('runtime-risk');
    } finally {
      vi.useRealTimers();
    }
  });

  it('overrides a decision with runtime-risk.decision.override', async () => {
    const blocked = await gate(DEV, 'checkout');
    expect(blocked.decision).toBe('block');
    const url = `${API}/decisions/${blocked.decisionId}/override`;
    const denied = await request(seeded.server).post(url).set('Authorization', as(SECURITY)).send({ decision: 'proceed', reason: 'fix' });
    expect(denied.status).toBe(403);
    for (const [body, field] of [
      [{ decision: 'maybe', reason: 'x' }, 'decision'],
      [{ decision: 'proceed' }, 'reason'],
      [{ decision: 'proceed', reason: '   ' }, 'reason'],
    ] as const) {
      const res = await request(seeded.server).post(url).set('Authorization', as(LEAD)).send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message, JSON.stringify(body)).toContain(field);
    }
    const overridden = await request(seeded.server)
      .post(url)
      .set('Authorization', as(LEAD))
      .send({ decision: 'proceed', reason: 'incident fix, signal is a known false positive' });
    expect(overridden.status).toBe(200);
    const after = await get(blocked.decisionId);
    expect(after).toMatchObject({ status: 'approved', decision: 'proceed', riskLevel: 'high' });
    expect(after.reasons.find(r => r.code === 'approval_granted')?.message).toContain(`overridden to proceed by ${LEAD}`);
    const again = await request(seeded.server).post(url).set('Authorization', as(LEAD)).send({ decision: 'block', reason: 'again' });
    expect(again.status).toBe(409);
    const logged = await seeded.knex('runtime_risk_audit_log').where({ subject: blocked.decisionId }).orderBy('seq');
    expect(logged.map(r => [r.type, r.actor])).toEqual([
      ['gate-decision', DEV],
      ['decision-override', LEAD],
    ]);
  });

  it('the CLI waits for the approval and proceeds (gate --wait, then audit verify)', async () => {
    const address = seeded.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    const env = {
      PATH: process.env.PATH ?? '',
      RUNTIME_RISK_URL: `http://127.0.0.1:${address.port}`,
      RUNTIME_RISK_TOKEN: mockCredentials.user.token(DEV),
    };
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', d => (stdout += d));
        child.stderr.on('data', d => (stderr += d));
        child.on('error', reject);
        child.on('close', code => resolve({ code, stdout, stderr }));
      });
    const waiting = run(['gate', '--entity', 'component:default/payments', '--env', 'production', '--wait', '--timeout', '60s', '--poll-interval', '100ms']);
    // approve the decision the CLI is waiting for, once it exists
    let id: string | undefined;
    for (let i = 0; i < 200 && !id; i++) {
      await new Promise(r => setTimeout(r, 50));
      const row = await seeded.knex('runtime_risk_decisions').where({ status: 'pending', entity_ref: 'component:default/payments' }).orderBy('seq', 'desc').first();
      id = row?.id;
    }
    expect(id).toBeDefined();
    expect((await act(id!, 'approve', SECURITY, { comment: 'go' })).status).toBe(200);
    const result = await waiting;
    expect(result.stderr).toContain('is now approved');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('PROCEED (approved)');
    expect(result.stdout).toContain(`approval_granted: approved by ${SECURITY}`);

    const verified = await run(['audit', 'verify']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('decision log intact');
  });

  it('records every change in a hash chain that verifies', async () => {
    const res = await request(seeded.server).get(`${API}/audit/verify`).set('Authorization', as(DEV));
    expect(res.status).toBe(200);
    const total = Number((await seeded.knex('runtime_risk_audit_log').count({ n: '*' }).first())?.n);
    expect(total).toBeGreaterThan(8);
    expect(res.body).toEqual({ ok: true, checked: total, head: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const types = new Set((await seeded.knex('runtime_risk_audit_log').select('type')).map(r => r.type));
    expect([...types].sort()).toEqual(
      ['decision-approve', 'decision-expire', 'decision-override', 'decision-reject', 'gate-decision'].sort(),
    );
    const decisions = Number((await seeded.knex('runtime_risk_decisions').count({ n: '*' }).first())?.n);
    const gateRecords = Number((await seeded.knex('runtime_risk_audit_log').where({ type: 'gate-decision' }).count({ n: '*' }).first())?.n);
    expect(gateRecords).toBe(decisions);
    expect((await request(seeded.server).get(`${API}/audit/verify`)).status).toBe(401);
  });
});
