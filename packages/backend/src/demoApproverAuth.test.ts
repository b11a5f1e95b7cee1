import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { JsonObject } from '@backstage/config';
import request from 'supertest';
import { demoApproverAuthModule } from './demoApproverAuth';

const entities = [
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'User',
    metadata: { name: 'sam', namespace: 'default' },
    spec: { memberOf: ['group:default/security'] },
    relations: [{ type: 'memberOf', targetRef: 'group:default/security' }],
  },
];

async function start(auth: JsonObject) {
  const { server } = await startTestBackend({
    features: [
      import('@backstage/plugin-auth-backend'),
      demoApproverAuthModule,
      catalogServiceMock.factory({ entities }),
      mockServices.rootConfig.factory({
        data: { app: { baseUrl: 'http://localhost:3000' }, auth },
      }),
    ],
  });
  return server;
}

describe('demo-approver auth provider (demo only)', () => {
  it('signs in as the configured catalog user, with its groups, in development', async () => {
    const server = await start({
      environment: 'development',
      providers: { 'demo-approver': { userEntityRef: 'user:default/sam' } },
    });
    const res = await request(server).get('/api/auth/demo-approver/refresh').set('x-requested-with', 'XMLHttpRequest');
    expect(res.status).toBe(200);
    expect(res.body.backstageIdentity.identity.userEntityRef).toBe('user:default/sam');
    expect(res.body.backstageIdentity.identity.ownershipEntityRefs).toEqual(
      expect.arrayContaining(['user:default/sam', 'group:default/security']),
    );
    expect(typeof res.body.backstageIdentity.token).toBe('string');
  });

  it('refuses sign-ins outside auth.environment development', async () => {
    const server = await start({
      environment: 'production',
      providers: { 'demo-approver': { userEntityRef: 'user:default/sam' } },
    });
    const res = await request(server).get('/api/auth/demo-approver/refresh').set('x-requested-with', 'XMLHttpRequest');
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toMatch(/only works where auth.environment is 'development'/);
  });

  it('signs in outside development only when explicitly allowed', async () => {
    const server = await start({
      environment: 'production',
      providers: { 'demo-approver': { userEntityRef: 'user:default/sam', dangerouslyAllowOutsideDevelopment: true } },
    });
    const res = await request(server).get('/api/auth/demo-approver/refresh').set('x-requested-with', 'XMLHttpRequest');
    expect(res.status).toBe(200);
    expect(res.body.backstageIdentity.identity.userEntityRef).toBe('user:default/sam');
  });

  it('is not mounted without its config block', async () => {
    const server = await start({ environment: 'development', providers: {} });
    const res = await request(server).get('/api/auth/demo-approver/refresh').set('x-requested-with', 'XMLHttpRequest');
    expect(res.status).toBe(404);
  });
});
