import { createApp } from '@backstage/frontend-defaults';
import catalogPlugin from '@backstage/plugin-catalog/alpha';
import orgPlugin from '@backstage/plugin-org/alpha';
import notificationsPlugin from '@backstage/plugin-notifications/alpha';
import signalsPlugin from '@backstage/plugin-signals/alpha';
import runtimeRiskPlugin from '@runtime-risk/backstage-plugin-runtime-risk/alpha';
import { signInModule } from './modules/signIn';

/**
 * The portal on the new frontend system: catalog, org, runtime risk, notifications (a held
 * deploy notifies its approvers and owners; the nav lists the page), signals (the runtime-risk card
 * and tab refetch when the backend announces a change), guest sign-in.
 */
const app = createApp({
  features: [catalogPlugin, orgPlugin, runtimeRiskPlugin, notificationsPlugin, signalsPlugin, signInModule],
});

export default app;
