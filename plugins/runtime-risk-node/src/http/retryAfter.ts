/**
 * Reads how long to wait before retrying from a response's headers.
 * Returns milliseconds, or undefined when the header is absent or unreadable.
 */
export type RetryAfterParser = (headers: Headers, now: number) => number | undefined;

/**
 * Parses an HTTP `Retry-After` value: delay seconds (`120`) or an HTTP date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). Returns milliseconds from `now`, never negative.
 */
export function parseRetryAfterValue(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Parses an absolute epoch-seconds reset time (CrowdStrike's
 * `X-Ratelimit-RetryAfter`). Returns milliseconds from `now`, never negative.
 */
export function parseEpochSecondsValue(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.max(0, Math.round(Number(value.trim()) * 1000 - now));
}

/** A parser reading a `Retry-After` style header (seconds or HTTP date). */
export function retryAfterHeader(name = 'retry-after'): RetryAfterParser {
  return (headers, now) => parseRetryAfterValue(headers.get(name), now);
}

/** A parser reading an epoch-seconds header such as `X-Ratelimit-RetryAfter`. */
export function epochSecondsHeader(name: string): RetryAfterParser {
  return (headers, now) => parseEpochSecondsValue(headers.get(name), now);
}

/** Tries several parsers in order; the first that yields a value wins. */
export function firstRetryAfter(...parsers: RetryAfterParser[]): RetryAfterParser {
  return (headers, now) => {
    for (const p of parsers) {
      const v = p(headers, now);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}
