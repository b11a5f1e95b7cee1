import { TestDatabases, mockCredentials } from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import type { PermissionsService } from '@backstage/backend-plugin-api';
import request from 'supertest';
import { signalInput } from '../testUtils/fixtures';
import { seededBackendPerDatabase } from '../testUtils/backend';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });
const API = '/api/runtime-risk/v1';
const OWNER = mockCredentials.user.header('user:default/owner');
const OUTSIDER = mockCredentials.user.header('user:default/outsider');

/** Everyone may do everything, except that the outsider may not read payments in the catalog. */
const authorize: PermissionsService['authorize'] = async (requests, options) => {
  const user = (options.credentials.principal as { userEntityRef?: string }).userEntityRef;
  return requests.map(r =>
    r.permission.name === 'catalog.entity.read' &&
    user === 'user:default/outsider' &&
    (r as { resourceRef?: string }).resourceRef === 'component:default/payments'
      ? { result: AuthorizeResult.DENY }
      : { result: AuthorizeResult.ALLOW },
  );
};

/** Issue 19 part 5: `GET /v1/entities/{kind}/{namespace}/{name}/risk/history`. */
describe.each(databases.eachSupportedId())('risk history route on %p', databaseId => {
  const seeded = seededBackendPerDatabase(databases, databaseId, {
    // payments has a signal and no gate decision: its history is what fills the chart
    signals: [signalInput('high-1', { hostname: 'web-01', severity: 'high' })],
    authorize,
  });

  it('answers the snapshots the scheduled task wrote, per environment, without any gate decision', async () => {
    await seeded.harness.runTask('runtime-risk-score-history');
    const res = await request(seeded.server).get(`${API}/entities/component/default/payments/risk/history`).set('Authorization', OWNER);
    expect(res.status).toBe(200);
    expect(res.body.entityRef).toBe('component:default/payments');
    expect(Date.now() - Date.parse(res.body.since)).toBeGreaterThanOrEqual(7 * 24 * 3600_000 - 60_000);
    expect(res.body.items.map((i: { environment: string }) => i.environment).sort()).toEqual(['production', 'staging']);
    for (const item of res.body.items) {
      expect(item).toEqual({ environment: expect.any(String), at: expect.any(String), score: expect.any(Number), riskLevel: expect.any(String), decision: expect.any(String) });
      expect(item.score).toBeGreaterThan(0);
    }
    const decisions = await request(seeded.server).get(`${API}/decisions?entityRef=component:default/payments`).set('Authorization', OWNER);
    expect(decisions.body.totalCount).toBe(0);

    // a second run with nothing changed writes nothing new
    await seeded.harness.runTask('runtime-risk-score-history');
    const again = await request(seeded.server).get(`${API}/entities/component/default/payments/risk/history`).set('Authorization', OWNER);
    expect(again.body.items).toEqual(res.body.items);
  });

  it('narrows to one environment and answers nothing for a window without snapshots', async () => {
    await seeded.harness.runTask('runtime-risk-score-history');
    const res = await request(seeded.server)
      .get(`${API}/entities/component/default/payments/risk/history?environment=production&days=1`)
      .set('Authorization', OWNER);
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    expect(res.body.items.every((i: { environment: string }) => i.environment === 'production')).toBe(true);
    const orphan = await request(seeded.server).get(`${API}/entities/component/default/orphan/risk/history`).set('Authorization', OWNER);
    expect(orphan.status).toBe(200);
    expect(orphan.body.items.every((i: { score: unknown }) => i.score === null)).toBe(true);
  });

  it.each([
    ['days=0', 'days'],
    ['days=91', 'days'],
    ['days=week', 'days'],
    ['environment=moon', 'environment'],
    ['colour=red', 'colour'],
  ])('answers 400 naming the field for ?%s', async (query, field) => {
    const res = await request(seeded.server).get(`${API}/entities/component/default/payments/risk/history?${query}`).set('Authorization', OWNER);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(field);
  });

  it('answers 404 for an unknown entity and for one the caller may not read, alike', async () => {
    const unknown = await request(seeded.server).get(`${API}/entities/component/default/nope/risk/history`).set('Authorization', OWNER);
    expect(unknown.status).toBe(404);
    const hidden = await request(seeded.server).get(`${API}/entities/component/default/payments/risk/history`).set('Authorization', OUTSIDER);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.message).toBe(`entityRef: no entity 'component:default/payments' in the catalog`);
    const visible = await request(seeded.server).get(`${API}/entities/component/default/checkout/risk/history`).set('Authorization', OUTSIDER);
    expect(visible.status).toBe(200);
  });

  it('answers 401 without credentials', async () => {
    const res = await request(seeded.server).get(`${API}/entities/component/default/payments/risk/history`);
    expect(res.status).toBe(401);
  });
});
