const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Error thrown by {@link parseDuration}; `name` is `InputError`, as Backstage's InputError (a 400). */
export class DurationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * Parses `30m`, `10s`, `1h30m`, `500ms` or a bare number of seconds into milliseconds.
 * Throws an error named `InputError` naming the input field when the value is not a
 * duration; pass `makeError` to throw another kind (e.g. Backstage's InputError).
 */
export function parseDuration(
  value: string | number,
  field: string,
  makeError: (message: string) => Error = message => new DurationInputError(message),
): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw makeError(`${field}: ${value} is not a non-negative number of seconds`);
    }
    return Math.round(value * 1000);
  }
  const text = value.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  let consumed = '';
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(match[1]) * UNIT_MS[match[2]];
    consumed += match[0];
  }
  if (!text || consumed !== text) {
    throw makeError(`${field}: '${value}' is not a duration (use e.g. 30s, 10m, 1h30m)`);
  }
  return Math.round(total);
}
