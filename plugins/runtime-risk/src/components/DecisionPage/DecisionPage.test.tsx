import '../../testing/configure';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { catalogApiRef, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeDecision } from '../../testing/fixtures';
import { RuntimeRiskPage } from '../RuntimeRiskPage';

const REF = 'component:default/payments-api';
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.decisions.set(REF, [
    makeDecision({
      decisionId: 'dec-held',
      decision: 'approval_required',
      riskLevel: 'moderate',
      score: 42.5,
      status: 'pending',
      reasons: [{ code: 'signal_active', message: 'medium: Suspicious PowerShell on pay-01', signalIds: ['file:det-7'] }],
      hosts: [
        { id: 'pay-01', matchedBy: 'annotation:runtime-risk.io/hosts' },
        { id: 'pay-02', matchedBy: 'relation:dependsOn:resource:default/pay-02' },
      ],
      policy: { id: 'default', hash: 'f00dbabe1234' },
      approval: { expiresAt: inMinutes(45), requestedBy: 'user:default/dev' },
      evaluatedSignals: [
        { id: 'file:det-7', source: 'file', severity: 'medium', confidence: 0.8, status: 'active', lastSeenAt: new Date().toISOString(), title: 'Suspicious PowerShell' },
        { id: 'file:det-8', source: 'file', severity: 'informational', confidence: 1, status: 'active', lastSeenAt: new Date().toISOString(), title: 'Agent heartbeat' },
      ],
    }),
    makeDecision({
      decisionId: 'dec-expired',
      decision: 'approval_required',
      riskLevel: 'moderate',
      status: 'expired',
      approval: { expiresAt: inMinutes(-5), requestedBy: 'user:default/dev' },
    }),
  ]);
});
afterEach(async () => {
  await server.stop();
});

async function renderAt(path: string) {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [runtimeRiskApiRef, server.client()],
        [catalogApiRef, catalogApiMock({ entities: [] })],
      ]}
    >
      <RuntimeRiskPage />
    </TestApiProvider>,
    { routeEntries: [path], mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
  );
}

/** Sets the comment at once (typing key by key is slow on a busy machine; the form reads the change event either way). */
const type = (input: HTMLElement, value: string) => fireEvent.change(input, { target: { value } });

const posts = () => server.requests.filter(r => r.method === 'POST');

describe('decision page', () => {
  it('shows the full answer: decision, level, reasons, signals, hosts, policy, requester and the expiry', async () => {
    await renderAt('/decisions/dec-held');
    const page = await screen.findByTestId('runtime-risk-decision');
    expect(within(page).getByRole('heading', { level: 1 })).toHaveTextContent('Deploy of payments-api to production');
    expect(within(page).getByTestId('decision-approval_required')).toBeInTheDocument();
    expect(within(page).getByTestId('decision-status-pending')).toHaveTextContent('awaiting approval');
    expect(within(page).getByText('Moderate')).toBeInTheDocument();
    expect(within(page).getByText('42.5')).toBeInTheDocument();
    expect(within(page).getByText(/Expires in 45 min \(.* UTC\) unless someone approves or rejects it/)).toBeInTheDocument();
    expect(within(page).getByText('user:default/dev')).toBeInTheDocument();
    expect(within(page).getByText('f00dbabe1234')).toBeInTheDocument();
    const reasons = within(page).getByRole('list', { name: 'reasons' });
    expect(reasons).toHaveTextContent('signal_active: medium: Suspicious PowerShell on pay-01');
    const signals = within(page).getByRole('table', { name: 'signals' });
    const signalRows = within(signals).getAllByRole('row').slice(1);
    expect(signalRows.map(r => r.textContent)).toEqual([
      expect.stringContaining('Suspicious PowerShell'),
      expect.stringContaining('Agent heartbeat'),
    ]);
    expect(within(signalRows[0]).getByTestId('severity-medium')).toBeInTheDocument();
    const hosts = within(page).getByRole('table', { name: 'hosts' });
    expect(hosts).toHaveTextContent('pay-01');
    expect(hosts).toHaveTextContent('relation:dependsOn:resource:default/pay-02');
    expect(server.requests.some(r => r.method === 'GET' && r.path === '/v1/decisions/dec-held')).toBe(true);
  });

  it('approves only with a comment, then shows the approval', async () => {
    await renderAt('/decisions/dec-held');
    const approve = await screen.findByRole('button', { name: 'Approve deploy' });
    await userEvent.click(approve);
    expect(await screen.findByText('Say why: a comment is required to approve or reject.')).toBeInTheDocument();
    expect(posts()).toEqual([]);
    // whitespace is no comment either
    type(screen.getByLabelText(/Comment/), '   ');
    await userEvent.click(approve);
    expect(posts()).toEqual([]);

    type(screen.getByLabelText(/Comment/), 'hotfix for INC-42, signal triaged');
    await userEvent.click(approve);
    expect(await screen.findByText('Decision approved: the deploy may proceed.')).toBeInTheDocument();
    expect(posts()).toEqual([
      expect.objectContaining({ path: '/v1/decisions/dec-held/approve', body: { comment: 'hotfix for INC-42, signal triaged' } }),
    ]);
    expect(await screen.findByTestId('decision-status-approved')).toBeInTheDocument();
    expect(screen.getByText(/user:default\/approver at .*: “hotfix for INC-42, signal triaged”/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Approve deploy' })).not.toBeInTheDocument();
  });

  it('rejects with a comment', async () => {
    await renderAt('/decisions/dec-held');
    type(await screen.findByLabelText(/Comment/), 'not during the freeze');
    await userEvent.click(screen.getByRole('button', { name: 'Reject deploy' }));
    expect(await screen.findByText('Decision rejected: the deploy stays blocked.')).toBeInTheDocument();
    expect(posts()).toEqual([expect.objectContaining({ path: '/v1/decisions/dec-held/reject', body: { comment: 'not during the freeze' } })]);
    expect(await screen.findByTestId('decision-status-rejected')).toBeInTheDocument();
  });

  it('shows the backend refusing the requester their own approval, clearly', async () => {
    const message =
      "refusing to approve decision 'dec-held': user:default/dev asked for this deploy; the requester of a deployment can never approve its decision";
    server.handlers.push(req =>
      req.method === 'POST' && req.path === '/v1/decisions/dec-held/approve'
        ? FakeRuntimeRiskServer.error(403, 'NotAllowedError', message)
        : undefined,
    );
    await renderAt('/decisions/dec-held');
    type(await screen.findByLabelText(/Comment/), 'my own deploy');
    await userEvent.click(screen.getByRole('button', { name: 'Approve deploy' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('You asked for this deploy, so you cannot review it: another approver must.');
    expect(alert).toHaveTextContent(message);
    expect(alert).toHaveTextContent('HTTP 403');
    // still pending, still reviewable by someone else
    expect(screen.getByTestId('decision-status-pending')).toBeInTheDocument();
  });

  it('shows an expired decision with its expiry and no review form', async () => {
    await renderAt('/decisions/dec-expired');
    expect(await screen.findByTestId('decision-status-expired')).toHaveTextContent('expired unapproved');
    expect(screen.getByText(/Expired unapproved at .* UTC: the deploy stays held/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Approve deploy' })).not.toBeInTheDocument();
  });

  it('says so when the decision is unknown (or hidden)', async () => {
    await renderAt('/decisions/nope');
    expect(await screen.findByText("No decision 'nope' (or you may not see its service).")).toBeInTheDocument();
  });

  it('redirects the old link form /runtime-risk?decision=<id> to the decision page', async () => {
    await renderAt('/?decision=dec-held');
    const page = await screen.findByTestId('runtime-risk-decision');
    expect(within(page).getByText('dec-held')).toBeInTheDocument();
    expect(screen.queryByTestId('runtime-risk-overview')).not.toBeInTheDocument();
    await waitFor(() => expect(server.requests.some(r => r.path === '/v1/decisions/dec-held')).toBe(true));
  });
});
