/**
 * Canonical JSON: object keys sorted at every level, so equal data always hashes
 * equally; `undefined` members are dropped (as `JSON.stringify` does) and an
 * `undefined` value or array element is written as `null`.
 *
 * The one implementation of the backend: the audit log's chain hashes (stored)
 * and the policy hash depend on it, so its output must never change.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value === undefined ? null : value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter(k => obj[k] !== undefined)
    .sort()
    .map(k => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}
