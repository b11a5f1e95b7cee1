import '../../testing/configure';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeDecision, makeEntitySource, makeException, makeRisk, makeSignal, makeSource } from '../../testing/fixtures';
import { PAYMENTS_API_REF as REF, columnHeaders, pretendNarrowScreen, renderInEntity } from '../../testing/render';
import { EntityRiskContent, shadowCounts } from './EntityRiskContent';
import { toChartData } from './RiskChart';

const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.sources = [makeSource()];
  server.risks.set(REF, [
    makeRisk({
      environment: 'production',
      riskLevel: 'high',
      score: 95,
      decision: 'block',
      hosts: [
        { id: 'pay-01', matchedBy: 'annotation', value: 'pay-01.prod.example.com' },
        { id: 'node-7', matchedBy: 'kubernetes-label-selector', sources: ['crowdstrike'] },
      ],
    }),
    makeRisk({ environment: 'staging', riskLevel: 'moderate', score: 60, decision: 'proceed', hosts: [] }),
  ]);
  server.signals.set(REF, [
    makeSignal({
      id: 'crowdstrike:ldt-1',
      source: 'crowdstrike',
      title: 'Credential dumping via LSASS access',
      url: 'https://falcon.crowdstrike.com/activity/detections/ldt-1',
    }),
    makeSignal({
      id: 'file:det-2',
      severity: 'medium',
      status: 'resolved',
      title: 'Suspicious PowerShell download cradle',
      tactics: ['execution'],
      techniques: ['T1059.001'],
      asset: { hostname: 'pay-02', ips: [], macs: [] },
    }),
  ]);
  server.decisions.set(REF, [
    makeDecision({ evaluatedAt: hoursAgo(30), score: 20, decision: 'proceed', riskLevel: 'low', reasons: [{ code: 'no_active_signals', message: 'all quiet', signalIds: [] }] }),
    makeDecision({ evaluatedAt: hoursAgo(5), score: 95, policy: { id: 'default', hash: 'sha256:feedbeef0011223344556677' } }),
    makeDecision({ evaluatedAt: hoursAgo(4), dryRun: true, decision: 'proceed', wouldHaveBeen: 'block', reasons: [{ code: 'dry_run', message: 'dry run: would block', signalIds: [] }] }),
    makeDecision({ evaluatedAt: hoursAgo(3), dryRun: true, decision: 'proceed', wouldHaveBeen: 'block' }),
    makeDecision({ evaluatedAt: hoursAgo(2), dryRun: true, decision: 'proceed', wouldHaveBeen: 'approval_required' }),
    // older than a week: not counted
    makeDecision({ evaluatedAt: hoursAgo(24 * 9), dryRun: true, decision: 'proceed', wouldHaveBeen: 'block' }),
    makeDecision({ environment: 'staging', evaluatedAt: hoursAgo(1), score: 60, decision: 'proceed', riskLevel: 'moderate' }),
  ]);
  // score snapshots (every change, at least hourly): three per environment here
  server.history.set(REF, [
    ...[48, 24, 2].map(h => ({ environment: 'production', at: hoursAgo(h), score: h === 2 ? 95 : 20, riskLevel: 'low' as const, decision: 'proceed' as const })),
    ...[48, 24, 2].map(h => ({ environment: 'staging', at: hoursAgo(h), score: 60, riskLevel: 'moderate' as const, decision: 'proceed' as const })),
  ]);
});
afterEach(async () => {
  await server.stop();
});

const renderTab = () => renderInEntity(<EntityRiskContent />, { api: server.client() });

describe('EntityRiskContent', () => {
  it('lists the signals with severity, host, techniques, status, source and console link', async () => {
    await renderTab();
    await screen.findByText('Signals (2)', {}, { timeout: 5000 });
    await waitFor(() => {
      const row = screen.getByText('Credential dumping via LSASS access').closest('tr')!;
      const r = within(row);
      expect(r.getByText('critical')).toBeInTheDocument();
      expect(r.getByText('pay-01')).toBeInTheDocument();
      expect(r.getByText('credential-access, T1003.001')).toBeInTheDocument();
      expect(r.getByText('active')).toBeInTheDocument();
      expect(r.getByText('crowdstrike')).toBeInTheDocument();
      expect(r.getByRole('link', { name: /open in crowdstrike console/ })).toHaveAttribute(
        'href',
        'https://falcon.crowdstrike.com/activity/detections/ldt-1',
      );
      const resolved = screen.getByText('Suspicious PowerShell download cradle').closest('tr')!;
      expect(within(resolved).getByText('resolved')).toBeInTheDocument();
      expect(within(resolved).getByText('execution, T1059.001')).toBeInTheDocument();
      expect(within(resolved).queryByRole('link')).toBeNull();
    });
    expect(server.requests.some(q => q.path === '/v1/signals' && q.query.get('entityRef') === REF)).toBe(true);
  });

  it('shows hosts and how each was matched', async () => {
    await renderTab();
    await screen.findByText('node-7');
    await waitFor(() => {
      const row = screen.getByText('node-7').closest('tr')!;
      expect(within(row).getByText('kubernetes-label-selector')).toBeInTheDocument();
      expect(within(row).getByText('crowdstrike')).toBeInTheDocument();
      const pay = screen.getByText('pay-01.prod.example.com').closest('tr')!;
      expect(within(pay).getByText('annotation')).toBeInTheDocument();
    });
  });

  it('shows the decision history with reasons and policy hash', async () => {
    await renderTab();
    await waitFor(() => expect(screen.getByText('Decision history (7)')).toBeInTheDocument());
    await waitFor(() => {
      const row = screen.getByText('sha256:feedbeef0011').closest('tr')!;
      expect(within(row).getByText('block')).toBeInTheDocument();
      expect(within(row).getByText('critical: Credential dumping on pay-01')).toBeInTheDocument();
      expect(within(row).getByText('95.0')).toBeInTheDocument();
      expect(screen.getByText('dry run: would block').closest('tr')).toHaveTextContent('would have been block');
    });
  });

  it('renders the risk-over-time chart: a line per environment from the snapshots, decisions as markers', async () => {
    const { container } = await renderTab();
    await screen.findByTestId('risk-chart');
    await waitFor(() => expect(container.querySelectorAll('.recharts-line').length).toBe(2));
    expect(container.querySelector('svg.recharts-surface')).not.toBeNull();
    const legend = container.querySelector('.recharts-legend-wrapper')!;
    expect(within(legend as HTMLElement).getByText('production')).toBeInTheDocument();
    expect(within(legend as HTMLElement).getByText('staging')).toBeInTheDocument();
    // markers: the scored decisions of the last 7 days (production 5, staging 1; the 9-day-old one is out)
    await waitFor(() => expect(container.querySelectorAll('.recharts-scatter-symbol').length).toBe(6));
    expect(screen.getByTestId('risk-chart-caption')).toHaveTextContent('production: 3 score points, staging: 3 score points; 6 gate decisions marked');
    // one request for the whole week, every environment
    const asked = server.requests.filter(r => r.path.endsWith('/risk/history'));
    expect(asked).toHaveLength(1);
    expect(asked[0].query.get('days')).toBe('7');
    expect(asked[0].query.get('environment')).toBeNull();
  });

  it('fills the chart for a service with signals and no deploys (snapshots, no decisions)', async () => {
    server.decisions.set(REF, []);
    const { container } = await renderTab();
    await screen.findByTestId('risk-chart');
    await waitFor(() => expect(container.querySelectorAll('.recharts-line').length).toBe(2));
    expect(container.querySelectorAll('.recharts-line-curve').length).toBe(2);
    expect(container.querySelectorAll('.recharts-scatter-symbol').length).toBe(0);
    expect(screen.getByTestId('risk-chart-caption')).toHaveTextContent('no gate decisions in this window');
    expect(screen.queryByText(/No scores recorded yet/)).not.toBeInTheDocument();
  });

  it('shows the covering sources with their data age and what they are stale for', async () => {
    const stale = makeEntitySource({ id: 'crowdstrike', vendor: 'crowdstrike', dataAgeSeconds: 2 * 86400, staleFor: ['production'] });
    server.risks.set(REF, [makeRisk({ environment: 'production', sources: [stale] }), makeRisk({ environment: 'staging', sources: [stale] })]);
    await renderTab();
    const health = await screen.findByTestId('source-health-crowdstrike');
    expect(within(health).getByText('crowdstrike: ok')).toBeInTheDocument();
    expect(within(health).getByText('(crowdstrike) data 2 d old')).toBeInTheDocument();
    expect(within(health).getByText('stale for production')).toBeInTheDocument();
    expect(server.requests.some(r => r.path === '/v1/sources')).toBe(false);
  });

  it('counts shadow-mode decisions of the last 7 days', async () => {
    await renderTab();
    await waitFor(() => expect(screen.getByText('2 deploys would have been blocked in the last 7 days')).toBeInTheDocument());
    expect(screen.getByText(/1 deploy would have needed approval, out of 3 dry-run gate calls/)).toBeInTheDocument();
  });

  it('submits an exception request and shows the answer', async () => {
    server.handlers.push(req =>
      req.method === 'POST' && req.path === '/v1/exceptions'
        ? {
            status: 201,
            body: {
              id: 'exc-42',
              status: 'pending',
              environment: (req.body as { environment: string }).environment,
              expiresAt: (req.body as { expiresAt: string }).expiresAt,
            },
          }
        : undefined,
    );
    await renderTab();
    const form = await screen.findByRole('form', { name: 'exception request' });
    const f = within(form);
    await userEvent.selectOptions(f.getByLabelText('Environment'), 'staging');
    await userEvent.type(f.getByRole('textbox', { name: /Reason/ }), 'hotfix for INC-123, EDR alert is a known false positive');
    fireEvent.change(f.getByLabelText('Expires at'), { target: { value: '2031-05-06T07:08' } });
    await userEvent.click(f.getByRole('checkbox', { name: /crowdstrike:ldt-1/ }));
    // only active signals can be chosen
    expect(f.queryByRole('checkbox', { name: /file:det-2/ })).toBeNull();
    await userEvent.click(f.getByRole('button', { name: 'Request exception' }));

    await waitFor(() => expect(f.getByText(/Exception exc-42 requested for staging \(status: pending\)/)).toBeInTheDocument());
    const post = server.requests.find(q => q.method === 'POST')!;
    expect(post.path).toBe('/v1/exceptions');
    expect(post.body).toEqual({
      entityRef: REF,
      environment: 'staging',
      reason: 'hotfix for INC-123, EDR alert is a known false positive',
      expiresAt: new Date('2031-05-06T07:08').toISOString(),
      signalIds: ['crowdstrike:ldt-1'],
    });
  });

  it("shows the server's error message when the exception request fails", async () => {
    server.handlers.push(req =>
      req.method === 'POST' && req.path === '/v1/exceptions'
        ? FakeRuntimeRiskServer.error(400, 'InputError', 'expiresAt: must be at most 7 days from now')
        : undefined,
    );
    await renderTab();
    const form = await screen.findByRole('form', { name: 'exception request' });
    const f = within(form);
    await userEvent.type(f.getByRole('textbox', { name: /Reason/ }), 'need it');
    fireEvent.change(f.getByLabelText('Expires at'), { target: { value: '2031-05-06T07:08' } });
    await userEvent.click(f.getByRole('button', { name: 'Request exception' }));
    expect(
      await f.findByText('Exception request failed: expiresAt: must be at most 7 days from now (HTTP 400)'),
    ).toBeInTheDocument();
  });

  it('refuses an empty reason without calling the backend', async () => {
    await renderTab();
    const form = await screen.findByRole('form', { name: 'exception request' });
    await userEvent.click(within(form).getByRole('button', { name: 'Request exception' }));
    await waitFor(() => expect(within(form).getByText(/Give a reason/)).toBeInTheDocument());
    expect(server.requests.some(q => q.method === 'POST')).toBe(false);
  });

  it('explains how to annotate an uncorrelated entity', async () => {
    server.risks.set(REF, [
      makeRisk({ riskLevel: 'unknown', score: null, hosts: [], reasons: [{ code: 'uncorrelated', message: 'no hosts', signalIds: [] }] }),
    ]);
    server.signals.set(REF, []);
    server.decisions.set(REF, []);
    server.history.set(REF, []);
    await renderTab();
    await waitFor(() => expect(screen.getByText('No hosts found')).toBeInTheDocument());
    expect(screen.getByText(/No host found for this service/)).toBeInTheDocument();
    // table contents re-render as each request lands: check until stable
    await waitFor(() => expect(screen.getByText(/No scores recorded yet/)).toBeInTheDocument());
    await waitFor(() => expect(screen.getByText(/No signals on this entity's hosts/)).toBeInTheDocument());
  });
});

describe('helpers', () => {
  it('shadowCounts only counts dry runs of the last 7 days', () => {
    const now = Date.parse('2030-01-10T00:00:00Z');
    const at = (d: string) => `2030-01-${d}T00:00:00Z`;
    const c = shadowCounts(
      [
        makeDecision({ dryRun: true, wouldHaveBeen: 'block', evaluatedAt: at('09') }),
        makeDecision({ dryRun: true, wouldHaveBeen: 'block', evaluatedAt: at('02') }),
        makeDecision({ dryRun: false, decision: 'block', evaluatedAt: at('09') }),
        makeDecision({ dryRun: true, wouldHaveBeen: 'proceed', evaluatedAt: at('08') }),
      ],
      now,
    );
    expect(c).toEqual({ total: 2, block: 1, approval: 0 });
  });

  it('toChartData: lines from snapshots, markers from decisions in the window, both ordered by time', () => {
    const t = (d: string) => Date.parse(`2030-01-${d}T00:00:00Z`);
    const data = toChartData({
      since: '2030-01-01T00:00:00Z',
      now: t('08'),
      snapshots: [
        { environment: 'production', at: '2030-01-03T00:00:00Z', score: 70, riskLevel: 'high', decision: 'block' },
        { environment: 'production', at: '2030-01-01T00:00:00Z', score: 50, riskLevel: 'moderate', decision: 'approval_required' },
        { environment: 'production', at: '2030-01-02T00:00:00Z', score: null, riskLevel: 'unknown', decision: 'block' },
      ],
      decisions: [
        makeDecision({ environment: 'staging', evaluatedAt: '2030-01-02T00:00:00Z', score: 10, decision: 'proceed' }),
        makeDecision({ environment: 'production', evaluatedAt: '2029-12-30T00:00:00Z', score: 40 }),
        makeDecision({ environment: 'production', evaluatedAt: '2030-01-04T00:00:00Z', score: null }),
      ],
    });
    expect(data.environments).toEqual(['production', 'staging']);
    expect(data.lines).toEqual({ production: [{ t: t('01'), score: 50 }, { t: t('03'), score: 70 }], staging: [] });
    expect(data.markers).toEqual({ production: [], staging: [{ t: t('02'), score: 10, decision: 'proceed' }] });
    expect(data.domain).toEqual([t('01'), t('08')]);
  });
});

describe('EntityRiskContent paging', () => {
  it('follows decision pages so shadow counts cover more than one page', async () => {
    const many = Array.from({ length: 130 }, (_, i) =>
      makeDecision({ evaluatedAt: hoursAgo(1 + i / 10), dryRun: true, decision: 'proceed', wouldHaveBeen: 'block' }),
    );
    server.decisions.set(REF, many);
    await renderTab();
    await waitFor(() => expect(screen.getByText('130 deploys would have been blocked in the last 7 days')).toBeInTheDocument());
    const cursors = server.requests.filter(q => q.path === '/v1/decisions').map(q => q.query.get('cursor'));
    expect(cursors).toEqual([null, '100']);
  });
});

describe('EntityRiskContent exceptions', () => {
  it('lists the exceptions of the entity with their status and scope', async () => {
    server.exceptions = [
      makeException({ id: 'exc-1', status: 'pending', reason: 'hotfix for INC-42' }),
      makeException({ id: 'exc-2', status: 'approved', environment: 'staging', signalIds: ['file:det-1'], decidedBy: 'user:default/lead' }),
      makeException({ id: 'exc-9', entityRef: 'component:default/other', status: 'pending' }),
    ];
    await renderTab();
    const table = await screen.findByRole('region', { name: 'Exceptions' });
    await waitFor(() => expect(within(table).getByText('Exceptions (2)')).toBeInTheDocument());
    const pending = within(table).getByText('exc-1').closest('tr')!;
    expect(within(pending).getByText('pending')).toBeInTheDocument();
    expect(within(pending).getByText('hotfix for INC-42')).toBeInTheDocument();
    expect(within(pending).getByText('all signals')).toBeInTheDocument();
    expect(within(pending).getByRole('button', { name: 'approve exc-1' })).toBeInTheDocument();
    const approved = within(table).getByText('exc-2').closest('tr')!;
    expect(within(approved).getByText('signals file:det-1')).toBeInTheDocument();
    expect(within(approved).getByText('user:default/lead')).toBeInTheDocument();
    expect(within(approved).getByRole('button', { name: 'revoke exc-2' })).toBeInTheDocument();
    expect(within(table).queryByText('exc-9')).toBeNull();
  });

  it('approves a pending exception and refreshes the list', async () => {
    server.exceptions = [makeException({ id: 'exc-1', status: 'pending' })];
    await renderTab();
    const table = await screen.findByRole('region', { name: 'Exceptions' });
    await userEvent.click(await within(table).findByRole('button', { name: 'approve exc-1' }));
    await waitFor(() => expect(within(table).getByText('Exception exc-1 approved (status: approved).')).toBeInTheDocument());
    await waitFor(() => expect(within(within(table).getByText('exc-1').closest('tr')!).getByText('approved')).toBeInTheDocument());
    expect(server.requests.some(q => q.method === 'POST' && q.path === '/v1/exceptions/exc-1/approve')).toBe(true);
  });

  it("shows the backend's refusal when the requester tries to approve", async () => {
    server.exceptions = [makeException({ id: 'exc-1', status: 'pending' })];
    server.handlers.push(req =>
      req.method === 'POST' && req.path.endsWith('/approve')
        ? FakeRuntimeRiskServer.error(403, 'NotAllowedError', 'the requester of an exception cannot approve it')
        : undefined,
    );
    await renderTab();
    const table = await screen.findByRole('region', { name: 'Exceptions' });
    await userEvent.click(await within(table).findByRole('button', { name: 'approve exc-1' }));
    expect(
      await within(table).findByText('Could not approve exception exc-1: the requester of an exception cannot approve it (HTTP 403)'),
    ).toBeInTheDocument();
    expect(server.exceptions[0].status).toBe('pending');
  });

  it('shows a new request in the list after submitting the form', async () => {
    server.handlers.push(req => {
      if (req.method !== 'POST' || req.path !== '/v1/exceptions') return undefined;
      const body = req.body as { environment: string; reason: string; expiresAt: string };
      const created = makeException({ id: 'exc-new', ...body, status: 'pending' });
      server.exceptions.push(created);
      return { status: 201, body: created };
    });
    await renderTab();
    const form = await screen.findByRole('form', { name: 'exception request' });
    await userEvent.type(within(form).getByRole('textbox', { name: /Reason/ }), 'rollback needed');
    fireEvent.change(within(form).getByLabelText('Expires at'), { target: { value: '2031-05-06T07:08' } });
    await userEvent.click(within(form).getByRole('button', { name: 'Request exception' }));
    const table = screen.getByRole('region', { name: 'Exceptions' });
    await waitFor(() => expect(within(table).getByText('exc-new')).toBeInTheDocument());
    expect(within(within(table).getByText('exc-new').closest('tr')!).getByText('rollback needed')).toBeInTheDocument();
  });

  it('keeps "informational" whole in the severity column, with an icon', async () => {
    server.signals.set(REF, [makeSignal({ id: 'file:info-1', severity: 'informational', title: 'Sensor healthy' })]);
    await renderTab();
    const row = (await screen.findByText('Sensor healthy')).closest('tr')!;
    const severity = within(row).getByTestId('severity-informational');
    expect(within(severity).getByText('informational')).toBeInTheDocument();
    expect(severity).toHaveStyle({ whiteSpace: 'nowrap' });
    expect(severity.querySelector('svg')).not.toBeNull();
  });

  it('cuts a long signal title with a tooltip holding the whole title', async () => {
    const title =
      'Credential dumping via LSASS access by an unsigned process launched from a temporary directory under a service account';
    server.signals.set(REF, [makeSignal({ id: 'file:long-1', title })]);
    await renderTab();
    const cell = await screen.findByText(title);
    expect(cell.style.webkitLineClamp).toBe('2');
    // the tooltip's text, offered as the native title while the tooltip is closed (the table
    // re-renders its rows as the other requests answer, so the popup itself is tested on the
    // org page's top reason)
    expect(cell).toHaveAttribute('title', title);
  });

  it('drops tactics, first seen, the policy, and an exception id and who decided it under 1280 px', async () => {
    const restore = pretendNarrowScreen();
    try {
      server.exceptions = [makeException({ id: 'exc-1', status: 'approved', decidedBy: 'user:default/lead' })];
      await renderTab();
      await screen.findByText('Signals (2)');
      const signals = screen.getByText('Signals (2)').closest('.MuiPaper-root') as HTMLElement;
      expect(columnHeaders(signals)).toEqual(['Severity', 'Title', 'Host', 'Last seen', 'Status', 'Source']);
      const history = (await screen.findByText(/^Decision history \(\d+\)$/)).closest('.MuiPaper-root') as HTMLElement;
      await waitFor(() => expect(columnHeaders(history)).toEqual(['When', 'Environment', 'Decision', 'Level', 'Score', 'Reasons']));
      const exceptions = screen.getByRole('region', { name: 'Exceptions' });
      await within(exceptions).findByRole('button', { name: 'revoke exc-1' });
      expect(columnHeaders(exceptions)).not.toContain('Decided by');
      expect(columnHeaders(exceptions)).not.toContain('Id');
    } finally {
      restore();
    }
  });
});
