import { mockServices } from '@backstage/backend-test-utils';
import { signalInput } from '../testUtils/fixtures';
import { validateSignals } from './validate';

/** NUL characters and lone surrogates in a vendor's raw record (issue 16 part 7), checked before any copy is made. */
describe('validateSignals: raw vendor records', () => {
  const validate = (raw: unknown) => {
    const logger = mockServices.logger.mock();
    const out = validateSignals({ sourceId: 'edr', inputs: [signalInput('a', { raw })], fetchedAt: new Date().toISOString(), logger });
    return { ...out, warnings: (logger.warn.mock.calls as unknown[][]).map(c => String(c[0])) };
  };

  it('keeps a clean record as it is: the same object, nothing logged', () => {
    const raw = { id: 'a', device: { hostname: 'web-01', ips: ['10.0.0.1'] }, tags: ['x', 1, null, true, { deep: ['y'] }], 'ünï 🚨': '中文' };
    const { signals, cleaned, warnings } = validate(raw);
    expect(signals[0].raw).toBe(raw);
    expect(cleaned).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('removes NUL from strings and keys at any depth and makes lone surrogates U+FFFD; untouched parts stay the same objects', () => {
    const untouched = { c: 'ok', list: ['fine'] };
    const raw = { a: [{ 'k\u0000ey': 'v\u0000' }, 'x\ud800', 1], b: untouched, s: 'pair 🚨 kept', 'lone\udc00': true };
    const { signals, cleaned, warnings } = validate(raw);
    const out = signals[0].raw as Record<string, unknown>;
    expect(out).toEqual({ a: [{ key: 'v' }, 'x\ufffd', 1], b: { c: 'ok', list: ['fine'] }, s: 'pair 🚨 kept', 'lone\ufffd': true });
    expect(Object.keys(out)).toEqual(['a', 'b', 's', 'lone\ufffd']);
    expect(out.b).toBe(untouched);
    expect(raw.a[0]).toEqual({ 'k\u0000ey': 'v\u0000' });
    expect(cleaned).toBe(1);
    expect(warnings).toEqual([expect.stringContaining('raw: NUL characters removed')]);
  });
});
