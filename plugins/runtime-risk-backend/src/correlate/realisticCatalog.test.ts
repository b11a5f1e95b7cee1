import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDatabases, mockCredentials, type TestBackend } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import crowdstrikeModule from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-crowdstrike';
import { falconAlert, startFakeFalcon, type FakeFalcon } from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-crowdstrike/testUtils';
import defenderModule from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-defender';
import { defenderAlert, startFakeDefender, type FakeDefender } from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-defender/testUtils';
import fileModule from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-file';
import sentinelOneModule from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-sentinelone';
import {
  sentinelOneThreat,
  startFakeSentinelOne,
  type FakeSentinelOne,
} from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-sentinelone/testUtils';
import webhookModule, { SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhookBody } from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-webhook';
import request from 'supertest';
import { startBackend, type Harness } from '../testUtils/backend';
import { component } from '../testUtils/fixtures';
import { resource, withDependsOn } from './testFixtures';

/*
 * Issue 15 "Tests that must exist": a realistic catalog (3 Systems, 14
 * Components, host and VM Resources shared inside a System, per-environment
 * host annotations, Kubernetes selectors with a noisy and a quiet workload,
 * the quiet one seen only in Falcon's vendor host inventory) against the three
 * vendors' wire formats (fake Falcon, Defender and SentinelOne servers read by
 * the real source modules), a stale batch source
 * (a file whose data is two days old) covering one host, a quiet webhook, a
 * Defender that caps its pages at 25 with @odata.nextLink, and one incident
 * reported by two vendors. Every (entity, environment) answer of the table is
 * asked of the real backend (default policy: production moderate 30 / high 70,
 * staging 50 / 85; failures block / ask for approval in production, proceed
 * with a warning in staging).
 */

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const USER = mockCredentials.user.header();
const MIN = 60_000;
const SECRET = 'a-long-webhook-secret-for-tests';
/** The file both Falcon and SentinelOne reported on pay-vm-01 (one incident). */
const DROPPER_SHA = '5e'.repeat(32);

const now = Date.now();
const ago = (minutes: number) => new Date(now - minutes * MIN).toISOString();

// ---- the catalog ----
function system(name: string): Entity {
  return { apiVersion: 'backstage.io/v1alpha1', kind: 'System', metadata: { name, namespace: 'default' }, spec: { owner: `team-${name}` } };
}
function svc(name: string, systemName: string, annotations: Record<string, string> = {}, dependsOn: string[] = []): Entity {
  const base = component(name, annotations);
  const entity: Entity = { ...base, spec: { ...base.spec, system: systemName, owner: `team-${systemName}` } };
  return dependsOn.length ? withDependsOn(entity, ...dependsOn) : entity;
}
const prodLabel = { 'runtime-risk.io/environment': 'production' };

const catalog: Entity[] = [
  system('shop'),
  system('payments'),
  system('search'),
  // shop: a VM and a database host, a production cluster with a noisy and a quiet workload
  resource('shop-vm-01', { type: 'vm', system: 'shop' }, {}, prodLabel),
  resource('shop-db-01', { type: 'host', system: 'shop', dependencyOf: ['component:default/shop-checkout'] }, {}, prodLabel),
  resource('prod-cluster', { type: 'kubernetes-cluster', system: 'shop' }, {}, prodLabel),
  svc('shop-web', 'shop', { 'runtime-risk.io/hosts.production': 'web-01', 'runtime-risk.io/hosts.staging': 'web-stg-01' }),
  svc('shop-cart', 'shop', {}, ['resource:default/shop-vm-01']),
  svc('shop-catalog', 'shop'),
  svc('shop-checkout', 'shop'),
  svc('shop-frontend', 'shop', { 'backstage.io/kubernetes-label-selector': 'app=shop-frontend' }),
  svc('shop-worker', 'shop', { 'backstage.io/kubernetes-label-selector': 'app=shop-worker' }),
  // payments: one VM shared by two services, a gateway Defender reports late in its paging, a stale and a pushed host
  resource('pay-vm-01', { type: 'vm', system: 'payments' }, {}, prodLabel),
  svc('pay-api', 'payments', {}, ['resource:default/pay-vm-01']),
  svc('pay-ledger', 'payments', {}, ['resource:default/pay-vm-01']),
  svc('pay-gateway', 'payments', { 'runtime-risk.io/hosts': 'pay-gw-01' }),
  svc('pay-reports', 'payments', { 'runtime-risk.io/hosts': 'legacy-01' }),
  svc('pay-billing', 'payments', { 'runtime-risk.io/hosts': 'billing-01' }),
  // search: SentinelOne hosts, one host no source has seen, per-environment hosts, no hosts at all
  svc('search-api', 'search', { 'runtime-risk.io/hosts': 'search-01, search-02' }),
  svc('search-indexer', 'search', { 'runtime-risk.io/hosts.production': 'idx-01', 'runtime-risk.io/hosts.staging': 'idx-stg-01' }),
  svc('search-ui', 'search'),
];

// ---- what the vendors report ----
function falconRecords() {
  const pod = (name: string, app: string) => ({
    device_id: `dev-${name}`,
    hostname: name,
    pod_name: name,
    pod_namespace: 'shop',
    pod_labels: [`app:${app}`],
    k8s_cluster_id: 'prod-cluster',
  });
  return [
    // shop-web: production host seen and clean (a closed alert), staging host with a high alert
    falconAlert({ hostname: 'web-01', id: 'web-closed', at: ago(300), status: 'closed', severity: 60 }),
    falconAlert({ hostname: 'web-stg-01', id: 'stg-high', at: ago(30), severity: 75 }),
    // the shared shop VM: critical
    falconAlert({ hostname: 'shop-vm-01', id: 'vm-crit', at: ago(20), severity: 95 }),
    // the shop database host: seen, resolved
    falconAlert({ hostname: 'shop-db-01', id: 'db-closed', at: ago(240), status: 'closed', severity: 40 }),
    // the noisy workload: a high alert in its pod
    { ...falconAlert({ hostname: 'shop-frontend-7d9', id: 'pod-high', at: ago(15), severity: 75 }), device: pod('shop-frontend-7d9', 'shop-frontend') },
    // one incident, first report: a medium alert on the payments VM with low confidence (35 x 0.4 = 14)
    { ...falconAlert({ hostname: 'pay-vm-01', id: 'pay-dropper', at: ago(25), severity: 55, indicators: { sha256: DROPPER_SHA } }), confidence: 40 },
  ];
}

/** Falcon's host inventory (Hosts API): the quiet workload's pod, which no alert names. */
function falconDevices() {
  return [
    {
      device_id: 'dev-shop-worker-5c4',
      hostname: 'shop-worker-5c4',
      pod_name: 'shop-worker-5c4',
      pod_namespace: 'shop',
      pod_labels: ['app:shop-worker'],
      k8s_cluster_id: 'prod-cluster',
      last_seen: ago(5),
      modified_timestamp: ago(5),
    },
  ];
}

function defenderRecords() {
  // 55 alerts on hosts outside the catalog before the ones that matter: a server capping pages at 25 must be paged
  const noise = Array.from({ length: 55 }, (_, i) =>
    defenderAlert({ hostname: `noise-${String(i).padStart(2, '0')}.corp.example.com`, id: `noise-${i}`, at: ago(60 + i), severity: 'Low' }),
  );
  return [
    ...noise.slice(0, 30),
    defenderAlert({ hostname: 'pay-gw-01.prod.example.com', id: 'gw-high', at: ago(12), severity: 'High' }),
    ...noise.slice(30),
  ];
}

function sentinelOneRecords() {
  return [
    sentinelOneThreat({ hostname: 'search-01', id: '9001', at: ago(180), confidenceLevel: 'malicious', incidentStatus: 'resolved' }),
    sentinelOneThreat({ hostname: 'idx-01', id: '9002', at: ago(10), confidenceLevel: 'malicious' }),
    // one incident, second report: suspicious (medium 0.6 = 21) with the same file, ten minutes after the first
    sentinelOneThreat({ hostname: 'pay-vm-01', id: '9003', at: ago(15), confidenceLevel: 'suspicious', indicators: { sha256: DROPPER_SHA } }),
  ];
}

/** A batch export whose data is two days old (asOf), covering one host. */
function staleBatchFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rr-realistic-'));
  const path = join(dir, 'legacy.json');
  writeFileSync(
    path,
    JSON.stringify({
      asOf: ago(2 * 24 * 60),
      signals: [
        { sourceId: 'l-1', severity: 'low', status: 'resolved', title: 'Old scan finding', asset: { hostname: 'legacy-01' }, firstSeenAt: ago(3 * 24 * 60), lastSeenAt: ago(2 * 24 * 60) },
      ],
    }),
  );
  return path;
}

type Row = [entityRef: string, environment: string, decision: string, riskLevel: string, reasons: string[], matchedBy: string[]];

/*
 * The expected answers. reasons: the reason codes in order; matchedBy: the
 * distinct matchedBy of the answer's hosts, sorted.
 */
const table: Row[] = [
  // shop: the VM's critical detection blocks only shop-cart, which depends on it
  ['component:default/shop-web', 'production', 'proceed', 'low', ['no_active_signals'], ['annotation:runtime-risk.io/hosts.production']],
  ['component:default/shop-web', 'staging', 'proceed', 'moderate', ['signal_active'], ['annotation:runtime-risk.io/hosts.staging']],
  ['component:default/shop-cart', 'production', 'block', 'high', ['signal_active'], ['relation:dependsOn:resource:default/shop-vm-01']],
  ['component:default/shop-cart', 'staging', 'proceed', 'unknown', ['uncorrelated'], []],
  ['component:default/shop-catalog', 'production', 'approval_required', 'unknown', ['uncorrelated'], []],
  ['component:default/shop-checkout', 'production', 'proceed', 'low', ['no_active_signals'], ['relation:dependencyOf:resource:default/shop-db-01']],
  ['component:default/shop-frontend', 'production', 'approval_required', 'moderate', ['signal_active'], ['kubernetes:label-selector']],
  // the quiet workload: no detection names its pod, Falcon's host inventory lists it: correlated and clean
  ['component:default/shop-worker', 'production', 'proceed', 'low', ['no_active_signals'], ['kubernetes:label-selector']],
  // payments: one incident reported by Falcon (14) and SentinelOne (21) counts once: 21, low (both counted: 32, moderate)
  ['component:default/pay-api', 'production', 'proceed', 'low', ['signal_active'], ['relation:dependsOn:resource:default/pay-vm-01']],
  ['component:default/pay-ledger', 'production', 'proceed', 'low', ['signal_active'], ['relation:dependsOn:resource:default/pay-vm-01']],
  ['component:default/pay-api', 'staging', 'proceed', 'unknown', ['uncorrelated'], []],
  // Defender reported pay-gw-01 on its second page (capped at 25, @odata.nextLink); a fresh High alert is 70 x
  // 0.5^(age / 72h), just under 70: moderate. Had paging stopped at the first page, no source would have seen
  // pay-gw-01 (uncorrelated, unknown).
  ['component:default/pay-gateway', 'production', 'approval_required', 'moderate', ['signal_active'], ['annotation:runtime-risk.io/hosts']],
  ['component:default/pay-gateway', 'staging', 'proceed', 'moderate', ['signal_active'], ['annotation:runtime-risk.io/hosts']],
  // legacy-01 is covered only by the stale batch source
  ['component:default/pay-reports', 'production', 'approval_required', 'low', ['no_active_signals', 'signals_stale'], ['annotation:runtime-risk.io/hosts']],
  ['component:default/pay-reports', 'staging', 'proceed', 'low', ['no_active_signals', 'signals_stale'], ['annotation:runtime-risk.io/hosts']],
  // billing-01 is covered only by the webhook, quiet since its one push: never stale for being quiet
  ['component:default/pay-billing', 'production', 'proceed', 'low', ['signal_active'], ['annotation:runtime-risk.io/hosts']],
  // search
  ['component:default/search-api', 'production', 'proceed', 'low', ['no_active_signals', 'partial_coverage'], ['annotation:runtime-risk.io/hosts']],
  ['component:default/search-indexer', 'production', 'approval_required', 'moderate', ['signal_active'], ['annotation:runtime-risk.io/hosts.production']],
  ['component:default/search-indexer', 'staging', 'proceed', 'unknown', ['uncorrelated'], ['annotation:runtime-risk.io/hosts.staging']],
  ['component:default/search-ui', 'production', 'approval_required', 'unknown', ['uncorrelated'], []],
  // System gates: every Component's hosts and the System's own Resources; Components without hosts named
  ['system:default/shop', 'production', 'block', 'high', ['signal_active', 'signal_active', 'partial_coverage'], []],
  ['system:default/payments', 'production', 'block', 'high', ['signal_active', 'signal_active', 'signal_active', 'signals_stale'], []],
  ['system:default/search', 'production', 'approval_required', 'moderate', ['signal_active', 'partial_coverage', 'partial_coverage'], []],
];

describe.each(databases.eachSupportedId())('a realistic catalog against fake vendors on %p', databaseId => {
  let harness: Harness;
  let server: TestBackend['server'];
  let falcon: FakeFalcon;
  let defender: FakeDefender;
  let s1: FakeSentinelOne;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const answers = new Map<string, any>();

  const gate = (entityRef: string, environment: string) =>
    request(server).post('/api/runtime-risk/v1/gate').set('Authorization', USER).send({ entityRef, environment });

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    falcon = await startFakeFalcon({ clientId: 'cid', clientSecret: 'falcon-secret', alerts: falconRecords(), devices: falconDevices() });
    defender = await startFakeDefender({
      tenantId: 'tenant',
      clientId: 'app',
      clientSecret: 'mde-secret',
      alerts: defenderRecords(),
      pageCap: 25,
      nextLink: true,
    });
    s1 = await startFakeSentinelOne({ apiToken: 's1-token', threats: sentinelOneRecords() });
    harness = await startBackend({
      knex,
      sources: [],
      entities: catalog,
      config: {
        runtimeRisk: {
          ingestion: { frequency: { seconds: 30 } },
          sources: {
            crowdstrike: { baseUrl: falcon.server.url, clientId: 'cid', clientSecret: 'falcon-secret' },
            defender: { tenantId: 'tenant', clientId: 'app', clientSecret: 'mde-secret', apiUrl: defender.server.url, loginUrl: defender.server.url, machines: false },
            sentinelone: { baseUrl: s1.server.url, apiToken: 's1-token', agents: false },
            file: { files: [{ id: 'legacy-batch', path: staleBatchFile() }] },
            webhook: { sources: [{ id: 'hooks', secret: SECRET }] },
          },
        },
      },
      features: [crowdstrikeModule, defenderModule, sentinelOneModule, fileModule, webhookModule],
    });
    server = harness.backend.server;

    // the webhook pushes once (a low finding on billing-01), then stays quiet
    const body = JSON.stringify({
      signals: [{ sourceId: 'h-1', severity: 'low', title: 'Pushed finding', asset: { hostname: 'billing-01' }, firstSeenAt: ago(40), lastSeenAt: ago(40) }],
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const pushed = await request(server)
      .post('/api/runtime-risk/v1/signals/webhook/hooks')
      .set('Content-Type', 'application/json')
      .set(TIMESTAMP_HEADER, ts)
      .set(SIGNATURE_HEADER, signWebhookBody(SECRET, body, ts))
      .send(body);
    expect(pushed.status).toBe(202);

    for (const id of ['crowdstrike', 'defender', 'sentinelone', 'legacy-batch']) await harness.runTask(`runtime-risk-ingest-${id}`);
    // the vendor host inventory (issue 15 part 3), listed on its own schedule
    await harness.runTask('runtime-risk-inventory-crowdstrike');
    await harness.runTask('runtime-risk-correlate');
    for (const [entityRef, environment] of table) {
      const res = await gate(entityRef, environment);
      expect(res.status, `${entityRef} ${environment}: ${JSON.stringify(res.body)}`).toBe(200);
      answers.set(`${entityRef} ${environment}`, res.body);
    }
  }, 120_000);

  afterAll(async () => {
    await harness?.backend.stop();
    await Promise.all([falcon?.server.close(), defender?.server.close(), s1?.server.close()]);
  });

  it.each(table)('%s in %s -> %s, %s, %j, matchedBy %j', (entityRef, environment, decision, riskLevel, reasons, matchedBy) => {
    const answer = answers.get(`${entityRef} ${environment}`);
    const got = {
      decision: answer.decision,
      riskLevel: answer.riskLevel,
      reasons: answer.reasons.map((r: { code: string }) => r.code),
      ...(matchedBy.length ? { matchedBy: [...new Set(answer.hosts.map((h: { matchedBy: string }) => h.matchedBy))].sort() } : {}),
    };
    expect(got, JSON.stringify(answer.reasons)).toEqual({ decision, riskLevel, reasons, ...(matchedBy.length ? { matchedBy } : {}) });
  });

  it('Defender capped its pages at 25 and the adapter followed @odata.nextLink to the end', () => {
    const pages = defender.server.requests.filter(r => r.path === '/api/alerts');
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.slice(1).every(r => r.query.get('$skip') !== null)).toBe(true);
  });

  it('one incident reported by two vendors counts once, naming both reports', () => {
    const answer = answers.get('component:default/pay-api production');
    const [reason] = answer.reasons;
    expect(reason.signalIds.sort()).toEqual(['crowdstrike:fake:ind:dev-pay-vm-01:pay-dropper', 'sentinelone:9003']);
    // the counted report (SentinelOne's, the higher) first
    expect(reason.message).toContain('by sentinelone and crowdstrike');
    expect(reason.message).toContain('same file SHA-256');
    // counted once: the higher contribution (SentinelOne's 21), not the two combined (32, moderate)
    expect(answer.score).toBeGreaterThan(20);
    expect(answer.score).toBeLessThan(21);
  });

  it('names what the answers do not cover', () => {
    const search = answers.get('component:default/search-api production');
    expect(search.reasons[1].message).toContain('search-02');
    const staging = answers.get('component:default/search-indexer staging');
    expect(staging.reasons[0].message).toContain('idx-stg-01');
    const shop = answers.get('system:default/shop production');
    const partial = shop.reasons.find((r: { code: string }) => r.code === 'partial_coverage');
    expect(partial.message).toContain('component:default/shop-catalog');
    const stale = answers.get('component:default/pay-reports production').reasons[1];
    expect(stale.source).toBe('legacy-batch');
  });
});
