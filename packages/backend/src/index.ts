/*
 * The Runtime Risk demo backend (new backend system). `npm start` at the
 * repository root runs it with app-config.yaml: embedded SQLite, the demo
 * catalog in examples/ and the file signal source.
 */
import { createBackend } from '@backstage/backend-defaults';
import { demoApproverAuthModule } from './demoApproverAuth';

const backend = createBackend();

backend.add(import('@backstage/plugin-app-backend'));
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
// DEMO ONLY: a second sign-in (Sam, security approver); refuses outside auth.environment development.
backend.add(demoApproverAuthModule);
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(import('@backstage/plugin-catalog-backend-module-scaffolder-entity-model'));
backend.add(import('@backstage/plugin-permission-backend'));
// The runtime-risk permission policy (runtimeRisk.permissionPolicy in app-config).
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-permission-policy'));
backend.add(import('@backstage/plugin-scaffolder-backend'));
// Notifications: runtime-risk tells approvers and owners of held deploys (with a link to the decision page).
backend.add(import('@backstage/plugin-notifications-backend'));
// Signals (pinned to Backstage 1.55's 0.3.19; 0.3.21 needs backend-defaults' addWebSocketHandler): the
// portal's runtime-risk card and tab refetch when the backend announces a change, instead of polling.
backend.add(import('@backstage/plugin-signals-backend'));

// Runtime Risk: the gate plugin and its signal sources. A source module whose
// `runtimeRisk.sources.<id>` block is absent stays idle.
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-file'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-crowdstrike'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-defender'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-sentinelone'));
backend.add(import('@runtime-risk/backstage-plugin-runtime-risk-backend-module-webhook'));
backend.add(import('@runtime-risk/backstage-plugin-scaffolder-backend-module-runtime-risk'));

backend.start();
