import { createRequire } from 'node:module';

/**
 * express-openapi-validator (under Backstage's `createValidatedOpenApiRouter`)
 * finds the operation of every request by compiling each documented route
 * pattern with path-to-regexp's `pathToRegexp` until one matches: the same few
 * dozen patterns are parsed and turned into regular expressions again on every
 * request (8-16 % of the backend's CPU on the read routes under load, see
 * docs/performance.md). This memoizes `pathToRegexp` of the path-to-regexp copy
 * the validator loads, keyed by pattern and options: the result
 * (`{ regexp, keys }`) is a pure function of them, and the validator only calls
 * `regexp.exec` (no `g`/`y` flag, so no `lastIndex` state) and reads `keys`.
 * Answers do not change; only the recompilation goes away. Bounded: once
 * `MAX_ENTRIES` patterns are cached, further ones are compiled as before.
 */
const MAX_ENTRIES = 2_000;
const PATCHED = Symbol.for('runtime-risk.pathToRegexpMemo');

type PathToRegexp = (path: unknown, options?: Record<string, unknown>) => unknown;

/** Installs the memo once per process; a no-op if the validator or its path-to-regexp cannot be found. */
export function memoizeOpenApiRouteMatching(): boolean {
  let mod: { pathToRegexp?: PathToRegexp & { [PATCHED]?: true } };
  try {
    // the copies that @backstage/backend-openapi-utils (createValidatedOpenApiRouter) loads
    const utils = createRequire(require.resolve('@backstage/backend-openapi-utils'));
    mod = createRequire(utils.resolve('express-openapi-validator'))('path-to-regexp');
  } catch {
    return false;
  }
  const original = mod.pathToRegexp;
  if (typeof original !== 'function') return false;
  if (original[PATCHED]) return true;
  const memo = new Map<string, unknown>();
  // the validator's own call: options exactly { sensitive, strict } (booleans); one slot per combination, no key string
  const fast = new Map<string, unknown[]>();
  const memoized = function pathToRegexp(path: unknown, options?: Record<string, unknown>) {
    if (typeof path !== 'string') return original(path, options);
    if (options !== undefined && typeof options.sensitive === 'boolean' && typeof options.strict === 'boolean') {
      let n = 0;
      for (const _ in options) n++;
      if (n === 2) {
        const slot = (options.sensitive ? 1 : 0) | (options.strict ? 2 : 0);
        let slots = fast.get(path);
        const hit = slots?.[slot];
        if (hit !== undefined) return hit;
        const value = original(path, options);
        if (!slots && fast.size < MAX_ENTRIES) fast.set(path, (slots = []));
        if (slots) slots[slot] = value;
        return value;
      }
    }
    let key = path;
    if (options) {
      for (const k of Object.keys(options).sort()) {
        const v = options[k];
        if (v !== undefined && typeof v !== 'boolean' && typeof v !== 'string') return original(path, options);
        key += `\u0000${k}=${String(v)}`;
      }
    }
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const value = original(path, options);
    if (memo.size < MAX_ENTRIES) memo.set(key, value);
    return value;
  } as PathToRegexp & { [PATCHED]?: true };
  memoized[PATCHED] = true;
  try {
    mod.pathToRegexp = memoized;
  } catch {
    return false;
  }
  return mod.pathToRegexp === memoized;
}
