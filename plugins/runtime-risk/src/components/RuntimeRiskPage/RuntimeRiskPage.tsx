import { Content, Header, Page } from '@backstage/core-components';
import { RuntimeRiskOverview } from './RuntimeRiskOverview';

/** Full page with header, for apps on the legacy frontend system. */
export function RuntimeRiskPage() {
  return (
    <Page themeId="tool">
      <Header title="Runtime risk" subtitle="Is it safe to deploy right now? Every service, ranked." />
      <Content>
        <RuntimeRiskOverview />
      </Content>
    </Page>
  );
}

/** Page body for the new frontend system, whose page blueprint draws the header. */
export function RuntimeRiskPageContent() {
  return (
    <Content>
      <RuntimeRiskOverview />
    </Content>
  );
}
