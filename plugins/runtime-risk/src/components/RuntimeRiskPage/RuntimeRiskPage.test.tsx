import '../../testing/configure';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { catalogApiRef, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import type { Entity } from '@backstage/catalog-model';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeException, makeRisk, makeSource } from '../../testing/fixtures';
import { columnHeaders, pretendNarrowScreen } from '../../testing/render';
import { RuntimeRiskPage } from './RuntimeRiskPage';

function component(name: string, owner: string, system: string): Entity {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: 'default' },
    spec: { type: 'service', owner, system, lifecycle: 'production' },
  };
}

const entities: Entity[] = [
  component('payments-api', 'team-payments', 'payments'),
  component('ledger', 'team-payments', 'payments'),
  component('checkout-web', 'team-shop', 'shop'),
  component('search', 'team-shop', 'shop'),
  component('legacy-batch', 'team-shop', 'shop'),
  { apiVersion: 'backstage.io/v1alpha1', kind: 'System', metadata: { name: 'payments' }, spec: { owner: 'team-payments' } },
];

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.sources = [
    makeSource({ id: 'file', type: 'file', status: 'ok' }),
    makeSource({ id: 'crowdstrike', type: 'crowdstrike', status: 'degraded', consecutiveFailures: 1, lastError: 'HTTP 429 rate limited' }),
  ];
  const ref = (n: string) => `component:default/${n}`;
  server.risks.set(ref('payments-api'), [
    makeRisk({ entityRef: ref('payments-api'), environment: 'production', riskLevel: 'high', score: 99.4, decision: 'block', reasons: [{ code: 'signal_active', message: 'critical: ransomware staging on pay-01', signalIds: ['file:1'] }] }),
    makeRisk({ entityRef: ref('payments-api'), environment: 'staging', riskLevel: 'high', score: 99.4, decision: 'approval_required' }),
  ]);
  server.risks.set(ref('ledger'), [
    makeRisk({ entityRef: ref('ledger'), environment: 'production', riskLevel: 'low', score: 8.5, decision: 'proceed' }),
    makeRisk({ entityRef: ref('ledger'), environment: 'staging', riskLevel: 'low', score: 8.5, decision: 'proceed' }),
  ]);
  server.risks.set(ref('checkout-web'), [
    makeRisk({ entityRef: ref('checkout-web'), environment: 'production', riskLevel: 'moderate', score: 45.1, decision: 'approval_required' }),
    // hosts known in production only: uncorrelated in staging
    makeRisk({ entityRef: ref('checkout-web'), environment: 'staging', riskLevel: 'unknown', score: null, decision: 'proceed', hosts: [], reasons: [{ code: 'uncorrelated', message: 'no host found in staging', signalIds: [] }] }),
  ]);
  server.risks.set(ref('search'), [
    makeRisk({ entityRef: ref('search'), environment: 'production', riskLevel: 'unknown', score: null, decision: 'approval_required', hosts: [], reasons: [{ code: 'uncorrelated', message: 'no host found', signalIds: [] }] }),
    makeRisk({ entityRef: ref('search'), environment: 'staging', riskLevel: 'unknown', score: null, decision: 'proceed', hosts: [], reasons: [{ code: 'uncorrelated', message: 'no host found', signalIds: [] }] }),
  ]);
  // legacy-batch: the backend answers 404 (not known yet)
});
afterEach(async () => {
  await server.stop();
});

async function renderPage() {
  return renderInTestApp(
    <TestApiProvider
      apis={[
        [runtimeRiskApiRef, server.client()],
        [catalogApiRef, catalogApiMock({ entities })],
      ]}
    >
      <RuntimeRiskPage />
    </TestApiProvider>,
    { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
  );
}

function rankedServices(): string[] {
  const table = screen.getByRole('region', { name: 'services ranked by risk' });
  return within(table)
    .getAllByRole('row')
    .slice(1)
    .map(row => within(row).getAllByRole('cell').map(c => c.textContent ?? ''))
    .map(cells => `${cells[0]} ${cells[1]} ${cells[4]} ${cells[7]}`);
}

describe('RuntimeRiskPage', () => {
  it('ranks services by risk in production by default', async () => {
    await renderPage();
    await screen.findByText('Services ranked by risk (4)', {}, { timeout: 5000 });
    await waitFor(() =>
      expect(rankedServices()).toEqual([
        '1 payments-api production block',
        '2 checkout-web production approval_required',
        '3 ledger production proceed',
        '4 search production approval_required',
      ]),
    );
    expect(screen.getByText('critical: ransomware staging on pay-01')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'payments-api' })).toHaveAttribute(
      'href',
      '/catalog/default/component/payments-api',
    );
  });

  it('reads the risk of every service from one summary call, not one risk call per Component', async () => {
    server.shadowBuckets = [
      { start: '2026-12-02T00:00:00.000Z', total: 3, wouldHaveBlocked: 2, wouldHaveRequiredApproval: 1 },
      { start: '2026-12-03T00:00:00.000Z', total: 1, wouldHaveBlocked: 1, wouldHaveRequiredApproval: 0 },
    ];
    await renderPage();
    await screen.findByText('Services ranked by risk (4)', {}, { timeout: 5000 });
    expect(server.requests.filter(r => r.path === '/v1/summary')).toHaveLength(1);
    expect(server.requests.filter(r => r.path.startsWith('/v1/entities/'))).toHaveLength(0);
    const counts = screen.getByRole('region', { name: 'gate summary' });
    expect(counts).toHaveTextContent('Gate now in production: 1 block, 2 approval required, 1 proceed.');
    expect(counts).toHaveTextContent('Shadow mode, last 2 days: 3 would have blocked, 1 would have needed approval.');
    await userEvent.selectOptions(screen.getByLabelText('Environment'), 'staging');
    await waitFor(() => expect(counts).toHaveTextContent('Gate now in staging: 0 block, 1 approval required, 3 proceed.'));
  });

  it('shows the backend error when the summary fails, and still lists the services', async () => {
    server.handlers.push(req =>
      req.path === '/v1/summary' ? FakeRuntimeRiskServer.error(403, 'NotAllowedError', "not allowed: this needs the permission 'runtime-risk.decision.read'") : undefined,
    );
    await renderPage();
    await screen.findByText(/Risk summary unavailable: .*runtime-risk.decision.read/, {}, { timeout: 5000 });
    expect(screen.getByText('Services ranked by risk (0)')).toBeInTheDocument();
  });

  it('filters by environment, owner, system and level', async () => {
    await renderPage();
    await screen.findByText('Services ranked by risk (4)', {}, { timeout: 5000 });

    await userEvent.selectOptions(screen.getByLabelText('Environment'), 'staging');
    await waitFor(() => expect(rankedServices()[0]).toBe('1 payments-api staging approval_required'));

    await userEvent.selectOptions(screen.getByLabelText('Environment'), '');
    await screen.findByText('Services ranked by risk (8)');

    await userEvent.selectOptions(screen.getByLabelText('Owner'), 'team-shop');
    await screen.findByText('Services ranked by risk (4)');
    expect(rankedServices().every(r => /checkout-web|search/.test(r))).toBe(true);

    await userEvent.selectOptions(screen.getByLabelText('Level'), 'moderate');
    await screen.findByText('Services ranked by risk (1)');
    expect(rankedServices()).toEqual(['1 checkout-web production approval_required']);

    await userEvent.selectOptions(screen.getByLabelText('Owner'), '');
    await userEvent.selectOptions(screen.getByLabelText('Level'), '');
    await userEvent.selectOptions(screen.getByLabelText('System'), 'payments');
    await screen.findByText('Services ranked by risk (4)');
    expect(rankedServices().every(r => /payments-api|ledger/.test(r))).toBe(true);

    await userEvent.selectOptions(screen.getByLabelText('Level'), 'unknown');
    await waitFor(() => expect(screen.getByText('No service matches these filters.')).toBeInTheDocument());
  });

  it('lists uncorrelated and unevaluated services, coverage and source health', async () => {
    await renderPage();
    const list = await screen.findByRole('list', { name: 'uncorrelated services' }, { timeout: 5000 });
    expect(within(list).getByRole('link', { name: 'search' })).toBeInTheDocument();
    expect(within(list).getAllByRole('listitem')).toHaveLength(1);
    expect(screen.getByText('Uncorrelated services (1)')).toBeInTheDocument();
    expect(screen.getByText(/component:default\/legacy-batch: not known to the runtime-risk backend yet/)).toBeInTheDocument();
    expect(screen.getByText(/Coverage: 3 of 5 services correlated/)).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText('crowdstrike: degraded')).toBeInTheDocument());
    expect(screen.getByText('HTTP 429 rate limited')).toBeInTheDocument();
    expect(screen.getByText('file: ok')).toBeInTheDocument();
  });

  it('counts a service as uncorrelated only in the environment being looked at', async () => {
    await renderPage();
    let list = await screen.findByRole('list', { name: 'uncorrelated services' }, { timeout: 5000 });
    // production (the default): checkout-web has hosts there
    expect(within(list).queryByRole('link', { name: 'checkout-web' })).not.toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText('Environment'), 'staging');
    await waitFor(() => expect(screen.getByText('Uncorrelated services (2)')).toBeInTheDocument());
    list = screen.getByRole('list', { name: 'uncorrelated services' });
    expect(within(list).getByRole('link', { name: 'checkout-web' })).toBeInTheDocument();
    expect(screen.getByText(/Coverage: 2 of 5 services correlated with hosts in staging/)).toBeInTheDocument();
  });

  it('shows the catalog error when services cannot be listed', async () => {
    const failing = catalogApiMock.mock({
      getEntities: async () => {
        throw new Error('catalog unreachable');
      },
    });
    await renderInTestApp(
      <TestApiProvider apis={[[runtimeRiskApiRef, server.client()], [catalogApiRef, failing]]}>
        <RuntimeRiskPage />
      </TestApiProvider>,
      { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
    );
    await waitFor(() => expect(screen.getByText(/Could not list services from the catalog: catalog unreachable/)).toBeInTheDocument());
  });

  it('explains an empty catalog', async () => {
    await renderInTestApp(
      <TestApiProvider apis={[[runtimeRiskApiRef, server.client()], [catalogApiRef, catalogApiMock({ entities: [] })]]}>
        <RuntimeRiskPage />
      </TestApiProvider>,
      { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
    );
    await waitFor(() => expect(screen.getByText(/The catalog has no Components yet/)).toBeInTheDocument());
  });

  it('lists exceptions waiting for approval across services and approves one', async () => {
    server.exceptions = [
      makeException({ id: 'exc-1', entityRef: 'component:default/payments-api', status: 'pending' }),
      makeException({ id: 'exc-2', entityRef: 'component:default/ledger', status: 'approved' }),
    ];
    await renderPage();
    const table = await screen.findByRole('region', { name: 'Exceptions waiting for approval' });
    await waitFor(() => expect(within(table).getByText('Exceptions waiting for approval (1)')).toBeInTheDocument());
    const row = within(table).getByText('exc-1').closest('tr')!;
    expect(within(row).getByRole('link', { name: 'payments-api' })).toBeInTheDocument();
    expect(within(table).queryByText('exc-2')).toBeNull();
    expect(server.requests.some(q => q.path === '/v1/exceptions' && q.query.get('status') === 'pending')).toBe(true);
    await userEvent.click(within(row).getByRole('button', { name: 'approve exc-1' }));
    await waitFor(() => expect(within(table).getByText('Exception exc-1 approved (status: approved).')).toBeInTheDocument());
    await waitFor(() => expect(within(table).getByText('Exceptions waiting for approval (0)')).toBeInTheDocument());
  });

  it('cuts a long top reason to two lines and shows it whole in a tooltip', async () => {
    const long =
      'Active critical signal "Credential dumping via LSASS access" from crowdstrike on pay-01.prod.example.com (confidence 0.95, last seen 2030-01-10T11:53:38Z) contributes 94.9 to the score';
    server.risks.set('component:default/payments-api', [
      makeRisk({ entityRef: 'component:default/payments-api', environment: 'production', riskLevel: 'high', score: 99.4, decision: 'block', reasons: [{ code: 'signal_active', message: long, signalIds: ['file:1'] }] }),
    ]);
    await renderPage();
    const ranking = await screen.findByRole('region', { name: 'services ranked by risk' });
    const cell = await within(ranking).findByText(long);
    expect(cell.style.webkitLineClamp).toBe('2');
    expect(cell).not.toHaveStyle({ wordBreak: 'break-all' });
    await userEvent.hover(cell);
    expect(await screen.findByRole('tooltip')).toHaveTextContent(long);
  });

  it('shows every column on a wide screen and drops the low-value ones under 1280 px', async () => {
    await renderPage();
    const ranking = await screen.findByRole('region', { name: 'services ranked by risk' });
    await within(ranking).findByText('Services ranked by risk (4)');
    expect(columnHeaders(ranking)).toEqual(['Rank', 'Service', 'Owner', 'System', 'Environment', 'Level', 'Score', 'Gate now', 'Top reason']);
  });

  it('drops the system and environment columns, the sources lag and last attempt, and an exception id and who decided it under 1280 px', async () => {
    const restore = pretendNarrowScreen();
    try {
      server.exceptions = [makeException({ id: 'exc-1', entityRef: 'component:default/payments-api', status: 'pending' })];
      await renderPage();
      const ranking = await screen.findByRole('region', { name: 'services ranked by risk' });
      await within(ranking).findByText('Services ranked by risk (4)');
      // production is picked in the filter, so the environment column goes too
      expect(columnHeaders(ranking)).toEqual(['Rank', 'Service', 'Owner', 'Level', 'Score', 'Gate now', 'Top reason']);
      await screen.findByText('file: ok');
      const sources = screen.getByRole('columnheader', { name: 'Type' }).closest('table') as HTMLElement;
      expect(columnHeaders(sources)).toEqual(['Source', 'Type', 'Last success', 'Failures in a row', 'Last error']);
      const pending = screen.getByRole('region', { name: 'Exceptions waiting for approval' });
      await within(pending).findByRole('button', { name: 'approve exc-1' });
      expect(columnHeaders(pending)).not.toContain('Decided by');
      expect(columnHeaders(pending)).not.toContain('Id');
      expect(columnHeaders(pending)).toContain('Reason');
    } finally {
      restore();
    }
  });

  it('shows exception status and the gate answer with an icon next to the word', async () => {
    server.exceptions = [makeException({ id: 'exc-1', entityRef: 'component:default/payments-api', status: 'pending' })];
    await renderPage();
    const pending = await screen.findByRole('region', { name: 'Exceptions waiting for approval' });
    const status = await within(pending).findByTestId('exception-status-pending');
    expect(status).toHaveTextContent('pending');
    expect(status.querySelector('svg')).not.toBeNull();
    const ranking = screen.getByRole('region', { name: 'services ranked by risk' });
    const block = await within(ranking).findByTestId('decision-block');
    expect(block.querySelector('svg')).not.toBeNull();
  });
});
