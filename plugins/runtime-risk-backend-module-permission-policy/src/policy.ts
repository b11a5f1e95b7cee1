import type { Config } from '@backstage/config';
import {
  AuthorizeResult,
  type ConditionalPolicyDecision,
  type PolicyDecision,
} from '@backstage/plugin-permission-common';
import type { PermissionPolicy, PolicyQuery, PolicyQueryUser } from '@backstage/plugin-permission-node';
import { entityRefKey } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** Where the policy reads its settings. */
export const POLICY_CONFIG_KEY = 'runtimeRisk.permissionPolicy';

/** The policy's settings (`runtimeRisk.permissionPolicy`, see config.d.ts). */
export interface RuntimeRiskPolicyConfig {
  /** Groups whose members approve or reject exceptions and pending decisions. */
  approverGroups: string[];
  /** Groups whose members override decisions (default: the approver groups). */
  overrideGroups: string[];
  /** Groups whose members read sources, coverage, audit and the policy (besides approvers). */
  adminGroups: string[];
  /** When true, a user reads an entity (`catalog.entity.read`) only if they own it or are in a reader, approver or admin group. */
  restrictEntityReads: boolean;
  /** Groups whose members read every entity when `restrictEntityReads` is on. */
  readerGroups: string[];
}

const GROUP_REF = /^group:[^/\s]+\/\S+$/i;

function readGroups(config: Config, key: string, fallback?: string[]): string[] {
  const values = config.getOptionalStringArray(key);
  if (values === undefined) {
    if (fallback) return fallback;
    throw new Error(`${POLICY_CONFIG_KEY}.${key}: required; list group refs such as group:default/security`);
  }
  for (const v of values) {
    if (!GROUP_REF.test(v)) throw new Error(`${POLICY_CONFIG_KEY}.${key}: '${v}' is not a group ref (group:<namespace>/<name>)`);
  }
  return values.map(entityRefKey);
}

/** Reads and checks `runtimeRisk.permissionPolicy`; throws naming the key at fault. */
export function readPolicyConfig(root: Config): RuntimeRiskPolicyConfig {
  const config = root.getOptionalConfig(POLICY_CONFIG_KEY);
  if (!config) throw new Error(`${POLICY_CONFIG_KEY}: required by the runtime-risk permission policy module (approverGroups at least)`);
  const approverGroups = readGroups(config, 'approverGroups');
  if (approverGroups.length === 0) throw new Error(`${POLICY_CONFIG_KEY}.approverGroups: must name at least one group`);
  return {
    approverGroups,
    overrideGroups: readGroups(config, 'overrideGroups', approverGroups),
    adminGroups: readGroups(config, 'adminGroups', []),
    restrictEntityReads: config.getOptionalBoolean('restrictEntityReads') ?? false,
    readerGroups: readGroups(config, 'readerGroups', []),
  };
}

/** "Only the entity's owners", as the catalog's `IS_ENTITY_OWNER` rule checks it (resolved by the catalog). */
function ownersOnly(permission: PolicyQuery['permission'], claims: string[]): ConditionalPolicyDecision {
  return {
    result: AuthorizeResult.CONDITIONAL,
    pluginId: 'catalog',
    resourceType: 'catalog-entity',
    conditions: { rule: 'IS_ENTITY_OWNER', resourceType: 'catalog-entity', params: { claims } },
  } as ConditionalPolicyDecision & { permission?: typeof permission };
}

const allow: PolicyDecision = { result: AuthorizeResult.ALLOW };
const deny: PolicyDecision = { result: AuthorizeResult.DENY };

/**
 * The runtime-risk part of a permission policy: the decision for a
 * `runtime-risk.*` or `catalog.entity.read` request, `undefined` for any other
 * permission (compose it into your own policy). Only user requests reach a
 * policy; service tokens are decided by their `accessRestrictions`.
 */
export function runtimeRiskPolicyDecision(
  config: RuntimeRiskPolicyConfig,
  request: PolicyQuery,
  user?: PolicyQueryUser,
): PolicyDecision | undefined {
  const name = request.permission.name;
  const claims = (user?.info.ownershipEntityRefs ?? []).map(entityRefKey);
  const inAny = (groups: string[]) => groups.some(g => claims.includes(g));
  const approver = inAny(config.approverGroups);
  const admin = approver || inAny(config.adminGroups);
  if (name === 'catalog.entity.read') {
    if (!config.restrictEntityReads || admin || inAny(config.overrideGroups) || inAny(config.readerGroups)) return allow;
    return user ? ownersOnly(request.permission, claims) : deny;
  }
  if (!name.startsWith('runtime-risk.')) return undefined;
  if (!user) return deny;
  switch (name) {
    case 'runtime-risk.gate.evaluate':
    case 'runtime-risk.decision.read':
      return allow;
    case 'runtime-risk.exception.create':
      // owners request exceptions for their own entities (the plugin adds: never approved by the requester)
      return ownersOnly(request.permission, claims);
    case 'runtime-risk.exception.approve':
      return approver ? allow : deny;
    case 'runtime-risk.decision.override':
      return inAny(config.overrideGroups) ? allow : deny;
    case 'runtime-risk.admin.read':
    case 'runtime-risk.policy.read':
      return admin ? allow : deny;
    default:
      return deny;
  }
}

/**
 * A whole permission policy: {@link runtimeRiskPolicyDecision} for runtime-risk
 * and catalog entity reads, ALLOW for every other permission (as Backstage's
 * allow-all policy). Write your own policy calling `runtimeRiskPolicyDecision`
 * if other plugins need rules too.
 */
export class RuntimeRiskPermissionPolicy implements PermissionPolicy {
  constructor(private readonly config: RuntimeRiskPolicyConfig) {}

  async handle(request: PolicyQuery, user?: PolicyQueryUser): Promise<PolicyDecision> {
    return runtimeRiskPolicyDecision(this.config, request, user) ?? allow;
  }
}
