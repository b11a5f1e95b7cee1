/**
 * Helpers of the fault tests: a pull source speaking HTTP to a fake EDR API
 * (through the shared SourceHttpClient, so retries, 429 handling and JSON
 * parsing are the real ones), a seeded PRNG and row counts of every table.
 */
import { SourceHttpClient, type PullSignalSource, type SignalSourceFetchOptions } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { fakeClock, startFakeServer, type FakeReply, type FakeServer } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';
import type { SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Knex } from 'knex';

/** How the fake EDR answers `GET /signals`. */
export type EdrMode = 'ok' | '500' | '429' | 'garbage' | 'wrong-shape' | 'hang-up';

export interface FakeEdr {
  server: FakeServer;
  mode: EdrMode;
  /** Pages served in `ok` mode; the cursor is the page index. */
  pages: SignalInput[][];
}

/** A fake EDR API on loopback: `GET /signals?cursor=N` returns page N (JSON) or the fault of `mode`. */
export async function startFakeEdr(pages: SignalInput[][] = []): Promise<FakeEdr> {
  const edr: FakeEdr = { server: undefined as unknown as FakeServer, mode: 'ok', pages };
  edr.server = await startFakeServer({
    'GET /signals': (req): FakeReply => {
      switch (edr.mode) {
        case '500':
          return { status: 500, json: { errors: [{ code: 500, message: 'internal server error' }] } };
        case '429':
          return { status: 429, headers: { 'retry-after': '1' }, json: { errors: [{ code: 429, message: 'rate limited' }] } };
        case 'garbage':
          return { status: 200, body: '<html><body>502 Bad Gateway from a proxy</body>' };
        case 'wrong-shape':
          return { status: 200, json: { resources: 'nope', signals: 42 } };
        case 'hang-up':
          throw new Error('connection reset');
        default: {
          const index = Number(req.query.get('cursor') ?? '0');
          const signals = edr.pages[index] ?? [];
          const hasMore = index + 1 < edr.pages.length;
          return { json: { signals, cursor: String(signals.length ? index + 1 : index), hasMore } };
        }
      }
    },
  });
  return edr;
}

/** A pull source reading the fake EDR through the shared HTTP client; sleeps are instant (fake clock). */
export class HttpEdrSource implements PullSignalSource {
  readonly mode = 'pull' as const;
  readonly type = 'fake-edr';
  readonly schedule?: PullSignalSource['schedule'];
  private readonly http: SourceHttpClient;

  constructor(
    readonly id: string,
    baseUrl: string,
    options: { schedule?: PullSignalSource['schedule'] } = {},
  ) {
    this.schedule = options.schedule;
    this.http = new SourceHttpClient({ sourceId: id, baseUrl, maxRetries: 2, clock: fakeClock(), random: () => 0.5, timeoutMs: 5_000 });
  }

  async fetch({ cursor, signal }: SignalSourceFetchOptions) {
    const body = await this.http.get(
      '/signals',
      { cursor: cursor ?? undefined },
      raw => {
        const b = raw as { signals?: unknown; cursor?: unknown; hasMore?: unknown } | undefined;
        if (!b || !Array.isArray(b.signals) || typeof b.cursor !== 'string') throw new Error('signals: expected an array and a cursor');
        return { signals: b.signals as SignalInput[], cursor: b.cursor, hasMore: b.hasMore === true };
      },
      signal,
    );
    return body;
  }
}

/** mulberry32: a small deterministic PRNG in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every table of the plugin. */
export const TABLES = [
  'runtime_risk_signals',
  'runtime_risk_signal_identifiers',
  'runtime_risk_source_state',
  'runtime_risk_decisions',
  'runtime_risk_entities',
  'runtime_risk_entity_hosts',
  'runtime_risk_exceptions',
] as const;

/** Row count of each plugin table. */
export async function rowCounts(knex: Knex): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const row = await knex(table).count({ n: '*' }).first();
    out[table] = Number(row?.n ?? 0);
  }
  return out;
}
