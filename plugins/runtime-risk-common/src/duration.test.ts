import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['30m', 1_800_000],
    ['10s', 10_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['2d', 172_800_000],
    ['90', 90_000],
    ['1.5', 1500],
    [' 10M ', 600_000],
    [15, 15_000],
    [0, 0],
  ] as const)('%s is %d ms', (input, ms) => {
    expect(parseDuration(input, 'timeout')).toBe(ms);
  });

  it.each(['soon', '', '10x', '1h soon', '-5s'])('refuses %j, naming the field', input => {
    expect(() => parseDuration(input, 'timeout')).toThrow(/^timeout: '.*' is not a duration/);
    try {
      parseDuration(input, 'timeout');
    } catch (e) {
      expect((e as Error).name).toBe('InputError');
    }
  });

  it('refuses negative and non-finite numbers', () => {
    expect(() => parseDuration(-1, 'pollInterval')).toThrow('pollInterval: -1 is not a non-negative number of seconds');
    expect(() => parseDuration(Number.NaN, 'pollInterval')).toThrow(/not a non-negative number/);
  });

  it('throws the error the caller makes', () => {
    class Usage extends Error {}
    expect(() => parseDuration('soon', '--timeout', m => new Usage(m))).toThrow(Usage);
  });
});
