import { SignInPage } from '@backstage/core-components';
import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { SignInPageBlueprint } from '@backstage/plugin-app-react';

/**
 * Guest sign-in (the demo backend enables `auth.providers.guest`). `auto` signs in
 * without a click when a guest session can be had.
 */
const guestSignInPage = SignInPageBlueprint.make({
  params: {
    loader: async () => props => <SignInPage {...props} auto providers={['guest']} />,
  },
});

export const signInModule = createFrontendModule({
  pluginId: 'app',
  extensions: [guestSignInPage],
});
