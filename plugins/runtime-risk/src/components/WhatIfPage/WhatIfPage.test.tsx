import '../../testing/configure';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { runtimeRiskApiRef, type BacktestResult } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { BacktestView, WhatIfPage } from './WhatIfPage';

const ACTIVE = { id: 'default', environments: { production: { thresholds: { moderate: 30, high: 70 } } } };

function change(i: number, entityRef: string) {
  const reasons = (message: string) => [{ code: 'signal_active', message, signalIds: ['file:1'] }];
  return {
    decisionId: `d-${i}`,
    entityRef,
    environment: 'production',
    createdAt: '2026-12-02T10:00:00.000Z',
    dryRun: false,
    policyHash: 'a'.repeat(64),
    old: { decision: 'proceed', riskLevel: 'low', score: 10, reasons: reasons('low signal contributes 10.0') },
    new: { decision: 'block', riskLevel: 'high', score: 10, reasons: reasons(`low signal contributes 10.0 (change ${i})`) },
  };
}

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.policies = [
    { hash: 'a'.repeat(64), id: 'default', firstActiveAt: '2026-11-01T00:00:00.000Z', periods: [{ from: '2026-11-01T00:00:00.000Z', until: null }], active: true, body: ACTIVE },
  ];
  server.backtest = body => {
    const offset = body.cursor ? Number(body.cursor) : 0;
    const all = [change(1, 'component:default/payments'), change(2, 'component:default/payments'), change(3, 'component:default/checkout')];
    const items = all.slice(offset, offset + 2);
    return {
      since: '2026-11-26T12:00:00.000Z',
      until: '2026-12-03T12:00:00.000Z',
      policy: { id: 'stricter', hash: 'b'.repeat(64) },
      total: 5,
      changed: 3,
      transitions: [
        { from: 'proceed', to: 'proceed', count: 1 },
        { from: 'proceed', to: 'block', count: 3 },
        { from: 'block', to: 'block', count: 1 },
      ],
      byEnvironment: [{ environment: 'production', total: 5, changed: 3, transitions: [{ from: 'proceed', to: 'block', count: 3 }] }],
      byEntity: [
        { entityRef: 'component:default/payments', total: 3, changed: 2, transitions: [{ from: 'proceed', to: 'block', count: 2 }] },
        { entityRef: 'component:default/checkout', total: 1, changed: 1, transitions: [{ from: 'proceed', to: 'block', count: 1 }] },
      ],
      notEvaluated: { count: 0, environments: [] },
      changedDecisions: { items, totalCount: 3, ...(offset + items.length < 3 ? { nextCursor: String(offset + items.length) } : {}) },
    };
  };
});
afterEach(async () => {
  await server.stop();
});

const render = () =>
  renderInTestApp(
    <TestApiProvider apis={[[runtimeRiskApiRef, server.client()]]}>
      <WhatIfPage />
    </TestApiProvider>,
    { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
  );

describe('WhatIfPage', () => {
  it('starts from the active policy, sends the edited YAML and window, and shows the diff', async () => {
    await render();
    const textarea = (await screen.findByLabelText('Proposed policy (YAML)', {}, { timeout: 5000 })) as HTMLTextAreaElement;
    await waitFor(() => expect(JSON.parse(textarea.value)).toEqual(ACTIVE));
    const yaml = 'id: stricter\nenvironments:\n  production:\n    thresholds: { moderate: 5, high: 8 }\n';
    fireEvent.change(textarea, { target: { value: yaml } });
    await userEvent.selectOptions(screen.getByLabelText('Window'), '30d');
    await userEvent.type(screen.getByLabelText('Environment (optional)'), 'production');
    await userEvent.click(screen.getByRole('button', { name: 'Replay recorded decisions' }));

    await screen.findByText('5 decisions replayed, 3 would change');
    const sent = server.requests.find(r => r.path === '/v1/policy/backtest');
    expect(sent?.body).toEqual({ policyYaml: yaml, since: '30d', environment: 'production', limit: 50 });

    const transitions = screen.getByRole('table', { name: 'transitions' });
    const rows = within(transitions).getAllByRole('row').slice(1).map(r => r.textContent);
    expect(rows).toEqual(['proceedproceed1', 'proceedblock3', 'blockblock1']);
    const entities = screen.getByRole('table', { name: 'by entity' });
    expect(within(entities).getAllByRole('row')).toHaveLength(3);
    expect(within(entities).getByText('payments')).toBeInTheDocument();
    const changed = screen.getByRole('table', { name: 'changed decisions' });
    expect(within(changed).getAllByRole('row')).toHaveLength(3);
    expect(within(changed).getByText('low signal contributes 10.0 (change 1)')).toBeInTheDocument();

    // the next page of changed decisions, same window
    await userEvent.click(screen.getByRole('button', { name: 'More changed decisions' }));
    await waitFor(() => expect(within(screen.getByRole('table', { name: 'changed decisions' })).getAllByRole('row')).toHaveLength(4));
    const second = server.requests.filter(r => r.path === '/v1/policy/backtest')[1];
    expect(second.body).toMatchObject({ cursor: '2', since: '2026-11-26T12:00:00.000Z', until: '2026-12-03T12:00:00.000Z' });
    expect(screen.queryByRole('button', { name: 'More changed decisions' })).toBeNull();
  });

  it('keeps column names, counts, chips, environments and entities on one line; wide tables scroll sideways in their card', async () => {
    const result = server.backtest!({}) as BacktestResult;
    result.changedDecisions.items[1] = { ...result.changedDecisions.items[1], dryRun: true };
    await renderInTestApp(<BacktestView result={result} />, { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } });
    for (const name of ['transitions', 'by environment', 'by entity', 'changed decisions']) {
      const table = screen.getByRole('table', { name });
      // the Backstage theme's `word-break: break-word` would let the table squeeze a header to one letter per line
      for (const header of within(table).getAllByRole('columnheader')) expect(header).toHaveStyle({ whiteSpace: 'nowrap' });
      // too narrow a card scrolls the table instead of wrapping its cells mid-word
      expect(table.parentElement).toHaveStyle({ overflowX: 'auto' });
    }
    expect(within(screen.getByRole('table', { name: 'transitions' })).getByRole('columnheader', { name: 'Count' })).toBeInTheDocument();
    const changed = screen.getByRole('table', { name: 'changed decisions' });
    const [, first, second] = within(changed).getAllByRole('row');
    const cells = (row: HTMLElement) => within(row).getAllByRole('cell');
    // When, Entity, Environment, Recorded, Proposed: one line each
    for (const cell of cells(second).slice(0, 5)) expect(cell).toHaveStyle({ whiteSpace: 'nowrap' });
    expect(cells(second)[2]).toHaveTextContent('production (dry run)');
    // the reason wraps between words only, at a readable width
    const why = cells(first)[5];
    expect(why).toHaveTextContent('low signal contributes 10.0 (change 1)');
    expect(why).not.toHaveStyle({ whiteSpace: 'nowrap' });
    expect(why).toHaveStyle({ wordBreak: 'normal', minWidth: '240px' });
    for (const cell of cells(within(screen.getByRole('table', { name: 'by environment' })).getAllByRole('row')[1]).slice(0, 3)) {
      expect(cell).toHaveStyle({ whiteSpace: 'nowrap' });
    }
  });

  it('shows the backend message naming the field of a policy it refuses', async () => {
    server.handlers.push(req =>
      req.path === '/v1/policy/backtest'
        ? FakeRuntimeRiskServer.error(400, 'InputError', 'policyYaml.environments.production.thresholds.high: expected number, received string')
        : undefined,
    );
    await render();
    const textarea = await screen.findByLabelText('Proposed policy (YAML)', {}, { timeout: 5000 });
    await waitFor(() => expect((textarea as HTMLTextAreaElement).value).not.toBe(''));
    await userEvent.click(screen.getByRole('button', { name: 'Replay recorded decisions' }));
    expect(
      await screen.findByText(/Backtest refused: policyYaml.environments.production.thresholds.high: expected number/),
    ).toBeInTheDocument();
  });
});
