import { Navigate, Route, Routes, useSearchParams } from 'react-router-dom';
import { Content, Header, Page } from '@backstage/core-components';
import { RuntimeRiskOverview } from './RuntimeRiskOverview';
import { DecisionRoutePage } from '../DecisionPage/DecisionPage';
import { decisionPath } from '../DecisionQueue/DecisionQueue';
import { WhatIfPage } from '../WhatIfPage/WhatIfPage';

/** The old link form `/runtime-risk?decision=<id>` (CLI and scaffolder before the decision page) goes to the decision page. */
function OldDecisionLink(props: { children: JSX.Element }) {
  const [params] = useSearchParams();
  const id = params.get('decision');
  return id ? <Navigate to={decisionPath(id)} replace /> : props.children;
}

/** The org page and, under it, `decisions/:id`; `header` wraps each in a page with a header (legacy frontend system). */
function RuntimeRiskRoutes(props: { header: boolean }) {
  const page = (title: string, subtitle: string, body: JSX.Element) =>
    props.header ? (
      <Page themeId="tool">
        <Header title={title} subtitle={subtitle} />
        <Content>{body}</Content>
      </Page>
    ) : (
      <Content>{body}</Content>
    );
  return (
    <Routes>
      <Route
        path="/"
        element={
          <OldDecisionLink>
            {page('Runtime risk', 'Is it safe to deploy right now? Every service, ranked.', <RuntimeRiskOverview />)}
          </OldDecisionLink>
        }
      />
      <Route
        path="/decisions/:id"
        element={page('Runtime risk: deploy decision', 'The gate\u2019s full answer; approve or reject a held deploy.', <DecisionRoutePage />)}
      />
      <Route
        path="/what-if"
        element={page('Runtime risk: what if', 'What would a policy change have done to the recorded decisions?', <WhatIfPage />)}
      />
    </Routes>
  );
}

/** Full page with header, for apps on the legacy frontend system. */
export function RuntimeRiskPage() {
  return <RuntimeRiskRoutes header />;
}

/** Page body for the new frontend system, whose page blueprint draws the header. */
export function RuntimeRiskPageContent() {
  return <RuntimeRiskRoutes header={false} />;
}
