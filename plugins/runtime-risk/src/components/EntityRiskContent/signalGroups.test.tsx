import '../../testing/configure';
import { screen, waitFor, within } from '@testing-library/react';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeRisk, makeSignal, makeSource } from '../../testing/fixtures';
import { PAYMENTS_API_REF as REF, renderInEntity } from '../../testing/render';
import { EntityRiskContent } from './EntityRiskContent';
import { signalRows } from './signalGroups';

/** Issue 15 part 5: one incident reported by two vendors is one row of the risk tab, naming both. */
const SHA = 'ab'.repeat(32);
const falcon = makeSignal({ id: 'crowdstrike:ldt-1', source: 'crowdstrike', title: 'Mimikatz credential dumping', indicators: { sha256: SHA } });
const defender = makeSignal({ id: 'defender:da-1', source: 'defender', severity: 'high', title: "'Mimikatz' hacktool was detected", indicators: { sha256: SHA } });
const other = makeSignal({ id: 'file:det-9', severity: 'low', title: 'Port scan' });
const incidentReason = {
  code: 'signal_active' as const,
  message: 'One incident reported 2 times on host pay-01 by crowdstrike and defender (same file SHA-256, within an hour): ...',
  signalIds: ['crowdstrike:ldt-1', 'defender:da-1'],
  source: 'crowdstrike',
};

describe('signal rows: one incident, one row', () => {
  it('merges the signals a signal_active reason names together, the counted one standing for them', () => {
    const rows = signalRows([defender, other, falcon], [makeRisk({ reasons: [incidentReason] })]);
    expect(rows.map(r => [r.id, r.incident?.sources])).toEqual([
      ['crowdstrike:ldt-1', ['crowdstrike', 'defender']],
      ['file:det-9', undefined],
    ]);
    // without such a reason nothing is merged
    expect(signalRows([defender, other, falcon], [makeRisk()]).map(r => r.id)).toEqual(['defender:da-1', 'file:det-9', 'crowdstrike:ldt-1']);
  });

  it('shows the incident as one row naming both vendors on the risk tab', async () => {
    const server = await new FakeRuntimeRiskServer().start();
    try {
      server.sources = [makeSource()];
      server.risks.set(REF, [makeRisk({ riskLevel: 'high', score: 100, decision: 'block', reasons: [incidentReason] })]);
      server.signals.set(REF, [falcon, defender, other]);
      server.decisions.set(REF, []);
      await renderInEntity(<EntityRiskContent />, { api: server.client() });
      await waitFor(() => expect(screen.getByTestId('signal-incident')).toBeInTheDocument(), { timeout: 10_000 });
      const row = screen.getByTestId('signal-incident').closest('tr')!;
      const r = within(row);
      expect(r.getByText('Mimikatz credential dumping')).toBeInTheDocument();
      expect(r.getByText('crowdstrike, defender')).toBeInTheDocument();
      expect(r.getByTestId('signal-incident')).toHaveTextContent(
        'One incident reported by crowdstrike and defender, counted once: crowdstrike:ldt-1, defender:da-1',
      );
      // the other report is not a row of its own; the unrelated signal is
      expect(screen.queryByText("'Mimikatz' hacktool was detected")).toBeNull();
      expect(screen.getByText('Port scan')).toBeInTheDocument();
    } finally {
      await server.stop();
    }
  });
});
