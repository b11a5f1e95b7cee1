import '../../testing/configure';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { EntityRisk, RiskLevel } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeEntitySource, makeRisk, makeSource } from '../../testing/fixtures';
import { PAYMENTS_API_REF as REF, renderInEntity } from '../../testing/render';
import { EntityRiskCard } from './EntityRiskCard';


let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.sources = [makeSource()];
});
afterEach(async () => {
  await server.stop();
});

const renderCard = (pollIntervalMs?: number) => renderInEntity(<EntityRiskCard pollIntervalMs={pollIntervalMs} />, { api: server.client() });

const levelCases: Array<{
  level: RiskLevel;
  label: string;
  score: number;
  decision: EntityRisk['decision'];
  reason: string;
  statusLabel: string;
}> = [
  { level: 'low', label: 'Low', score: 4.2, decision: 'proceed', reason: 'no active signals on 2 hosts', statusLabel: 'Status ok' },
  { level: 'moderate', label: 'Moderate', score: 48.7, decision: 'approval_required', reason: 'medium: Suspicious PowerShell on pay-02', statusLabel: 'Status warning' },
  { level: 'high', label: 'High', score: 99.1, decision: 'block', reason: 'critical: Credential dumping on pay-01', statusLabel: 'Status error' },
];

describe('EntityRiskCard', () => {
  it.each(levelCases)(
    'shows level $level with its icon, score, gate answer and reason',
    async ({ level, label, score, decision, reason, statusLabel }) => {
      server.risks.set(REF, [
        makeRisk({
          riskLevel: level,
          score,
          decision,
          reasons: [{ code: level === 'low' ? 'no_active_signals' : 'signal_active', message: reason, signalIds: [] }],
          signals: { count: level === 'low' ? 0 : 2, freshAt: new Date().toISOString(), stale: false },
        }),
      ]);
      await renderCard();
      const section = await screen.findByRole('region', { name: 'production risk' });
      const s = within(section);
      expect(s.getByText(label)).toBeInTheDocument();
      expect(s.getByLabelText(statusLabel)).toBeInTheDocument();
      expect(s.getByText(`score ${score.toFixed(1)}`)).toBeInTheDocument();
      expect(s.getByText(decision)).toBeInTheDocument();
      expect(s.getByText(reason)).toBeInTheDocument();
      expect(screen.getByText(/updated \d+ s ago/)).toBeInTheDocument();
      // the covering sources' health comes with the risk answer
      expect(screen.getByText('file: ok')).toBeInTheDocument();
      expect(screen.getByText('(file) data 1 min old')).toBeInTheDocument();
      expect(screen.queryByText(/stale for/)).not.toBeInTheDocument();
    },
  );

  it('shows every environment the backend returns', async () => {
    server.risks.set(REF, [
      makeRisk({ environment: 'production', riskLevel: 'high', score: 92, decision: 'block' }),
      makeRisk({ environment: 'staging', riskLevel: 'high', score: 92, decision: 'approval_required' }),
    ]);
    await renderCard();
    const prod = await screen.findByRole('region', { name: 'production risk' });
    const staging = screen.getByRole('region', { name: 'staging risk' });
    expect(within(prod).getByText('block')).toBeInTheDocument();
    expect(within(staging).getByText('approval_required')).toBeInTheDocument();
  });

  it('shows unknown for an uncorrelated entity and explains the hosts annotation', async () => {
    server.risks.set(REF, [
      makeRisk({
        riskLevel: 'unknown',
        score: null,
        decision: 'approval_required',
        hosts: [],
        reasons: [{ code: 'uncorrelated', message: 'no host found for this entity', signalIds: [] }],
      }),
    ]);
    await renderCard();
    const section = await screen.findByRole('region', { name: 'production risk' });
    expect(within(section).getByText('Unknown')).toBeInTheDocument();
    expect(within(section).getByLabelText('Status pending')).toBeInTheDocument();
    expect(within(section).getByText('score -')).toBeInTheDocument();
    expect(screen.getAllByText(/runtime-risk\.io\/hosts/).length).toBeGreaterThan(0);
    expect(screen.getByText(/No host found for this service/)).toBeInTheDocument();
  });

  it('says an informational signal adds nothing instead of counting it as active risk', async () => {
    server.risks.set(REF, [
      makeRisk({
        environment: 'staging',
        signals: { count: 1, freshAt: new Date().toISOString(), stale: false },
        reasons: [{ code: 'no_active_signals', message: 'No active signals on the 2 matched host(s)', signalIds: [] }],
      }),
    ]);
    await renderCard();
    const section = await screen.findByRole('region', { name: 'staging risk' });
    expect(within(section).getByText(/1 informational signal, no risk contribution/)).toBeInTheDocument();
    expect(within(section).queryByText(/1 active signal/)).not.toBeInTheDocument();
  });

  it('says an uncorrelated entity briefly, with the fix and the rules tried behind an expander', async () => {
    server.risks.set(REF, [
      makeRisk({
        riskLevel: 'unknown',
        score: null,
        hosts: [],
        reasons: [{ code: 'uncorrelated', message: 'tried annotations, dependsOn Resources, Kubernetes and the inventory', signalIds: [] }],
      }),
    ]);
    await renderCard();
    const help = await screen.findByTestId('uncorrelated-help');
    expect(within(help).getByText('No host found for this service.')).toBeInTheDocument();
    expect(within(help).getByRole('link', { name: 'how hosts are found' })).toHaveAttribute(
      'href',
      expect.stringContaining('docs/correlation.md'),
    );
    const details = help.querySelector('details')!;
    expect(details.open).toBe(false);
    expect(within(details).getByText(/tried annotations, dependsOn Resources/)).toBeInTheDocument();
  });

  it('flags stale signals and a down source', async () => {
    const threeHoursAgo = new Date(Date.now() - 3 * 3600_000).toISOString();
    const crowdstrike = makeEntitySource({
      id: 'crowdstrike',
      vendor: 'crowdstrike',
      status: 'down',
      lastSuccessAt: threeHoursAgo,
      newestDataAt: threeHoursAgo,
      dataAgeSeconds: 3 * 3600,
      staleFor: ['production', 'staging'],
    });
    server.risks.set(REF, [
      makeRisk({
        sources: [crowdstrike],
        riskLevel: 'low',
        decision: 'approval_required',
        signals: { count: 0, freshAt: new Date(Date.now() - 3 * 3600_000).toISOString(), stale: true },
        reasons: [
          { code: 'signals_stale', message: 'crowdstrike last synced 3 h ago (max 15 min)', signalIds: [], source: 'crowdstrike' },
          { code: 'no_active_signals', message: 'no active signals', signalIds: [] },
        ],
      }),
    ]);
    await renderCard();
    const section = await screen.findByRole('region', { name: 'production risk' });
    expect(within(section).getByText('signals stale')).toBeInTheDocument();
    expect(within(section).getByText(/data from 3 h ago/)).toBeInTheDocument();
    expect(within(section).getByText('crowdstrike last synced 3 h ago (max 15 min)')).toBeInTheDocument();
    expect(screen.getByText('crowdstrike: down')).toBeInTheDocument();
    expect(screen.getByText('(crowdstrike) data 3 h old')).toBeInTheDocument();
    expect(screen.getByText('stale for production and staging')).toBeInTheDocument();
    // never the admin-only global source list
    expect(server.requests.some(r => r.path === '/v1/sources')).toBe(false);
  });

  it('says "stale for production" next to an ok source whose data is older than production allows', async () => {
    // two days old: the source syncs fine (ok) but its data is older than production's maxSignalAge
    const twoDaysAgo = new Date(Date.now() - 2 * 86400_000).toISOString();
    const feed = makeEntitySource({ id: 'nightly', vendor: 'file', newestDataAt: twoDaysAgo, dataAgeSeconds: 2 * 86400, staleFor: ['production'] });
    server.risks.set(REF, [
      makeRisk({ environment: 'production', sources: [feed], decision: 'approval_required' }),
      makeRisk({ environment: 'staging', sources: [feed] }),
    ]);
    await renderCard();
    const health = await screen.findByTestId('source-health-nightly');
    expect(within(health).getByText('nightly: ok')).toBeInTheDocument();
    expect(within(health).getByText('(file) data 2 d old')).toBeInTheDocument();
    expect(within(health).getByText('stale for production')).toBeInTheDocument();
    expect(health).toHaveAttribute('aria-label', 'nightly (file): ok · data 2 d old · stale for production');
    // listed once, not once per environment
    expect(screen.getAllByTestId('source-health-nightly')).toHaveLength(1);
  });

  it('says when no source covers the entity', async () => {
    server.risks.set(REF, [makeRisk({ sources: [] })]);
    await renderCard();
    expect(await screen.findByText(/No signal source has reported this entity's hosts/)).toBeInTheDocument();
  });

  it('shows an active exception with its expiry', async () => {
    server.risks.set(REF, [
      makeRisk({
        riskLevel: 'high',
        score: 90,
        decision: 'proceed',
        exception: { id: 'exc-7', expiresAt: '2030-01-02T03:04:05.000Z' },
        reasons: [{ code: 'exception_applied', message: 'exception exc-7 applies', signalIds: [] }],
      }),
    ]);
    await renderCard();
    expect(
      await screen.findByText('Exception exc-7 active until 2030-01-02 03:04:05 UTC'),
    ).toBeInTheDocument();
  });

  it('shows the server error and what to check when the backend fails', async () => {
    server.handlers.push(req =>
      req.path.endsWith('/risk') ? FakeRuntimeRiskServer.error(500, 'Error', 'database is locked') : undefined,
    );
    await renderCard();
    expect(
      await screen.findByText(/Could not load runtime risk for component:default\/payments-api: database is locked/),
    ).toBeInTheDocument();
    expect(screen.getByText(/reachable at \/api\/runtime-risk/)).toBeInTheDocument();
  });

  it('says when the backend does not know the entity', async () => {
    await renderCard();
    await waitFor(() => expect(screen.getByText(/does not know component:default\/payments-api/)).toBeInTheDocument());
  });

  it('explains the empty state when no environment is configured', async () => {
    server.risks.set(REF, []);
    await renderCard();
    await waitFor(() => expect(screen.getByText(/No environment is configured/)).toBeInTheDocument());
    expect(screen.getByText('runtimeRisk.policy.environments')).toBeInTheDocument();
  });

  it('refreshes on its own and on demand', async () => {
    server.risks.set(REF, [makeRisk({ riskLevel: 'low', decision: 'proceed', score: 1 })]);
    await renderCard(300);
    const section = await screen.findByRole('region', { name: 'production risk' });
    expect(within(section).getByText('proceed')).toBeInTheDocument();
    // a new critical signal arrives: the card picks it up without a reload
    server.risks.set(REF, [makeRisk({ riskLevel: 'high', decision: 'block', score: 97 })]);
    await waitFor(() => expect(within(screen.getByRole('region', { name: 'production risk' })).getByText('block')).toBeInTheDocument(), { timeout: 5000 });
    const riskCalls = () => server.requests.filter(r => r.path.endsWith('/risk')).length;
    const before = riskCalls();
    await userEvent.click(screen.getByRole('button', { name: 'refresh risk' }));
    await waitFor(() => expect(riskCalls()).toBeGreaterThan(before));
  });
});
