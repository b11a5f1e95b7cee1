import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { MemoryPullSource, signalInput } from '../testUtils/fixtures';
import { IngestionRunner } from './IngestionRunner';
import { sourceHealth } from './sourceStatus';
import { SIGNAL_LIMITS, TRUNCATION_MARKER, validateSignals } from './validate';

/**
 * Issue 16 part 7: one poisoned vendor record never stalls a source. Records
 * PostgreSQL would refuse (NUL characters, over-long ids, hostnames, titles)
 * are cleaned or rejected alone; the rest of the batch commits and the cursor
 * moves; source health counts the rejected ones with the last reason.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

describe.each(databases.eachSupportedId())('a batch with poisoned records on %p', databaseId => {
  it('commits the good and cleaned records, rejects the unstorable ones alone, and moves the cursor', async () => {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    const source = new MemoryPullSource('edr');
    source.pages = [
      {
        hasMore: true,
        signals: [
          signalInput('good-1', { hostname: 'web-01' }),
          // NUL characters everywhere PostgreSQL text or JSON cannot hold them: cleaned
          {
            ...signalInput('nul\u0000-2', { hostname: 'web\u0000-02' }),
            title: 'Credential\u0000 dumping',
            description: 'by\u0000 lsass',
            tactics: ['cred\u0000ential-access'],
            raw: { 'ke\u0000y': ['va\u0000lue', { deep: 'x\u0000' }], ok: 1 },
          },
          // free text over its limit: cut with a marker; a javascript: link: dropped
          { ...signalInput('long-title-3'), title: 'T'.repeat(50_000), url: 'javascript:alert(1)' },
          // identifiers over their column limits: rejected alone
          signalInput('x'.repeat(300)),
          signalInput('long-host-5', { hostname: `${'h'.repeat(300)}.example.com` }),
          { ...signalInput('long-device-6'), asset: { deviceId: 'd'.repeat(1000), ips: [], macs: [] } },
          // a lone UTF-16 surrogate (JSON.parse makes them from "\ud800"): PostgreSQL refuses it in text and JSON
          { ...signalInput('surrogate-7b', { hostname: 'web-7b' }), title: 'half \ud800 a pair', raw: { k: 'x\udc00' } },
          signalInput('good-7', { hostname: 'web-07' }),
        ],
      },
      { signals: [signalInput('good-8', { hostname: 'web-08' })] },
    ];
    const runner = new IngestionRunner({ store, logger: mockServices.logger.mock() });
    const result = await runner.run(source);
    expect(result).toMatchObject({ pages: 2, stored: 6, rejected: 3 });
    expect(result.error).toBeUndefined();

    const rows = await knex('runtime_risk_signals').where({ source: 'edr' }).orderBy('source_id').select('source_id', 'title', 'description', 'tactics', 'url', 'raw', 'asset');
    expect(rows.map(r => r.source_id)).toEqual(['good-1', 'good-7', 'good-8', 'long-title-3', 'nul-2', 'surrogate-7b']);
    const surrogate = rows.find(r => r.source_id === 'surrogate-7b');
    expect(surrogate.title).toBe('half \ufffd a pair');
    expect(JSON.parse(surrogate.raw)).toEqual({ k: 'x\ufffd' });
    const nul = rows.find(r => r.source_id === 'nul-2');
    expect(nul.title).toBe('Credential dumping');
    expect(nul.description).toBe('by lsass');
    expect(JSON.parse(nul.tactics)).toEqual(['credential-access']);
    expect(JSON.parse(nul.raw)).toEqual({ key: ['value', { deep: 'x' }], ok: 1 });
    expect(JSON.parse(nul.asset).hostname).toBe('web-02');
    const long = rows.find(r => r.source_id === 'long-title-3');
    expect(long.title).toHaveLength(SIGNAL_LIMITS.title);
    expect(long.title.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(long.url).toBeNull();

    // the cursor moved past both pages; the source is healthy, with the rejections counted
    const state = await store.getSourceState('edr');
    expect(state).toMatchObject({ cursor: '2', consecutiveFailures: 0, lastError: null, rejectedCount: 3 });
    expect(state?.lastRejectedReason).toBe(`asset.deviceId: longer than ${SIGNAL_LIMITS.assetValue} characters`);
    const health = sourceHealth({ id: 'edr', type: 'memory', state, nowMs: Date.now() });
    expect(health).toMatchObject({ status: 'ok', rejectedCount: 3, lastRejectedReason: state?.lastRejectedReason });

    // the identifiers of the cleaned record index the cleaned hostname
    const found = await store.findSignalsByIdentifiers(['web-02']);
    expect(found.map(f => f.signal.id)).toEqual(['edr:nul-2']);

    // the next run goes on from the moved cursor
    source.pages.push({ signals: [signalInput('good-9')] });
    expect(await runner.run(source)).toMatchObject({ pages: 1, stored: 1, rejected: 0 });
    expect(source.cursorsSeen.slice(-1)).toEqual(['2']);
  });
});

describe('validateSignals', () => {
  const logger = mockServices.logger.mock();
  const validate = (inputs: unknown[]) => validateSignals({ sourceId: 'edr', inputs, fetchedAt: new Date().toISOString(), logger });

  it('keeps only https: and http: links', () => {
    const { signals, cleaned } = validate([
      { ...signalInput('a'), url: 'https://falcon.example.com/d/1' },
      { ...signalInput('b'), url: 'http://edr.internal/d/2' },
      { ...signalInput('c'), url: 'javascript:alert(document.cookie)' },
      { ...signalInput('d'), url: 'data:text/html,<script>x</script>' },
      { ...signalInput('e'), url: 'JaVaScRiPt:alert(1)' },
      { ...signalInput('f'), url: 'file:///etc/passwd' },
      { ...signalInput('g'), url: 'not a url' },
      { ...signalInput('h'), url: `https://e.example.com/${'p'.repeat(SIGNAL_LIMITS.url)}` },
    ]);
    expect(signals.map(s => [s.sourceId, s.url])).toEqual([
      ['a', 'https://falcon.example.com/d/1'],
      ['b', 'http://edr.internal/d/2'],
      ['c', undefined],
      ['d', undefined],
      ['e', undefined],
      ['f', undefined],
      ['g', undefined],
      ['h', undefined],
    ]);
    expect(signals.filter(s => 'url' in s && s.url === undefined)).toEqual([]);
    expect(cleaned).toBe(6);
  });

  it('returns the same objects for clean records and names the field of a rejected one', () => {
    const raw = { nested: { list: [1, 'two'] } };
    const { signals, rejected, rejectedReason, cleaned } = validate([{ ...signalInput('a'), raw }, signalInput('\u0000')]);
    expect(signals[0].raw).toBe(raw);
    expect(cleaned).toBe(0);
    expect(rejected).toBe(1);
    expect(rejectedReason).toBe('sourceId: empty without its NUL characters');
    // a raw record with a __proto__ key keeps it as data
    const evil = JSON.parse('{"__proto__": {"polluted": "y\\u0000"}, "a": "b\\u0000"}');
    const [cleanedEvil] = validate([{ ...signalInput('p'), raw: evil }]).signals;
    expect(Object.keys(cleanedEvil.raw as object)).toEqual(['__proto__', 'a']);
    expect(({} as { polluted?: string }).polluted).toBeUndefined();
  });
});

const pgOnly = TestDatabases.create({ ids: ['POSTGRES_15'] });

describe.each(pgOnly.eachSupportedId())('a value PostgreSQL refuses that validation let through, on %p', databaseId => {
  it('rejects that record alone: the rest of the batch and the cursor commit', async () => {
    const knex = await pgOnly.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    const [good, bad] = validateSignals({
      sourceId: 'edr',
      inputs: [signalInput('good-1', { hostname: 'web-01' }), signalInput('bad-2', { hostname: 'web-02' })],
      fetchedAt: new Date().toISOString(),
      logger: mockServices.logger.mock(),
    }).signals;
    // e.g. a future field or an adapter bug: `kind` is a varchar(32)
    const refused = { ...bad, kind: 'k'.repeat(40) } as unknown as typeof bad;
    await store.commitBatch({ sourceId: 'edr', sourceType: 'memory', signals: [good, refused], cursor: 'c-1', rejected: 0, at: new Date().toISOString() });
    expect((await knex('runtime_risk_signals').select('id')).map(r => r.id)).toEqual(['edr:good-1']);
    expect(await store.findSignalsByIdentifiers(['web-02'])).toEqual([]);
    expect(await store.getSourceState('edr')).toMatchObject({
      cursor: 'c-1',
      rejectedCount: 1,
      lastRejectedReason: 'bad-2: refused by the database (SQLSTATE 22001)',
      consecutiveFailures: 0,
    });
  });
});
