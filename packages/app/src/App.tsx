import { createApp } from '@backstage/frontend-defaults';
import catalogPlugin from '@backstage/plugin-catalog/alpha';
import orgPlugin from '@backstage/plugin-org/alpha';
import runtimeRiskPlugin from '@runtime-risk/backstage-plugin-runtime-risk/alpha';
import { signInModule } from './modules/signIn';

/** The portal on the new frontend system: catalog, org, runtime risk, guest sign-in. */
const app = createApp({
  features: [catalogPlugin, orgPlugin, runtimeRiskPlugin, signInModule],
});

export default app;
