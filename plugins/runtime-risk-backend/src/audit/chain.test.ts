import { canonicalJson } from '../lib/canonicalJson';
import { GENESIS_HASH, chainHash, chainHashOfCanonical, verifyChain, type ChainRow } from './chain';
import { hashedContent, prepareAuditEntry } from './entry';

function build(payloads: unknown[]): ChainRow[] {
  const rows: ChainRow[] = [];
  let prev = GENESIS_HASH;
  payloads.forEach((payload, i) => {
    const hash = chainHash(prev, i + 1, payload);
    rows.push({ seq: i + 1, prevHash: prev, hash, payload });
    prev = hash;
  });
  return rows;
}

describe('audit hash chain', () => {
  const payloads = [{ a: 1 }, { b: 2, decision: 'block' }, { c: 3 }, { d: [1, 2] }];

  it('canonical JSON ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });

  it('verifies an intact chain', () => {
    const r = verifyChain(build(payloads));
    expect(r).toMatchObject({ ok: true, checked: 4 });
  });

  it('finds a modified row', () => {
    const rows = build(payloads);
    rows[1] = { ...rows[1], payload: { b: 2, decision: 'proceed' } };
    expect(verifyChain(rows)).toMatchObject({ ok: false, brokenAt: 2, problem: 'modified' });
  });

  it('finds a deleted row', () => {
    const rows = build(payloads);
    rows.splice(2, 1);
    expect(verifyChain(rows)).toMatchObject({ ok: false, brokenAt: 3, problem: 'missing' });
  });

  it('finds a deleted first row and a rehashed row', () => {
    expect(verifyChain(build(payloads).slice(1))).toMatchObject({ ok: false, brokenAt: 1, problem: 'missing' });
    const rows = build(payloads);
    // an attacker recomputes row 2's own hash after editing it: row 3 no longer links
    const edited = { b: 2, decision: 'proceed' };
    rows[1] = { ...rows[1], payload: edited, hash: chainHash(rows[1].prevHash, 2, edited) };
    expect(verifyChain(rows)).toMatchObject({ ok: false, brokenAt: 3, problem: 'relinked' });
  });

  it('hashes a payload prepared before the lock exactly as the payload itself', () => {
    const entry = {
      at: '2026-11-23T12:00:00.000Z',
      type: 'gate-decision' as const,
      actor: 'user:default/dév',
      subject: 'd1',
      payload: { z: 1, a: { y: [2, 'ü'], b: null }, skipped: undefined },
    };
    const prepared = prepareAuditEntry(entry);
    expect(prepared.canonical).toBe(canonicalJson(hashedContent(entry)));
    expect(JSON.parse(prepared.payloadJson)).toEqual({ z: 1, a: { y: [2, 'ü'], b: null } });
    expect(chainHashOfCanonical(GENESIS_HASH, 7, prepared.canonical)).toBe(chainHash(GENESIS_HASH, 7, hashedContent(entry)));
    expect(chainHashOfCanonical(GENESIS_HASH, 8, prepared.canonical)).not.toBe(chainHash(GENESIS_HASH, 7, hashedContent(entry)));
  });
});
