import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { SIGNAL_LIMITS, TRUNCATION_MARKER, validateSignals } from './validate';

/** Issue 15 part 5: indicators are validated, cleaned and stored with the signal. */
const SHA = '3c'.repeat(32);
const input = (sourceId: string, indicators?: unknown) => ({
  sourceId,
  severity: 'high',
  title: `t ${sourceId}`,
  asset: { hostname: 'web-01' },
  firstSeenAt: '2026-11-23T10:00:00Z',
  lastSeenAt: '2026-11-23T11:00:00Z',
  ...(indicators === undefined ? {} : { indicators }),
});
const validate = (inputs: unknown[]) =>
  validateSignals({ sourceId: 'edr', inputs, fetchedAt: '2026-11-23T12:00:00.000Z', logger: mockServices.logger.mock() });

describe('validateSignals: indicators', () => {
  it('keeps valid indicators, lower-cases the SHA-256, rejects a malformed one naming the field', () => {
    const r = validate([
      input('ok', { sha256: SHA.toUpperCase(), filePath: '/usr/bin/x', processName: 'x', commandLine: 'x -y' }),
      input('none'),
      input('bad', { sha256: 'md5:abc' }),
    ]);
    expect(r.rejected).toBe(1);
    expect(r.rejectedReason).toContain('indicators.sha256');
    expect(r.signals.map(s => [s.id, s.indicators])).toEqual([
      ['edr:ok', { sha256: SHA, filePath: '/usr/bin/x', processName: 'x', commandLine: 'x -y' }],
      ['edr:none', undefined],
    ]);
  });

  it('cuts an over-long command line and removes NUL characters', () => {
    const long = 'a'.repeat(SIGNAL_LIMITS.commandLine + 10);
    const r = validate([input('long', { commandLine: long, processName: 'p\u0000.exe' })]);
    expect(r.rejected).toBe(0);
    expect(r.cleaned).toBe(1);
    const ind = r.signals[0].indicators!;
    expect(ind.commandLine).toHaveLength(SIGNAL_LIMITS.commandLine);
    expect(ind.commandLine!.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(ind.processName).toBe('p.exe');
  });
});

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('stored indicators on %p', databaseId => {
  it('round-trips indicators and leaves signals without them without', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    const { signals } = validate([input('a', { sha256: SHA, commandLine: 'x -y' }), input('b')]);
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals, cursor: '1', at: '2026-11-23T12:00:00.000Z' });
    const listed = await store.listSignals({ limit: 10, offset: 0 });
    const byId = new Map(listed.items.map(s => [s.id, s]));
    expect(byId.get('edr:a')?.indicators).toEqual({ sha256: SHA, commandLine: 'x -y' });
    expect(byId.get('edr:b')).not.toHaveProperty('indicators');
    const found = await store.findSignalsByIdentifiers(['web-01']);
    expect(found.find(f => f.signal.id === 'edr:a')?.signal.indicators?.sha256).toBe(SHA);
    const row = await knex('runtime_risk_signals').where({ id: 'edr:b' }).first();
    expect(row.indicators).toBeNull();
  });
});
