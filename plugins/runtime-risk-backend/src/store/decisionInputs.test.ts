import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonicalJson';
import { SHARED_BODY_MEMO_MAX, splitDecisionInputs } from './decisionInputs';

/** What the split must give, computed without any memo. */
function expected(inputs: Record<string, unknown>, policyHash: string) {
  const { entityRef, environment, now, dryRun, ...shared } = inputs;
  const own = Object.fromEntries(Object.entries({ entityRef, environment, now, dryRun }).filter(([, v]) => v !== undefined));
  const body = canonicalJson({ ...shared, policyHash });
  return { own, body, hash: createHash('sha256').update(body).digest('hex') };
}

const inputs = (signalScore: number, now = '2026-12-03T10:00:00.000Z') => ({
  entityRef: 'component:default/payments',
  environment: 'production',
  now,
  dryRun: false,
  hosts: [{ id: 'web-01', matchedBy: 'annotation', value: 'web-01' }],
  signals: [{ id: 'edr:c1', severity: 'critical', confidence: signalScore, lastSeenAt: '2026-12-03T09:00:00.000Z', title: 'x', tags: undefined }],
  sources: [{ id: 'edr', status: 'ok', lastSuccessAt: '2026-12-03T09:59:00.000Z' }],
  exceptions: [],
});

describe('splitDecisionInputs', () => {
  it('gives the canonical body and its sha256 on every call: repeated, reordered, changed, and after the memo is full', () => {
    const first = inputs(0.9);
    expect(splitDecisionInputs(first, 'p1')).toEqual(expected(first, 'p1'));
    // the same shared part at another time: the same body and hash, its own part apart
    const later = inputs(0.9, '2026-12-03T10:05:00.000Z');
    const again = splitDecisionInputs(later, 'p1')!;
    expect(again).toEqual(expected(later, 'p1'));
    expect(again.hash).toBe(expected(first, 'p1').hash);
    // the same values built in another key order
    const { signals, hosts, ...rest } = first;
    const reordered = { signals, ...rest, hosts };
    expect(splitDecisionInputs(reordered, 'p1')!.hash).toBe(expected(first, 'p1').hash);
    // a changed value, or another policy: another body
    const changed = inputs(0.5);
    expect(splitDecisionInputs(changed, 'p1')).toEqual(expected(changed, 'p1'));
    expect(splitDecisionInputs(changed, 'p1')!.hash).not.toBe(expected(first, 'p1').hash);
    expect(splitDecisionInputs(first, 'p2')).toEqual(expected(first, 'p2'));
    // more distinct parts than the memo holds, then the first ones again
    for (let i = 0; i < SHARED_BODY_MEMO_MAX + 10; i++) splitDecisionInputs(inputs(i / (SHARED_BODY_MEMO_MAX + 10)), 'p1');
    expect(splitDecisionInputs(first, 'p1')).toEqual(expected(first, 'p1'));
    expect(splitDecisionInputs(changed, 'p1')).toEqual(expected(changed, 'p1'));
  });

  it('keeps inputs that are not an object inline', () => {
    expect(splitDecisionInputs(null, 'p1')).toBeUndefined();
    expect(splitDecisionInputs([1, 2], 'p1')).toBeUndefined();
  });
});
