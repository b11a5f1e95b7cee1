/** The gate route as the backend's router tests call it. */
import { mockCredentials, type TestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';

/** `POST /api/runtime-risk/v1/gate` for `entityRef` in `environment`, as a signed-in user (or `authorization`). */
export function postGate(
  server: TestBackend['server'],
  entityRef: string,
  environment = 'production',
  authorization: string = mockCredentials.user.header(),
) {
  return request(server).post('/api/runtime-risk/v1/gate').set('Authorization', authorization).send({ entityRef, environment });
}

/** The reason codes of a gate decision, in order. */
export const reasonCodes = (body: { reasons: { code: string }[] }) => body.reasons.map(r => r.code);
