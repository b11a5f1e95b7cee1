import { useState, type ComponentType } from 'react';
import Button from '@material-ui/core/Button';
import Grid from '@material-ui/core/Grid';
import Typography from '@material-ui/core/Typography';
import { Content, ErrorPanel, Header, InfoCard, Page, ProxiedSignInPage } from '@backstage/core-components';
import { configApiRef, useApi, type IdentityApi } from '@backstage/core-plugin-api';
import { createFrontendModule } from '@backstage/frontend-plugin-api';
import { SignInPageBlueprint, type SignInPageProps } from '@backstage/plugin-app-react';

/** Where the chosen demo identity is remembered, so a reload signs in again without a click. */
export const DEMO_SIGN_IN_STORAGE_KEY = 'runtime-risk-demo:sign-in-provider';

/**
 * The demo's two identities, both proxy providers of the demo backend (development only):
 * `guest` (@backstage/plugin-auth-backend-module-guest-provider) signs in as
 * user:development/guest, member of team-payments (owner of payments-api);
 * `demo-approver` (packages/backend/src/demoApproverAuth.ts) as user:default/sam, member
 * of group security (approves exceptions).
 */
export const DEMO_SIGN_INS = [
  {
    provider: 'guest',
    title: 'Guest (team-payments)',
    message: 'Owner of payments-api: asks the gate and requests exceptions.',
    action: 'Enter',
  },
  {
    provider: 'demo-approver',
    title: 'Sam (security approver)',
    message: 'Member of the security group: approves or rejects exceptions (never their own).',
    action: 'Sign in as Sam',
  },
] as const;

function rememberedProvider(): string | undefined {
  const stored = window.localStorage.getItem(DEMO_SIGN_IN_STORAGE_KEY);
  return DEMO_SIGN_INS.some(s => s.provider === stored) ? stored! : undefined;
}

/** Forgets the chosen identity on sign-out, so the chooser shows again. */
function forgetOnSignOut(identity: IdentityApi): IdentityApi {
  return {
    getProfileInfo: () => identity.getProfileInfo(),
    getBackstageIdentity: () => identity.getBackstageIdentity(),
    getCredentials: () => identity.getCredentials(),
    signOut: async () => {
      window.localStorage.removeItem(DEMO_SIGN_IN_STORAGE_KEY);
      await identity.signOut();
    },
  };
}

/** Lets the demo user pick one of the two identities; the chosen provider is asked for a session. */
export function DemoSignInPage(props: SignInPageProps) {
  const configApi = useApi(configApiRef);
  const [provider, setProvider] = useState<string | undefined>(rememberedProvider);

  if (provider) {
    const SignInFailed: ComponentType<{ error?: Error }> = ({ error }) => (
      <Page themeId="home">
        <Header title={configApi.getString('app.title')} />
        <Content>
          <ErrorPanel title={`Could not sign in with '${provider}'`} error={error ?? new Error('unknown error')} />
          <Button
            color="primary"
            variant="outlined"
            onClick={() => {
              window.localStorage.removeItem(DEMO_SIGN_IN_STORAGE_KEY);
              setProvider(undefined);
            }}
          >
            Choose another identity
          </Button>
        </Content>
      </Page>
    );
    return (
      <ProxiedSignInPage
        key={provider}
        provider={provider}
        ErrorComponent={SignInFailed}
        onSignInSuccess={identity => {
          window.localStorage.setItem(DEMO_SIGN_IN_STORAGE_KEY, provider);
          props.onSignInSuccess(forgetOnSignOut(identity));
        }}
      />
    );
  }

  return (
    <Page themeId="home">
      <Header title={configApi.getString('app.title')} />
      <Content>
        <Typography variant="body1" paragraph>
          Demo sign-in: pick who you are. One user requests an exception, another approves it.
        </Typography>
        <Grid container spacing={2}>
          {DEMO_SIGN_INS.map(s => (
            <Grid item xs={12} sm={6} md={4} key={s.provider}>
              <InfoCard
                title={s.title}
                variant="fullHeight"
                actions={
                  <Button color="primary" variant="outlined" onClick={() => setProvider(s.provider)}>
                    {s.action}
                  </Button>
                }
              >
                <Typography variant="body1">{s.message}</Typography>
              </InfoCard>
            </Grid>
          ))}
        </Grid>
      </Content>
    </Page>
  );
}

const demoSignInPage = SignInPageBlueprint.make({
  params: {
    loader: async () => DemoSignInPage,
  },
});

export const signInModule = createFrontendModule({
  pluginId: 'app',
  extensions: [demoSignInPage],
});
