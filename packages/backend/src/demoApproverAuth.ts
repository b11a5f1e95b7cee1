import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import { NotAllowedError } from '@backstage/errors';
import {
  authProvidersExtensionPoint,
  createProxyAuthenticator,
  createProxyAuthProviderFactory,
  type SignInResolver,
} from '@backstage/plugin-auth-node';

/** The auth provider id: the app signs in through `GET /api/auth/demo-approver/refresh`. */
export const DEMO_APPROVER_PROVIDER_ID = 'demo-approver';
const DEFAULT_USER = 'user:default/sam';

/**
 * Whether the demo approver may sign people in: only where `auth.environment` is
 * `development`, unless `auth.providers.demo-approver.dangerouslyAllowOutsideDevelopment`
 * is true (the same opt-out the guest provider has).
 */
export function demoApproverAllowed(rootConfig: Config): boolean {
  const environment = rootConfig.getOptionalString('auth.environment') ?? 'development';
  const allowOutside =
    rootConfig.getOptionalBoolean(`auth.providers.${DEMO_APPROVER_PROVIDER_ID}.dangerouslyAllowOutsideDevelopment`) === true;
  return environment === 'development' || allowOutside;
}

function demoApproverAuthenticator(allowed: boolean) {
  return createProxyAuthenticator<boolean, Record<string, never>, undefined>({
    defaultProfileTransform: async () => ({ profile: {} }),
    initialize: () => allowed,
    async authenticate(_input, isAllowed) {
      if (!isAllowed) {
        throw new NotAllowedError(
          `The ${DEMO_APPROVER_PROVIDER_ID} provider signs anyone in as a fixed user and only works where ` +
            `auth.environment is 'development' (or with auth.providers.${DEMO_APPROVER_PROVIDER_ID}.dangerouslyAllowOutsideDevelopment)`,
        );
      }
      return { result: {} };
    },
  });
}

/** Signs in as the configured catalog user (default user:default/sam), with the ownership the catalog gives it. */
function signInAsConfiguredUser(providerConfig: Config): SignInResolver<Record<string, never>> {
  const userRef = providerConfig.getOptionalString('userEntityRef') ?? DEFAULT_USER;
  return async (_info, ctx) => ctx.signInWithCatalogUser({ entityRef: userRef });
}

/**
 * DEMO ONLY: a second guest-like sign-in, as a security approver, so that the demo
 * can show one user requesting an exception and another approving it. Configure
 * `auth.providers.demo-approver: { userEntityRef: user:default/sam }`; without that
 * block the auth backend leaves the provider unmounted.
 */
export const demoApproverAuthModule = createBackendModule({
  pluginId: 'auth',
  moduleId: 'demo-approver-provider',
  register(reg) {
    reg.registerInit({
      deps: {
        providers: authProvidersExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ providers, config, logger }) {
        const providerConfig = config.getOptionalConfig(`auth.providers.${DEMO_APPROVER_PROVIDER_ID}`);
        if (!providerConfig) return;
        const allowed = demoApproverAllowed(config);
        if (!allowed) {
          logger.warn(
            `auth provider '${DEMO_APPROVER_PROVIDER_ID}' is configured but refuses sign-ins: auth.environment is not 'development'`,
          );
        }
        providers.registerProvider({
          providerId: DEMO_APPROVER_PROVIDER_ID,
          factory: createProxyAuthProviderFactory({
            authenticator: demoApproverAuthenticator(allowed),
            signInResolver: signInAsConfiguredUser(providerConfig),
          }),
        });
      },
    });
  },
});
