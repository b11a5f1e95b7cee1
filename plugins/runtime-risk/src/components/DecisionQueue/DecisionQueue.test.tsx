import '../../testing/configure';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { catalogApiRef, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeDecision } from '../../testing/fixtures';
import { RuntimeRiskPage } from '../RuntimeRiskPage';
import { DecisionQueue } from './DecisionQueue';

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.decisions.set('component:default/payments-api', [
    makeDecision({
      decisionId: 'dec-later',
      decision: 'approval_required',
      riskLevel: 'moderate',
      status: 'pending',
      reasons: [{ code: 'signal_active', message: 'medium: Suspicious PowerShell on pay-01', signalIds: ['file:1'] }],
      approval: { expiresAt: inMinutes(50), requestedBy: 'user:default/dev' },
    }),
    // decided and final ones are not held
    makeDecision({ decisionId: 'dec-done', decision: 'proceed', status: 'approved' }),
    makeDecision({ decisionId: 'dec-blocked', decision: 'block', status: 'final' }),
  ]);
  server.decisions.set('component:default/checkout-web', [
    makeDecision({
      decisionId: 'dec-soon',
      entityRef: 'component:default/checkout-web',
      environment: 'staging',
      decision: 'approval_required',
      riskLevel: 'unknown',
      score: null,
      status: 'pending',
      reasons: [{ code: 'uncorrelated', message: 'no host found in staging', signalIds: [] }],
      approval: { expiresAt: inMinutes(5), requestedBy: 'ci-pipeline' },
    }),
  ]);
});
afterEach(async () => {
  await server.stop();
});

const apis = () =>
  [
    [runtimeRiskApiRef, server.client()],
    [catalogApiRef, catalogApiMock({ entities: [] })],
  ] as const;
const mountedRoutes = { '/catalog/:namespace/:kind/:name': entityRouteRef };

function queueRows() {
  const queue = screen.getByRole('region', { name: 'held deploys awaiting approval' });
  return within(queue).getAllByRole('row').slice(1);
}

describe('held deploys queue', () => {
  it('lists the decisions awaiting approval, soonest expiry first, with who asked and why', async () => {
    await renderInTestApp(
      <TestApiProvider apis={apis()}>
        <DecisionQueue />
      </TestApiProvider>,
      { mountedRoutes },
    );
    expect(await screen.findByText('Held deploys awaiting approval (2)')).toBeInTheDocument();
    const rows = queueRows();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('checkout-web');
    expect(rows[0]).toHaveTextContent('staging');
    expect(rows[0]).toHaveTextContent('in 5 min');
    expect(rows[0]).toHaveTextContent('ci-pipeline');
    expect(rows[0]).toHaveTextContent('no host found in staging');
    expect(rows[1]).toHaveTextContent('payments-api');
    expect(rows[1]).toHaveTextContent('in 50 min');
    expect(rows[1]).toHaveTextContent('Moderate');
    expect(within(rows[1]).getByRole('link', { name: /Review the deploy of component:default\/payments-api to production/ })).toHaveAttribute(
      'href',
      '/decisions/dec-later',
    );
    const listed = server.requests.filter(r => r.path === '/v1/decisions');
    expect(listed.map(r => r.query.get('status'))).toEqual(['pending']);
    expect(listed[0].query.get('entityRef')).toBeNull();
  });

  it('follows the environment filter and says when nothing is held', async () => {
    await renderInTestApp(
      <TestApiProvider apis={apis()}>
        <DecisionQueue environment="qa" />
      </TestApiProvider>,
      { mountedRoutes },
    );
    expect(await screen.findByText('No deploy is waiting for approval.')).toBeInTheDocument();
    expect(server.requests.find(r => r.path === '/v1/decisions')?.query.get('environment')).toBe('qa');
  });

  it('shows why the queue is unavailable', async () => {
    server.handlers.push(req =>
      req.path === '/v1/decisions'
        ? FakeRuntimeRiskServer.error(403, 'NotAllowedError', "not allowed: this needs the permission 'runtime-risk.decision.read'")
        : undefined,
    );
    await renderInTestApp(
      <TestApiProvider apis={apis()}>
        <DecisionQueue />
      </TestApiProvider>,
      { mountedRoutes },
    );
    expect(await screen.findByText(/Held deploys unavailable: not allowed: this needs the permission 'runtime-risk.decision.read'/)).toBeInTheDocument();
  });

  it('is on the org page, and Review opens the decision page', async () => {
    await renderInTestApp(
      <TestApiProvider apis={apis()}>
        <RuntimeRiskPage />
      </TestApiProvider>,
      { mountedRoutes },
    );
    expect(await screen.findByText('Held deploys awaiting approval (2)')).toBeInTheDocument();
    await userEvent.click(within(queueRows()[1]).getByRole('link', { name: /Review/ }));
    const page = await screen.findByTestId('runtime-risk-decision');
    expect(within(page).getByText('dec-later')).toBeInTheDocument();
    expect(within(page).getByRole('button', { name: 'Approve deploy' })).toBeInTheDocument();
  });
});
