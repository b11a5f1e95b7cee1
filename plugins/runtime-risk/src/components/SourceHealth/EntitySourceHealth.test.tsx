import '../../testing/configure';
import { screen, within } from '@testing-library/react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { catalogApiRef, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeEntitySource, makeRisk, makeSource } from '../../testing/fixtures';
import { RuntimeRiskPage } from '../RuntimeRiskPage/RuntimeRiskPage';
import { EntitySourceHealthList, coveringSources, dataAgeText, sourceHealthText, staleForText } from './EntitySourceHealth';

describe('source health wording (issue 19 part 2)', () => {
  it('names the environments a source is stale for', () => {
    expect(staleForText([])).toBe('');
    expect(staleForText(['production'])).toBe('stale for production');
    expect(staleForText(['production', 'staging'])).toBe('stale for production and staging');
    expect(staleForText(['dev', 'production', 'staging'])).toBe('stale for dev, production and staging');
  });

  it('says the data age of a pull source and when a push source was last heard from', () => {
    expect(dataAgeText(makeEntitySource({ dataAgeSeconds: 2 * 86400 }))).toBe('data 2 d old');
    expect(dataAgeText(makeEntitySource({ dataAgeSeconds: 20 * 60 }))).toBe('data 20 min old');
    expect(dataAgeText(makeEntitySource({ dataAgeSeconds: null, newestDataAt: null, lastSuccessAt: null }))).toBe('no successful sync yet');
    expect(dataAgeText(makeEntitySource({ push: true, dataAgeSeconds: 3 * 3600 }))).toBe('last heard 3 h ago');
    expect(dataAgeText(makeEntitySource({ push: true, dataAgeSeconds: null }))).toBe('never heard from');
  });

  it('puts state, data age and staleness in one sentence', () => {
    expect(sourceHealthText(makeEntitySource({ id: 'nightly', vendor: 'file', dataAgeSeconds: 2 * 86400, staleFor: ['production'] }))).toBe(
      'nightly (file): ok · data 2 d old · stale for production',
    );
    expect(sourceHealthText(makeEntitySource())).toBe('file (file): ok · data 1 min old · fresh for every environment');
    expect(sourceHealthText(makeEntitySource({ status: 'down', staleFor: ['production', 'staging'], dataAgeSeconds: 5 * 3600 }))).toBe(
      'file (file): down · data 5 h old · stale for production and staging',
    );
  });

  it('lists each covering source once over every environment', () => {
    const a = makeEntitySource({ id: 'b-edr' });
    const b = makeEntitySource({ id: 'a-file' });
    const sources = coveringSources([makeRisk({ sources: [a] }), makeRisk({ environment: 'staging', sources: [a, b] }), makeRisk({ sources: undefined })]);
    expect(sources.map(s => s.id)).toEqual(['a-file', 'b-edr']);
  });

  it('shows an ok source whose data is too old with a word and an icon, not colour alone', async () => {
    await renderInTestApp(
      <EntitySourceHealthList sources={[makeEntitySource({ id: 'nightly', dataAgeSeconds: 2 * 86400, staleFor: ['production'] })]} />,
    );
    const row = screen.getByTestId('source-health-nightly');
    expect(within(row).getByText('nightly: ok')).toBeInTheDocument();
    expect(within(row).getByText('stale for production')).toBeInTheDocument();
    expect(row.querySelectorAll('svg').length).toBe(2);
  });

  it('has no serious or critical axe violations (names on groups, icons hidden)', async () => {
    const { container } = await renderInTestApp(
      <EntitySourceHealthList
        sources={[makeEntitySource({ id: 'nightly', staleFor: ['production'] }), makeEntitySource({ id: 'hook', push: true, status: 'down' })]}
      />,
    );
    const axe = (await import('axe-core')).default;
    // colour contrast needs a real browser (e2e/portal.test.ts runs it there)
    const results = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
    expect(results.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)).toEqual([]);
  });
});

describe('org page source table', () => {
  let server: FakeRuntimeRiskServer;
  beforeEach(async () => {
    server = await new FakeRuntimeRiskServer().start();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('shows "stale for production" under the state of a source whose data is older than production allows', async () => {
    server.sources = [
      makeSource({ id: 'nightly', type: 'file', status: 'ok', lagSeconds: 2 * 86400, staleFor: ['production'] }),
      makeSource({ id: 'crowdstrike', type: 'crowdstrike', status: 'ok', lagSeconds: 30, staleFor: [] }),
    ];
    await renderInTestApp(
      <TestApiProvider apis={[[runtimeRiskApiRef, server.client()], [catalogApiRef, catalogApiMock({ entities: [] })]]}>
        <RuntimeRiskPage />
      </TestApiProvider>,
    );
    const nightly = (await screen.findByText('nightly: ok')).closest('tr')!;
    expect(within(nightly).getByText('stale for production')).toBeInTheDocument();
    expect(within(nightly).getByText('2 d')).toBeInTheDocument();
    const crowdstrike = screen.getByText('crowdstrike: ok').closest('tr')!;
    expect(within(crowdstrike).queryByText(/stale for/)).not.toBeInTheDocument();
  });

  it('marks a ranked row whose gate answer is signals_stale with the stale source, from the row itself', async () => {
    const ref = 'component:default/payments-api';
    server.risks.set(ref, [
      makeRisk({
        entityRef: ref,
        environment: 'production',
        riskLevel: 'low',
        score: 12,
        decision: 'approval_required',
        reasons: [{ code: 'signals_stale', message: 'nightly data is 2 d old, older than 15m', signalIds: [], source: 'nightly' }],
      }),
      makeRisk({ entityRef: ref, environment: 'staging', riskLevel: 'low', score: 12, decision: 'proceed' }),
    ]);
    const entity = {
      apiVersion: 'backstage.io/v1alpha1',
      kind: 'Component',
      metadata: { name: 'payments-api', namespace: 'default' },
      spec: { type: 'service', owner: 'team-payments', lifecycle: 'production' },
    };
    await renderInTestApp(
      <TestApiProvider apis={[[runtimeRiskApiRef, server.client()], [catalogApiRef, catalogApiMock({ entities: [entity] })]]}>
        <RuntimeRiskPage />
      </TestApiProvider>,
      { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
    );
    const stale = await screen.findAllByTestId('row-stale');
    expect(stale).toHaveLength(1);
    expect(stale[0]).toHaveTextContent('stale: nightly');
    const row = stale[0].closest('tr')!;
    expect(within(row).getByText('production')).toBeInTheDocument();
  });
});
