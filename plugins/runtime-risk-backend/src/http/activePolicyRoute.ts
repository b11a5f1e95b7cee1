import type express from 'express';
import type { BackstageCredentials, HttpAuthService } from '@backstage/backend-plugin-api';
import { runtimeRiskPolicyReadPermission } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { RiskService } from '../gate/RiskService';
import type { Access } from './access';

export interface ActivePolicyRouteOptions {
  httpAuth: HttpAuthService;
  risk: RiskService;
  access: () => Access;
}

/**
 * `GET /v1/policy`: the policy the gate decides with now (id, hash, environments
 * and scoring as normalized), for holders of `runtime-risk.policy.read`. The
 * history of earlier policies is `GET /v1/policies`.
 */
export function addActivePolicyRoute(router: express.Router, options: ActivePolicyRouteOptions): void {
  router.get('/v1/policy', async (req, res) => {
    const credentials: BackstageCredentials = await options.httpAuth.credentials(req, { allow: ['user', 'service'] });
    await options.access().require(credentials, runtimeRiskPolicyReadPermission);
    const policy = options.risk.policy;
    res.json({
      id: policy.id,
      hash: policy.hash,
      environments: policy.environments,
      scoring: { severityWeights: policy.weights, halfLifeMs: policy.halfLifeMs },
    });
  });
}
