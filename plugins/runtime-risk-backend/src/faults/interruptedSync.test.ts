import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { PullSignalSource, SignalSourceFetchOptions } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Knex } from 'knex';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import { IngestionRunner } from '../ingest/IngestionRunner';
import { signalInput } from '../testUtils/fixtures';

/**
 * Fault: a sync stops mid-way (the source throws after the first page, the
 * task is aborted, or the process restarts and a new runner works on the same
 * database). No signal is lost or duplicated and the cursor is consistent.
 */
const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

const PAGE = 25;
const PAGES = 4;

/** 4 pages of 25 signals; each page repeats the last signal of the previous page (vendors overlap at page edges). */
function vendorPages(): SignalInput[][] {
  const pages: SignalInput[][] = [];
  for (let p = 0; p < PAGES; p++) {
    const page: SignalInput[] = [];
    if (p > 0) page.push(signalInput(`a-${p * PAGE - 1}`, { hostname: `host-${(p * PAGE - 1) % 7}`, title: `again ${p}` }));
    for (let i = p * PAGE; i < (p + 1) * PAGE; i++) page.push(signalInput(`a-${i}`, { hostname: `host-${i % 7}` }));
    pages.push(page);
  }
  return pages;
}

/** Serves `pages` by index cursor; `crashAfter` pages into a run, the next fetch throws (or calls `onCrash`). */
class CrashingSource implements PullSignalSource {
  readonly mode = 'pull' as const;
  readonly type = 'memory';
  cursorsSeen: (string | null)[] = [];
  fetchesThisRun = 0;
  crashAfter: number | undefined;
  onCrash: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly pages: SignalInput[][],
  ) {}

  async fetch({ cursor }: SignalSourceFetchOptions) {
    this.cursorsSeen.push(cursor);
    if (this.crashAfter !== undefined && this.fetchesThisRun >= this.crashAfter) {
      if (this.onCrash) this.onCrash();
      else throw new Error('ECONNRESET: socket hang up');
    }
    this.fetchesThisRun++;
    const index = cursor === null ? 0 : Number(cursor);
    // past the end: nothing new, the cursor stays
    if (index >= this.pages.length) return { signals: [], cursor, hasMore: false };
    return { signals: this.pages[index], cursor: String(index + 1), hasMore: index + 1 < this.pages.length };
  }
}

async function storedIds(knex: Knex): Promise<string[]> {
  return (await knex('runtime_risk_signals').select('id')).map((r: { id: string }) => r.id).sort();
}

/** Ids of the signals of the first `pages` pages, sorted. */
const idsOfPages = (pages: number) => Array.from({ length: PAGE * pages }, (_, i) => `mem:a-${i}`).sort();
const expectedIds = idsOfPages(PAGES);

describe.each(databases.eachSupportedId())('interrupted sync on %p', databaseId => {
  async function boot(knex: Knex) {
    // a "process": its own store instance (migrations re-run) and runner on the same database
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    return { store, runner: new IngestionRunner({ store, logger: mockServices.logger.mock() }) };
  }

  it('resumes after the source fails past the first page, then after a restart, without loss or duplicates', async () => {
    const knex = await databases.init(databaseId);
    const source = new CrashingSource('mem', vendorPages());

    const first = await boot(knex);
    source.crashAfter = 1;
    const broken = await first.runner.run(source);
    expect(broken).toMatchObject({ pages: 1, stored: PAGE });
    expect(broken.error).toContain('ECONNRESET');
    let state = await first.store.getSourceState('mem');
    expect(state).toMatchObject({ cursor: '1', consecutiveFailures: 1 });
    expect(await storedIds(knex)).toEqual(idsOfPages(1));

    // crash again after one more page, then "restart": a new store + runner on the same database
    source.fetchesThisRun = 0;
    await first.runner.run(source);
    expect((await first.store.getSourceState('mem'))?.cursor).toBe('2');
    expect(await storedIds(knex)).toEqual(idsOfPages(2));

    const second = await boot(knex);
    source.crashAfter = undefined;
    source.cursorsSeen = [];
    const resumed = await second.runner.run(source);
    expect(resumed.error).toBeUndefined();
    // resumed from the committed cursor, never from the start
    expect(source.cursorsSeen).toEqual(['2', '3']);
    state = await second.store.getSourceState('mem');
    expect(state).toMatchObject({ cursor: String(PAGES), consecutiveFailures: 0, lastError: null });

    const ids = await storedIds(knex);
    expect(ids).toEqual(expectedIds);
    expect(new Set(ids).size).toBe(ids.length);
    // identifiers were replaced, not appended, for the signals seen twice
    const identifiers = await knex('runtime_risk_signal_identifiers').count({ n: '*' }).first();
    const perSignal = await knex('runtime_risk_signal_identifiers').where({ signal_id: `mem:a-${PAGE - 1}` }).count({ n: '*' }).first();
    expect(Number(perSignal?.n)).toBeGreaterThan(0);
    expect(Number(identifiers?.n)).toBe(Number(perSignal?.n) * expectedIds.length);

    // a sync with nothing new changes nothing
    await second.runner.run(source);
    expect(await storedIds(knex)).toEqual(expectedIds);
  });

  it('stops at a page boundary when the task is aborted mid-sync and the next process finishes the job', async () => {
    const knex = await databases.init(databaseId);
    const source = new CrashingSource('mem', vendorPages());
    const controller = new AbortController();
    // the scheduler's timeout fires while the second page is being fetched
    source.crashAfter = 1;
    source.onCrash = () => controller.abort();

    const first = await boot(knex);
    const aborted = await first.runner.run(source, controller.signal);
    expect(aborted.error).toContain('aborted');
    const afterAbort = await first.store.getSourceState('mem');
    // the page fetched while aborting was either committed with its cursor, or not at all
    const committedPages = Number(afterAbort?.cursor);
    expect(committedPages).toBeGreaterThanOrEqual(1);
    expect(await storedIds(knex)).toEqual(idsOfPages(committedPages));

    const second = await boot(knex);
    source.crashAfter = undefined;
    source.onCrash = undefined;
    await second.runner.run(source);
    const ids = await storedIds(knex);
    expect(ids).toEqual(expectedIds);
    expect((await second.store.getSourceState('mem'))?.cursor).toBe(String(PAGES));
  });

  it('two runners racing on the same database (a restart while the old process is still syncing) store each signal once', async () => {
    const knex = await databases.init(databaseId);
    const a = await boot(knex);
    const b = await boot(knex);
    const results = await Promise.all([
      a.runner.run(new CrashingSource('mem', vendorPages())),
      b.runner.run(new CrashingSource('mem', vendorPages())),
    ]);
    // on SQLite the writers serialize; on PostgreSQL one may lose a write conflict and record a failure
    expect(results.some(r => r.error === undefined)).toBe(true);
    const ids = await storedIds(knex);
    expect(new Set(ids).size).toBe(ids.length);
    const c = await boot(knex);
    await c.runner.run(new CrashingSource('mem', vendorPages()));
    expect(await storedIds(knex)).toEqual(expectedIds);
    expect((await c.store.getSourceState('mem'))?.cursor).toBe(String(PAGES));
  });
});
