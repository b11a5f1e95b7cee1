/**
 * Issue 7 "Done when", against the real packages/backend: a user (guest, owner of
 * payments-api through team-payments) requests an exception for a blocked service,
 * ANOTHER user (sam, security group) approves it, the gate then proceeds naming the
 * exception; a new critical detection revokes it and the gate blocks again; the
 * audit log verifies.
 *
 * Both users sign in through the real auth backend, as the app's sign-in page does
 * (GET /api/auth/<provider>/refresh): `guest` and the demo's `demo-approver`
 * (packages/backend/src/demoApproverAuth.ts). The file signal source reads a temp
 * copy of examples/signals.ndjson (given in an extra config file), to which the test
 * appends the new detection; the repository's file is never modified.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, startDemoBackend, waitFor, type RunningBackend } from './backendProcess';

const ENTITY_REF = 'component:default/payments-api';
const ENVIRONMENT = 'production';

interface Identity {
  token: string;
  userEntityRef: string;
  ownershipEntityRefs: string[];
}

interface GateAnswer {
  decisionId: string;
  decision: string;
  riskLevel: string;
  reasons: Array<{ code: string; message: string; signalIds: string[] }>;
  exception?: { id: string; expiresAt: string };
}

interface Exception {
  id: string;
  entityRef: string;
  environment: string;
  status: string;
  requestedBy: string;
  approvedBy: string | null;
  signalIds: string[] | null;
}

let backend: RunningBackend;
let dir: string;
let signalsFile: string;

const api = (path: string) => `${backend.baseUrl}/api/runtime-risk${path}`;

async function call<T>(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(api(path), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the failure message
  }
  return { status: res.status, body: parsed as T };
}

/** Signs in the way the app's ProxiedSignInPage does: GET /api/auth/<provider>/refresh. */
async function signIn(provider: string): Promise<Identity> {
  const res = await fetch(`${backend.baseUrl}/api/auth/${provider}/refresh`, {
    headers: { 'x-requested-with': 'XMLHttpRequest' },
  });
  if (!res.ok) throw new Error(`GET /api/auth/${provider}/refresh answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as {
    backstageIdentity: { token: string; identity: { userEntityRef: string; ownershipEntityRefs: string[] } };
  };
  return { token: body.backstageIdentity.token, ...body.backstageIdentity.identity };
}

const gate = (token: string) =>
  call<GateAnswer>('POST', '/v1/gate', token, { entityRef: ENTITY_REF, environment: ENVIRONMENT });

function failWithLogs(e: unknown): never {
  throw new Error(`${(e as Error).message}\n--- backend log (tail) ---\n${backend?.logs().slice(-6000)}`);
}

let guest: Identity;
let sam: Identity;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'runtime-risk-exception-flow-'));
  signalsFile = join(dir, 'signals.ndjson');
  copyFileSync(resolve(ROOT, 'examples/signals.ndjson'), signalsFile);
  const extraConfig = join(dir, 'app-config.e2e.yaml');
  writeFileSync(
    extraConfig,
    [
      'runtimeRisk:',
      '  sources:',
      '    file:',
      `      path: ${JSON.stringify(signalsFile)}`,
      '  ingestion:',
      '    frequency: { seconds: 2 }',
      '  exceptions:',
      '    frequency: { seconds: 3 }',
      '',
    ].join('\n'),
  );
  backend = await startDemoBackend({ configFiles: [extraConfig] });

  // both users resolve through the catalog (ownership of team-payments / security)
  guest = await waitFor(
    async () => {
      const id = await signIn('guest');
      return id.ownershipEntityRefs.includes('group:default/team-payments') ? id : undefined;
    },
    150_000,
    'guest to sign in with its team-payments membership',
  ).catch(failWithLogs);
  sam = await waitFor(
    async () => {
      const id = await signIn('demo-approver');
      return id.ownershipEntityRefs.includes('group:default/security') ? id : undefined;
    },
    60_000,
    'sam to sign in through demo-approver with the security membership',
  ).catch(failWithLogs);
  // the file source has synced and the entity is scored from the demo signals
  await waitFor(
    async () => {
      const r = await gate(guest.token);
      return r.status === 200 && r.body.riskLevel === 'high' ? r : undefined;
    },
    150_000,
    `${ENTITY_REF} to be scored high in ${ENVIRONMENT}`,
  ).catch(failWithLogs);
});

afterAll(async () => {
  await backend?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('exceptions and approvals in the demo (real backend, two signed-in users)', () => {
  let exception: Exception;

  it('signs in two different users through the auth backend', () => {
    expect(guest.userEntityRef).toBe('user:development/guest');
    expect(sam.userEntityRef).toBe('user:default/sam');
    expect(guest.ownershipEntityRefs).not.toContain('group:default/security');
  });

  it('blocks; the owner requests an exception, cannot approve it; the other user approves; the gate proceeds naming it', async () => {
    const blocked = await gate(guest.token);
    expect(blocked.status).toBe(200);
    expect(blocked.body.decision).toBe('block');
    expect(blocked.body.exception).toBeUndefined();
    const contributing = [
      ...new Set(blocked.body.reasons.filter(r => r.code === 'signal_active').flatMap(r => r.signalIds)),
    ];
    expect(contributing.length).toBeGreaterThan(0);

    // scoped to the signals blocking now: a new one outside them revokes it
    const requested = await call<Exception>('POST', '/v1/exceptions', guest.token, {
      entityRef: ENTITY_REF,
      environment: ENVIRONMENT,
      reason: 'e2e: hotfix while the LSASS alert is investigated',
      expiresAt: new Date(Date.now() + 2 * 3600_000).toISOString(),
      signalIds: contributing,
    });
    expect(requested.status, JSON.stringify(requested.body)).toBe(201);
    exception = requested.body;
    expect(exception.status).toBe('pending');
    expect(exception.requestedBy).toBe(guest.userEntityRef);

    // still blocked while pending
    expect((await gate(guest.token)).body.decision).toBe('block');

    const selfApproval = await call('POST', `/v1/exceptions/${exception.id}/approve`, guest.token, {});
    expect(selfApproval.status).toBe(403);
    expect((await call<Exception>('GET', `/v1/exceptions/${exception.id}`, guest.token)).body.status).toBe('pending');

    const approved = await call<Exception>('POST', `/v1/exceptions/${exception.id}/approve`, sam.token, {
      comment: 'e2e: approved by security',
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.status).toBe('approved');
    expect(approved.body.approvedBy).toBe(sam.userEntityRef);

    const proceeds = await gate(guest.token);
    expect(proceeds.status).toBe(200);
    expect(proceeds.body.decision).toBe('proceed');
    expect(proceeds.body.exception?.id).toBe(exception.id);
    const applied = proceeds.body.reasons.find(r => r.code === 'exception_applied');
    expect(applied, JSON.stringify(proceeds.body.reasons)).toBeDefined();
    expect(applied!.message).toContain(exception.id);
  });

  it('a new critical detection revokes the exception and the gate blocks again', async () => {
    expect(exception?.id, 'the previous test created the exception').toBeDefined();
    appendFileSync(
      signalsFile,
      `${JSON.stringify({
        sourceId: 'det-e2e-2001',
        kind: 'detection',
        severity: 'critical',
        confidence: 1,
        status: 'active',
        title: 'Ransomware staging tool dropped (e2e)',
        tactics: ['Impact'],
        techniques: ['T1486'],
        asset: { hostname: 'pay-prod-02.prod.example.com', deviceId: 'dev-pay-prod-02', ips: ['10.0.1.12'] },
        firstSeenAt: 'now-2m',
        lastSeenAt: 'now-1m',
      })}\n`,
    );

    // ingestion runs every 2 s here; the exception sweep every 3 s
    const revoked = await waitFor(
      async () => {
        const r = await call<Exception>('GET', `/v1/exceptions/${exception.id}`, sam.token);
        return r.status === 200 && r.body.status === 'revoked' ? r.body : undefined;
      },
      180_000,
      `exception ${exception.id} to be revoked after the new critical detection`,
    ).catch(failWithLogs);
    expect(revoked.approvedBy).toBe(sam.userEntityRef);
    expect(backend.logs()).toMatch(new RegExp(`exception ${exception.id} .*signal\\(s\\) outside the exception's scope`));

    const blocked = await gate(guest.token);
    expect(blocked.status).toBe(200);
    expect(blocked.body.decision).toBe('block');
    expect(blocked.body.exception).toBeUndefined();
    expect(blocked.body.reasons.map(r => r.code)).not.toContain('exception_applied');
    expect(blocked.body.reasons.some(r => r.code === 'signal_active' && r.message.includes('Ransomware staging tool dropped (e2e)'))).toBe(true);
  });

  it('the audit log verifies', async () => {
    const verify = await call<{ ok: boolean; checked: number }>('GET', '/v1/audit/verify', sam.token);
    expect(verify.status).toBe(200);
    expect(verify.body.ok, JSON.stringify(verify.body)).toBe(true);
    // at least the gate decisions, the approval and the revocation
    expect(verify.body.checked).toBeGreaterThanOrEqual(6);
  });
});
