import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Knex } from 'knex';
import { copyChunks, copyTextField } from './copyRows';
import { DatabaseRuntimeRiskStore } from './DatabaseRuntimeRiskStore';
import { DatabaseSignalStore } from './DatabaseSignalStore';
import { DatabaseSourceStore } from './DatabaseSourceStore';

/**
 * Ingestion through PostgreSQL COPY (issue 18 part 3): batches are streamed into
 * a staging table and upserted with one INSERT ... SELECT ... ON CONFLICT on the
 * transaction's own connection, so the cursor still commits with its batch.
 */
const databases = TestDatabases.create({ ids: ['POSTGRES_15'] });

/** Strings COPY's text format must carry through unchanged. */
const NASTY = [
  'back\\slash',
  '\\N',
  '\\.',
  'tab\there',
  'new\nline',
  'carriage\r\nreturn',
  'trailing backslash \\',
  '\\\\t not a tab',
  '"quotes" \'single\' `tick`',
  'ünïcödé 🚨 中文',
  '',
  ' ',
  '\\x00 looks like NUL',
  'a\u2028b\u2029c',
  'comma, semicolon; pipe |',
];

function signal(n: number, overrides: Partial<Signal> = {}): Signal {
  const at = '2026-12-03T10:00:00.000Z';
  const nasty = NASTY[n % NASTY.length];
  return {
    id: `edr:${n}`,
    source: 'edr',
    sourceId: String(n),
    kind: 'detection',
    severity: n % 2 ? 'high' : 'low',
    confidence: 0.5 + (n % 5) / 10,
    status: 'active',
    title: `title ${nasty}`,
    description: n % 3 === 0 ? undefined : nasty,
    tactics: [nasty],
    techniques: ['T1059'],
    asset: { hostname: `host-${n % 7}`, fqdn: `host-${n % 7}.example.com`, ips: [`10.0.0.${n % 250}`], macs: [] },
    firstSeenAt: at,
    lastSeenAt: at,
    fetchedAt: at,
    url: n % 4 === 0 ? undefined : `https://falcon.example.com/alerts/${n}?q=${encodeURIComponent(nasty)}`,
    raw: { nasty, nested: { list: [nasty, 1, null, true] } },
    ...overrides,
  };
}

async function storeOn(knex: Knex, copyFrom: number) {
  await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
  return { signals: new DatabaseSignalStore(knex, { copyFrom }), sources: new DatabaseSourceStore(knex) };
}

async function tableRows(knex: Knex) {
  return {
    signals: await knex('runtime_risk_signals').orderBy('id').select(),
    identifiers: await knex('runtime_risk_signal_identifiers').orderBy(['signal_id', 'kind', 'value']).select(),
    source: await knex('runtime_risk_source_state').where({ id: 'edr' }).first('cursor', 'last_success_at', 'rejected_count'),
  };
}

describe('COPY text fields', () => {
  it('escapes backslash, tab, newline and carriage return; NULL is \\N', () => {
    expect(copyTextField('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyTextField('\\N')).toBe('\\\\N');
    expect(copyTextField(null)).toBe('\\N');
    expect(copyTextField(undefined)).toBe('\\N');
    expect(copyTextField(0.75)).toBe('0.75');
    expect(copyTextField(['x\ty'])).toBe('["x\\\\ty"]');
  });

  it('streams the bytes of the whole text encoded at once, whatever the chunk size (rows and characters across chunks)', () => {
    const columns = ['a', 'b', 'c'];
    const rows = [
      ...NASTY.map((nasty, n) => ({ a: nasty, b: n % 3 ? n / 4 : null, c: { nasty, list: [nasty, true, null] } })),
      { a: 'lone \ud800 high', b: 'lone \udc00 low', c: ['x\udbffy'] },
      { a: '🚨'.repeat(40), b: '中文'.repeat(30), c: undefined },
    ];
    const text = rows.map(r => `${columns.map(c => copyTextField((r as Record<string, unknown>)[c])).join('\t')}\n`).join('');
    const expected = Buffer.from(text, 'utf8');
    expect(expected.toString('utf8')).toContain('\ufffd');
    for (const size of [1, 2, 3, 7, 64, 1000, 1 << 20]) {
      const chunks = [...copyChunks(rows, columns, size)];
      expect(Buffer.concat(chunks).equals(expected)).toBe(true);
      if (size <= 64) expect(chunks.length).toBeGreaterThan(10);
    }
    expect([...copyChunks([], columns)]).toEqual([]);
  });
});

describe.each(databases.eachSupportedId())('ingestion through COPY on %p', databaseId => {
  it('writes the same rows as the insert path, nasty strings included, and keeps the newer-or-equal rule', async () => {
    const viaInsert = await databases.init(databaseId);
    const viaCopy = await databases.init(databaseId);
    const a = await storeOn(viaInsert, Number.POSITIVE_INFINITY);
    const b = await storeOn(viaCopy, 0);
    const first = Array.from({ length: 300 }, (_, n) => signal(n));
    // a second batch: some newer (resolved, new asset), some older (must not win), some new
    const second = [
      ...Array.from({ length: 50 }, (_, n) =>
        signal(n, { status: 'resolved', updatedAt: '2026-12-03T11:00:00.000Z', asset: { hostname: `moved-${n}`, ips: [], macs: [] } }),
      ),
      ...Array.from({ length: 50 }, (_, n) => signal(100 + n, { status: 'resolved', updatedAt: '2026-12-01T00:00:00.000Z' })),
      ...Array.from({ length: 20 }, (_, n) => signal(1000 + n)),
    ];
    for (const { signals } of [a, b]) {
      await signals.commitBatch({ sourceId: 'edr', sourceType: 'falcon', signals: first, cursor: 'c1', at: '2026-12-03T10:01:00.000Z' });
      await signals.commitBatch({ sourceId: 'edr', sourceType: 'falcon', signals: second, cursor: 'c2', at: '2026-12-03T11:01:00.000Z' });
    }
    const inserted = await tableRows(viaInsert);
    const copied = await tableRows(viaCopy);
    expect(copied.signals).toHaveLength(320);
    expect(copied).toEqual(inserted);
    expect(copied.source).toMatchObject({ cursor: 'c2' });
    expect(copied.signals.filter(r => r.status === 'resolved')).toHaveLength(50);

    // every nasty string reads back as written
    const page = await b.signals.listSignals({ limit: 1000, offset: 0 });
    const byId = new Map(page.items.map(s => [s.id, s]));
    for (const s of first.slice(50)) {
      const got = byId.get(s.id)!;
      expect(got.title).toBe(s.title);
      expect(got.description).toBe(s.description);
      expect(got.tactics).toEqual(s.tactics);
      expect(got.url).toBe(s.url);
      expect(got.raw).toEqual(s.raw);
    }
  });

  it('commits the cursor with its batch: a failure in the middle of the COPY batch leaves neither', async () => {
    const knex = await databases.init(databaseId);
    const { signals, sources } = await storeOn(knex, 0);
    await signals.commitBatch({ sourceId: 'edr', sourceType: 'falcon', signals: [signal(1), signal(2)], cursor: 'c1', at: '2026-12-03T10:01:00.000Z' });
    // the database refuses one row in the middle of the next batch (not a data error: the batch fails as a whole)
    await knex.raw(`
      create function refuse_boom() returns trigger language plpgsql as $$
      begin
        if new.source_id = 'boom' then raise exception 'refused by test trigger'; end if;
        return new;
      end $$;
      create trigger refuse_boom before insert or update on runtime_risk_signals for each row execute function refuse_boom();
    `);
    const batch = [...Array.from({ length: 150 }, (_, n) => signal(10 + n)), signal(0, { id: 'edr:boom', sourceId: 'boom' }), signal(500)];
    await expect(
      signals.commitBatch({ sourceId: 'edr', sourceType: 'falcon', signals: batch, cursor: 'c2', at: '2026-12-03T10:02:00.000Z' }),
    ).rejects.toThrow(/refused by test trigger/);
    expect(Number((await knex('runtime_risk_signals').count({ n: '*' }).first())!.n)).toBe(2);
    expect(await sources.getSourceState('edr')).toMatchObject({ cursor: 'c1' });
    // no staging rows outlive the rollback: the next batch commits cleanly with its cursor
    await knex.raw('drop trigger refuse_boom on runtime_risk_signals');
    await signals.commitBatch({ sourceId: 'edr', sourceType: 'falcon', signals: batch.slice(0, 120), cursor: 'c3', at: '2026-12-03T10:03:00.000Z' });
    expect(Number((await knex('runtime_risk_signals').count({ n: '*' }).first())!.n)).toBe(122);
    expect(await sources.getSourceState('edr')).toMatchObject({ cursor: 'c3' });
  });

  it('a value the database refuses (too long for its column) is rejected alone; the batch and cursor commit', async () => {
    const knex = await databases.init(databaseId);
    const { signals, sources } = await storeOn(knex, 0);
    const batch = [...Array.from({ length: 120 }, (_, n) => signal(n)), signal(0, { id: 'edr:long', sourceId: 'x'.repeat(300) })];
    await signals.commitBatch({ sourceId: 'edr', sourceType: 'falcon', signals: batch, cursor: 'c1', at: '2026-12-03T10:01:00.000Z' });
    expect(Number((await knex('runtime_risk_signals').count({ n: '*' }).first())!.n)).toBe(120);
    expect(await sources.getSourceState('edr')).toMatchObject({ cursor: 'c1', rejectedCount: 1 });
  });
});
