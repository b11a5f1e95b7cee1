import { ConfigReader } from '@backstage/config';
import { AuthorizeResult, createPermission } from '@backstage/plugin-permission-common';
import { readPolicyConfig, runtimeRiskPolicyDecision } from './policy';

const user = (ref: string, groups: string[] = []) => ({
  identity: { type: 'user' as const, userEntityRef: ref, ownershipEntityRefs: [ref, ...groups] },
  info: { userEntityRef: ref, ownershipEntityRefs: [ref, ...groups] },
  token: 'x',
  credentials: {} as never,
});
const ask = (name: string) => ({ permission: createPermission({ name, attributes: {} }) });

describe('runtime-risk permission policy', () => {
  it('fails at start-up naming the key', () => {
    expect(() => readPolicyConfig(new ConfigReader({}))).toThrow('runtimeRisk.permissionPolicy');
    expect(() => readPolicyConfig(new ConfigReader({ runtimeRisk: { permissionPolicy: { approverGroups: ['security'] } } }))).toThrow(
      "runtimeRisk.permissionPolicy.approverGroups: 'security' is not a group ref",
    );
  });

  it('approvers approve (group refs compared case-insensitively); other permissions are left to the caller', () => {
    const config = readPolicyConfig(new ConfigReader({ runtimeRisk: { permissionPolicy: { approverGroups: ['group:default/Security'] } } }));
    const sam = user('user:default/sam', ['group:default/security']);
    const dev = user('user:default/dev', ['group:default/team-a']);
    expect(runtimeRiskPolicyDecision(config, ask('runtime-risk.exception.approve'), sam)).toEqual({ result: AuthorizeResult.ALLOW });
    expect(runtimeRiskPolicyDecision(config, ask('runtime-risk.exception.approve'), dev)).toEqual({ result: AuthorizeResult.DENY });
    expect(runtimeRiskPolicyDecision(config, ask('runtime-risk.admin.read'), dev)).toEqual({ result: AuthorizeResult.DENY });
    expect(runtimeRiskPolicyDecision(config, ask('runtime-risk.gate.evaluate'), dev)).toEqual({ result: AuthorizeResult.ALLOW });
    expect(runtimeRiskPolicyDecision(config, ask('catalog.entity.read'), dev)).toEqual({ result: AuthorizeResult.ALLOW });
    expect(runtimeRiskPolicyDecision(config, ask('scaffolder.action.execute'), dev)).toBeUndefined();
  });
});
