import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { DatabaseRuntimeRiskStore } from './DatabaseRuntimeRiskStore';
import type { DecisionRecord } from './types';

const databases = TestDatabases.create({ ids: ['SQLITE_3', 'POSTGRES_15'] });

function signal(sourceId: string, overrides: Partial<Signal> = {}): Signal {
  return {
    id: `edr:${sourceId}`,
    source: 'edr',
    sourceId,
    kind: 'detection',
    severity: 'high',
    confidence: 0.9,
    status: 'active',
    title: `detection ${sourceId}`,
    tactics: [],
    techniques: [],
    asset: { hostname: 'web-01', fqdn: 'web-01.prod.example.com', ips: ['10.0.0.1'], macs: [] },
    firstSeenAt: '2026-11-23T10:00:00.000Z',
    lastSeenAt: '2026-11-23T10:00:00.000Z',
    fetchedAt: '2026-11-23T10:01:00.000Z',
    ...overrides,
  };
}

function decision(id: string, entityRef: string, createdAt: string): DecisionRecord {
  return {
    id,
    entityRef,
    environment: 'production',
    decision: 'proceed',
    riskLevel: 'low',
    score: 0,
    reasons: [{ code: 'no_active_signals', message: 'none', signalIds: [] }],
    inputs: { entityRef, now: createdAt },
    result: { decisionId: id },
    policyId: 'default',
    policyHash: 'abc',
    dryRun: false,
    status: 'final',
    createdAt,
  };
}

describe.each(databases.eachSupportedId())('DatabaseRuntimeRiskStore on %p', databaseId => {
  async function createStore() {
    const knex = await databases.init(databaseId);
    const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
    return { knex, store };
  }

  it('upserts signals by source + source id, idempotently', async () => {
    const { store } = await createStore();
    const batch = [signal('a'), signal('b', { asset: { hostname: 'db-01', ips: [], macs: [] } })];
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: batch, cursor: 'c1', at: '2026-11-23T10:01:00.000Z' });
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: batch, cursor: 'c1', at: '2026-11-23T10:01:00.000Z' });
    const all = await store.listSignals({ limit: 10, offset: 0 });
    expect(all.totalCount).toBe(2);

    // an update of the same vendor id replaces the row
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'test',
      signals: [signal('a', { status: 'resolved', title: 'closed' })],
      cursor: 'c2',
      at: '2026-11-23T10:02:00.000Z',
    });
    const after = await store.listSignals({ limit: 10, offset: 0 });
    expect(after.totalCount).toBe(2);
    expect(after.items.find(s => s.id === 'edr:a')).toMatchObject({ status: 'resolved', title: 'closed' });
    // numbers and JSON columns read back exactly as written (no float4 rounding on PostgreSQL)
    expect(after.items.find(s => s.id === 'edr:b')).toEqual(batch[1]);
    expect((await store.getSourceState('edr'))?.cursor).toBe('c2');
  });

  it('pages through every signal asset with keyset paging, in listSignals order, ties on last seen included', async () => {
    const { store } = await createStore();
    const batch = Array.from({ length: 23 }, (_, i) =>
      signal(`s${String(i).padStart(2, '0')}`, {
        // groups of equal last-seen times, so that pages end inside a group
        lastSeenAt: `2026-11-23T10:0${i % 4}:00.000Z`,
        asset: { hostname: `host-${i}`, ips: [`10.0.1.${i}`], macs: [] },
      }),
    );
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: batch, cursor: null, at: '2026-11-23T10:05:00.000Z' });
    const expected = (await store.listSignals({ limit: 100, offset: 0 })).items.map(s => [s.id, s.asset]);
    const seen: unknown[] = [];
    let after: { lastSeenAt: string; id: string } | undefined;
    let pages = 0;
    do {
      const page = await store.listSignalAssets(after ? { after, limit: 5 } : { limit: 5 });
      seen.push(...page.items.map(i => [i.id, i.asset]));
      after = page.next;
      pages += 1;
    } while (after && pages < 50);
    expect(seen).toEqual(expected);
    expect(seen).toHaveLength(23);
    expect(pages).toBe(5);
    // a page size that divides the count exactly ends with one empty page
    const whole = await store.listSignalAssets({ limit: 23 });
    expect(whole.items).toHaveLength(23);
    expect(await store.listSignalAssets({ after: whole.next, limit: 23 })).toEqual({ items: [] });
  });

  it('commits large batches in chunks and replaces only the identifiers of signals whose asset changed', async () => {
    const { knex, store } = await createStore();
    const at = '2026-11-23T10:01:00.000Z';
    const n = 1203; // more than one multi-row insert and one IN list on either database
    const first = Array.from({ length: n }, (_, i) => signal(`big-${i}`, { asset: { hostname: `h-${i}`, ips: [`10.1.${i % 250}.${i % 200}`], macs: [] } }));
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: first, cursor: 'c1', at });
    expect((await store.listSignals({ limit: 1, offset: 0 })).totalCount).toBe(n);
    const countIdentifiers = async () => Number((await knex('runtime_risk_signal_identifiers').count({ c: '*' }).first())?.c);
    expect(await countIdentifiers()).toBe(2 * n);

    // every third signal moves to another host; a duplicate in the batch: the last one wins
    const second = first.map((s, i) => (i % 3 === 0 ? { ...s, asset: { hostname: `moved-${i}`, ips: [], macs: [] } } : s));
    second.push({ ...first[1], title: 'last one wins', asset: { hostname: 'dup-1', ips: [], macs: [] } });
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: second, cursor: 'c2', at });
    const moved = Math.ceil(n / 3);
    expect(await countIdentifiers()).toBe(2 * n - moved - 1);
    expect((await store.findSignalsByIdentifiers(['moved-0'])).map(s => s.signal.id)).toEqual(['edr:big-0']);
    expect(await store.findSignalsByIdentifiers(['h-0', 'h-3', 'h-1'])).toEqual([]);
    expect((await store.findSignalsByIdentifiers(['h-2'])).map(s => s.signal.id)).toEqual(['edr:big-2']);
    const dup = await store.findSignalsByIdentifiers(['dup-1']);
    expect(dup.map(s => [s.signal.id, s.signal.title, s.identifiers])).toEqual([
      ['edr:big-1', 'last one wins', [{ kind: 'hostname', value: 'dup-1' }]],
    ]);
    expect((await store.listSignals({ limit: 1, offset: 0 })).totalCount).toBe(n);
    expect((await store.getSourceState('edr'))?.cursor).toBe('c2');
  });

  it('stores every column and identifier of a batch larger than one bulk statement, text of any kind unchanged', async () => {
    const { knex, store } = await createStore();
    const at = '2026-11-23T10:01:00.000Z';
    // over PostgreSQL's 10,000 rows per bulk statement and far over SQLite's 999 / 32,766 variables
    const n = 10_050;
    const odd = `quote " backslash \\ newline \n tab \t unicode é 雪 emoji 😀 json {"a":[1,2]} sql '; drop table x; --`;
    const batch = Array.from({ length: n }, (_, i) =>
      signal(`bulk-${i}`, {
        title: i % 2 ? `${odd} ${i}` : `plain ${i}`,
        confidence: i % 7 === 0 ? 0.1 + 0.2 : 1 / 3,
        tactics: i % 5 === 0 ? [] : ['Execution', odd],
        asset: {
          hostname: `host-${i}`,
          fqdn: `host-${i}.prod.example.com`,
          deviceId: `Dev-${i}`,
          ips: [`10.${(i >> 8) & 255}.${i & 255}.1`],
          macs: [],
        },
        ...(i % 3 === 0 ? { description: odd, url: `https://falcon.example.com/${i}?a=1&b="2"`, raw: { id: i, text: odd, nested: { list: [null, true, 1.5] } } } : {}),
      }),
    );
    // a lone UTF-16 surrogate (possible in vendor text) does not fail the batch: it is stored as U+FFFD
    // (PostgreSQL: one, as the driver's UTF-8 encoding of a plain text parameter gives; SQLite: one per byte)
    batch[1] = { ...batch[1], title: `lone \ud800 surrogate` };
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: batch, cursor: 'c1', at });

    const stored = new Map<string, Signal>();
    for (let offset = 0; offset < n; offset += 5000) {
      for (const s of (await store.listSignals({ limit: 5000, offset })).items) stored.set(s.id, s);
    }
    expect(stored.size).toBe(n);
    for (const s of batch) {
      if (s.sourceId !== 'bulk-1') expect(stored.get(s.id)).toEqual(s);
    }
    expect(stored.get('edr:bulk-1')).toEqual({ ...batch[1], title: expect.stringMatching(/^lone \ufffd+ surrogate$/) });
    const identifiers: { signal_id: string; kind: string; value: string }[] = await knex('runtime_risk_signal_identifiers').select('signal_id', 'kind', 'value');
    expect(identifiers).toHaveLength(4 * n);
    const bySignal = new Map<string, string[]>();
    for (const r of identifiers) bySignal.set(r.signal_id, [...(bySignal.get(r.signal_id) ?? []), `${r.kind}=${r.value}`]);
    expect(bySignal.size).toBe(n);
    expect(bySignal.get('edr:bulk-10049')?.sort()).toEqual(
      ['device_id=dev-10049', 'fqdn=host-10049.prod.example.com', 'hostname=host-10049', 'ip=10.39.65.1'].sort(),
    );

    // again with every 1,000th signal moved: only those identifiers change, nothing is duplicated
    const moved = batch.map((s, i) => (i % 1000 === 0 ? { ...s, asset: { hostname: `moved-${i}`, ips: [], macs: [] } } : s));
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: moved, cursor: 'c2', at });
    expect(Number((await knex('runtime_risk_signal_identifiers').count({ c: '*' }).first())?.c)).toBe(4 * n - 3 * 11);
    expect((await store.findSignalsByIdentifiers(['moved-10000'])).map(s => s.signal.id)).toEqual(['edr:bulk-10000']);
    expect(await store.findSignalsByIdentifiers(['host-10000'])).toEqual([]);
    expect((await store.getSourceState('edr'))?.cursor).toBe('c2');
  });

  it('finds signals by host identifiers through the identifier index', async () => {
    const { store } = await createStore();
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'test',
      signals: [
        signal('a'),
        signal('b', { asset: { hostname: 'web-010', ips: [], macs: ['02:42:ac:11:00:02'] } }),
        signal('c', { asset: { deviceId: 'DEV-XYZ', ips: [], macs: [] } }),
      ],
      cursor: null,
      at: '2026-11-23T10:01:00.000Z',
    });
    expect((await store.findSignalsByIdentifiers(['web-01'])).map(s => s.signal.id)).toEqual(['edr:a']);
    expect((await store.findSignalsByIdentifiers(['web-01.prod.example.com'])).map(s => s.signal.id)).toEqual(['edr:a']);
    expect((await store.findSignalsByIdentifiers(['10.0.0.1'])).map(s => s.signal.id)).toEqual(['edr:a']);
    expect((await store.findSignalsByIdentifiers(['dev-xyz'])).map(s => s.signal.id)).toEqual(['edr:c']);
    expect((await store.findSignalsByIdentifiers(['02:42:ac:11:00:02'])).map(s => s.signal.id)).toEqual(['edr:b']);
    expect(await store.findSignalsByIdentifiers(['web-0'])).toEqual([]);
    const listed = await store.listSignals({ identifierValues: ['web-010'], limit: 10, offset: 0 });
    expect(listed.items.map(s => s.id)).toEqual(['edr:b']);
  });

  it('commits a batch and its cursor atomically: a failing batch keeps the old cursor and data', async () => {
    const { store } = await createStore();
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: [signal('a')], cursor: 'c1', at: '2026-11-23T10:01:00.000Z' });
    const broken = { ...signal('z'), title: null } as unknown as Signal;
    await expect(
      store.commitBatch({
        sourceId: 'edr',
        sourceType: 'test',
        signals: [signal('a', { title: 'changed' }), signal('y'), broken],
        cursor: 'c2',
        at: '2026-11-23T10:02:00.000Z',
      }),
    ).rejects.toThrow();
    const state = await store.getSourceState('edr');
    expect(state?.cursor).toBe('c1');
    expect(state?.lastSuccessAt).toBe('2026-11-23T10:01:00.000Z');
    const all = await store.listSignals({ limit: 10, offset: 0 });
    expect(all.items.map(s => [s.id, s.title])).toEqual([['edr:a', 'detection a']]);
  });

  it('commits a batch after the commit it follows, shared signals last, and nothing of it when that one fails', async () => {
    const { store } = await createStore();
    let release!: () => void;
    const previous = new Promise<void>(resolve => {
      release = resolve;
    });
    // the following batch starts first; it shares signal a with the commit before it
    const next = store.commitBatch({
      sourceId: 'edr',
      sourceType: 'test',
      signals: [signal('a', { title: 'newer' }), signal('b')],
      cursor: 'c2',
      at: '2026-11-23T10:02:00.000Z',
      after: { commit: previous, signalIds: new Set(['edr:a']) },
    });
    let settled = false;
    next.then(
      () => (settled = true),
      () => (settled = true),
    );
    // the commit before writes a meanwhile: the following batch holds no lock on it (this would wait forever otherwise)
    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: [signal('a')], cursor: 'c1', at: '2026-11-23T10:01:00.000Z' });
    await new Promise(resolve => setTimeout(resolve, 50));
    // the following batch waits for the commit before it
    expect(settled).toBe(false);
    expect((await store.getSourceState('edr'))?.cursor).toBe('c1');
    release();
    await next;
    expect((await store.getSourceState('edr'))?.cursor).toBe('c2');
    // the later batch's version of the shared signal wins
    expect((await store.listSignals({ limit: 10, offset: 0 })).items.map(s => [s.id, s.title]).sort()).toEqual([
      ['edr:a', 'newer'],
      ['edr:b', 'detection b'],
    ]);

    // the commit before fails: no signal and no cursor of the following batch
    const failed = Promise.reject(new Error('disk full'));
    // handled where commitBatch awaits it
    failed.catch(() => undefined);
    await expect(
      store.commitBatch({
        sourceId: 'edr',
        sourceType: 'test',
        signals: [signal('b', { title: 'changed' }), signal('c')],
        cursor: 'c3',
        at: '2026-11-23T10:03:00.000Z',
        after: { commit: failed, signalIds: new Set(['edr:b']) },
      }),
    ).rejects.toThrow('disk full');
    expect((await store.getSourceState('edr'))?.cursor).toBe('c2');
    const all = await store.listSignals({ limit: 10, offset: 0 });
    expect(all.items.map(s => [s.id, s.title]).sort()).toEqual([
      ['edr:a', 'newer'],
      ['edr:b', 'detection b'],
    ]);
    expect(await store.findSignalsByIdentifiers(['web-01'])).toHaveLength(2);
  });

  it('stores JSON columns as their JSON text, including vendor text with lone surrogates', async () => {
    const { knex, store } = await createStore();
    const raw = { id: 'r1', note: 'bad \udc00 text', nested: [{ a: 1.5 }, null, 'x"y'] };
    await store.commitBatch({
      sourceId: 'edr',
      sourceType: 'test',
      signals: [
        signal('a', { raw, tactics: ['Execution'], title: 'lone \ud800 surrogate' }),
        signal('b', { raw: 'just text' }),
        signal('c', { raw: null }),
        signal('d', { raw: new Date('2026-11-23T10:00:00.000Z') }),
      ],
      cursor: 'c1',
      at: '2026-11-23T10:01:00.000Z',
    });
    const rows: { source_id: string; raw: string | null; tactics: string; asset: string }[] = await knex('runtime_risk_signals')
      .select('source_id', 'raw', 'tactics', 'asset')
      .orderBy('source_id');
    expect(rows.map(r => r.raw)).toEqual([
      JSON.stringify(raw),
      JSON.stringify('just text'),
      'null',
      JSON.stringify('2026-11-23T10:00:00.000Z'),
    ]);
    expect(rows[0].tactics).toBe('["Execution"]');
    expect(JSON.parse(rows[0].asset)).toEqual(signal('a').asset);
    const [a] = (await store.listSignals({ limit: 10, offset: 0 })).items.filter(x => x.id === 'edr:a');
    expect(a.raw).toEqual(raw);
  });

  it('tracks source state transitions: failures count up, success resets, cursor kept on failure', async () => {
    const { store } = await createStore();
    await store.recordFailure({ sourceId: 'edr', sourceType: 'test', error: 'boom 1', at: '2026-11-23T10:00:00.000Z' });
    let state = await store.getSourceState('edr');
    expect(state).toMatchObject({ consecutiveFailures: 1, lastError: 'boom 1', lastSuccessAt: null, cursor: null });

    await store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: [], cursor: 'c1', at: '2026-11-23T10:01:00.000Z', rejected: 2 });
    state = await store.getSourceState('edr');
    expect(state).toMatchObject({ consecutiveFailures: 0, lastError: null, cursor: 'c1', rejectedCount: 2 });

    await store.recordFailure({ sourceId: 'edr', sourceType: 'test', error: 'boom 2', at: '2026-11-23T10:02:00.000Z' });
    await store.recordFailure({ sourceId: 'edr', sourceType: 'test', error: 'boom 3', at: '2026-11-23T10:03:00.000Z' });
    state = await store.getSourceState('edr');
    expect(state).toMatchObject({
      consecutiveFailures: 2,
      lastError: 'boom 3',
      cursor: 'c1',
      lastSuccessAt: '2026-11-23T10:01:00.000Z',
      lastAttemptAt: '2026-11-23T10:03:00.000Z',
    });
    expect((await store.listSourceStates()).map(s => s.id)).toEqual(['edr']);
  });

  it('pages decisions newest first with a cursor and filters by entity and environment', async () => {
    const { store } = await createStore();
    for (let i = 0; i < 5; i++) {
      await store.insertDecision(decision(`d${i}`, 'component:default/web', `2026-11-23T10:0${i}:00.000Z`));
    }
    await store.insertDecision(decision('other', 'component:default/db', '2026-11-23T10:09:00.000Z'));

    const first = await store.listDecisions({ entityRef: 'component:default/web', limit: 2 });
    expect(first.totalCount).toBe(5);
    expect(first.items.map(d => d.id)).toEqual(['d4', 'd3']);
    expect(first.nextCursor).toBeDefined();
    const second = await store.listDecisions({ entityRef: 'component:default/web', limit: 2, cursor: first.nextCursor });
    expect(second.items.map(d => d.id)).toEqual(['d2', 'd1']);
    const third = await store.listDecisions({ entityRef: 'component:default/web', limit: 2, cursor: second.nextCursor });
    expect(third.items.map(d => d.id)).toEqual(['d0']);
    expect(third.nextCursor).toBeUndefined();

    const stored = await store.getDecision('d1');
    expect(stored).toEqual(decision('d1', 'component:default/web', '2026-11-23T10:01:00.000Z'));
    expect(await store.getDecision('nope')).toBeUndefined();
    expect((await store.listDecisions({ environment: 'staging', limit: 10 })).totalCount).toBe(0);
  });


  it('scans decisions oldest first a page at a time (backtest): ties on created_at by seq, each once, window and filters', async () => {
    const { store } = await createStore();
    // three decisions share each time stamp, so pages end in the middle of a tie
    const written: string[] = [];
    for (let minute = 0; minute < 4; minute++) {
      for (let k = 0; k < 3; k++) {
        const id = `m${minute}-${k}`;
        await store.insertDecision(decision(id, `component:default/s${k}`, `2026-11-23T10:0${minute}:00.000Z`));
        written.push(id);
      }
    }
    await store.insertDecision(decision('after-window', 'component:default/s0', '2026-11-23T11:00:00.000Z'));
    const scanAll = async (pageSize: number, filters: { entityRef?: string } = {}) => {
      const seen: string[] = [];
      let after: { createdAt: string; seq: number } | undefined;
      for (;;) {
        const rows = await store.scanDecisions({ since: '2026-11-23T10:00:00.000Z', until: '2026-11-23T10:30:00.000Z', after, limit: pageSize, ...filters });
        seen.push(...rows.map(r => r.id));
        if (rows.length < pageSize) return seen;
        after = { createdAt: rows[rows.length - 1].createdAt, seq: rows[rows.length - 1].seq };
      }
    };
    expect(await scanAll(100)).toEqual(written);
    expect(await scanAll(2)).toEqual(written);
    expect(await scanAll(3)).toEqual(written);
    expect(await scanAll(2, { entityRef: 'component:default/s1' })).toEqual(written.filter(id => id.endsWith('-1')));
  });
  it('stores the entity index and active exceptions', async () => {
    const { store } = await createStore();
    await store.replaceEntityIndex([
      {
        entityRef: 'component:default/web',
        kind: 'Component',
        namespace: 'default',
        name: 'web',
        owner: 'group:default/team-a',
        system: 'shop',
        hosts: [
          { environment: '*', value: 'web-01', matchedBy: 'annotation:runtime-risk.io/hosts' },
          { environment: 'staging', value: 'web-stg-01', matchedBy: 'annotation:runtime-risk.io/hosts.staging' },
        ],
        updatedAt: '2026-11-23T10:00:00.000Z',
      },
    ]);
    expect((await store.getEntity('component:default/web'))?.hosts).toHaveLength(2);
    await store.replaceEntityIndex([]);
    expect(await store.getEntity('component:default/web')).toBeUndefined();

    await store.insertException({
      id: 'e1',
      entityRef: 'component:default/web',
      environment: 'production',
      reason: 'hotfix',
      requestedBy: 'user:default/a',
      status: 'approved',
      approvedBy: 'user:default/b',
      expiresAt: '2026-11-23T12:00:00.000Z',
      signalIds: ['edr:a'],
      maxLevel: 'high',
      createdAt: '2026-11-23T10:00:00.000Z',
    });
    expect((await store.listActiveExceptions('component:default/web', 'production', '2026-11-23T11:00:00.000Z')).map(e => e.id)).toEqual(['e1']);
    expect(await store.listActiveExceptions('component:default/web', 'production', '2026-11-23T13:00:00.000Z')).toEqual([]);
  });
  it('writes concurrent decisions together (group commit), each with its audit record, and the chain verifies', async () => {
    const { store, knex } = await createStore();
    const ids = Array.from({ length: 150 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    await Promise.all(ids.map((id, i) => store.insertDecision(decision(id, `component:default/s${i % 7}`, '2026-11-23T10:00:00.000Z'))));
    const stored: { id: string }[] = await knex('runtime_risk_decisions').select('id');
    expect(stored.map(r => r.id).sort()).toEqual(ids);
    const audit = await store.listAuditRecords({ limit: 1000 });
    expect(audit.map(r => r.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(audit.map(r => r.subject).sort()).toEqual(ids);
    expect(audit.every(r => r.type === 'gate-decision')).toBe(true);
    expect(await store.verifyAuditLog()).toMatchObject({ ok: true, checked: 150 });
    // a decision that cannot be written (duplicate id) fails alone; the others of its batch are written
    const results = await Promise.allSettled([
      store.insertDecision(decision('n1', 'component:default/x', '2026-11-23T11:00:00.000Z')),
      store.insertDecision(decision('c000', 'component:default/x', '2026-11-23T11:00:00.000Z')),
      store.insertDecision(decision('n2', 'component:default/x', '2026-11-23T11:00:00.000Z')),
    ]);
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.getDecision('n1')).toBeDefined();
    expect(await store.getDecision('n2')).toBeDefined();
    expect(await store.verifyAuditLog()).toMatchObject({ ok: true, checked: 152 });
  });

  it('bumps the data version with every write of what the gate reads, and not with decisions', async () => {
    const { store } = await createStore();
    const versions = [await store.getDataVersion()];
    const changed = async (what: string, write: () => Promise<unknown>) => {
      await write();
      const v = await store.getDataVersion();
      expect(versions, what).not.toContain(v);
      versions.push(v);
    };
    expect(versions[0]).toMatch(/^[0-9a-f-]{36}\.1$/);
    await changed('commitBatch', () =>
      store.commitBatch({ sourceId: 'edr', sourceType: 'test', signals: [signal('v1')], cursor: 'c1', at: '2026-11-23T10:01:00.000Z' }),
    );
    await changed('recordFailure', () =>
      store.recordFailure({ sourceId: 'edr', sourceType: 'test', error: 'HTTP 500', at: '2026-11-23T10:02:00.000Z' }),
    );
    const entity = {
      entityRef: 'component:default/web',
      kind: 'Component',
      namespace: 'default',
      name: 'web',
      hosts: [{ environment: '*', value: 'web-01', matchedBy: 'annotation:runtime-risk.io/hosts' }],
      updatedAt: '2026-11-23T10:00:00.000Z',
    };
    await changed('replaceEntityIndex', () => store.replaceEntityIndex([entity]));
    await changed('upsertEntity', () => store.upsertEntity({ ...entity, hosts: [] }));
    await changed('insertException', () =>
      store.insertException({
        id: 'e1',
        entityRef: entity.entityRef,
        environment: 'production',
        reason: 'hotfix',
        requestedBy: 'user:default/a',
        status: 'pending',
        approvedBy: null,
        expiresAt: '2026-11-23T12:00:00.000Z',
        signalIds: null,
        maxLevel: null,
        createdAt: '2026-11-23T10:00:00.000Z',
      }),
    );
    await changed('transitionException', () =>
      store.transitionException({ id: 'e1', from: ['pending'], to: 'approved', by: 'user:default/b', approvedBy: 'user:default/b', at: '2026-11-23T10:05:00.000Z' }),
    );
    const before = await store.getDataVersion();
    await store.insertDecision(decision('d1', entity.entityRef, '2026-11-23T10:06:00.000Z'));
    expect(await store.getDataVersion()).toBe(before);
  });
});
