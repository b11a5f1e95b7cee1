import { InputError } from '@backstage/errors';
import type { z } from 'zod';

/**
 * The one place where a zod failure becomes a 400 (`InputError`) that names the
 * field: each issue is written `field: message` (`where` when it has no path),
 * unknown keys as `key: unknown query parameter(s)` in a query and
 * `key: unknown field(s) in <where>` elsewhere; issues are joined by `; `.
 */
export function inputErrorMessage(error: z.ZodError, where: string): string {
  return error.issues
    .map(issue => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const field = [path, issue.keys.join(', ')].filter(Boolean).join('.');
        return `${field}: ${where === 'query' ? 'unknown query parameter(s)' : `unknown field(s) in ${where}`}`;
      }
      return `${path || where}: ${issue.message}`;
    })
    .join('; ');
}

/**
 * Parses a request's input with `schema`; throws an `InputError` (400) naming
 * every field at fault (see {@link inputErrorMessage}). `where` is `body`,
 * `query` or the name of a single value (e.g. `entityRef`).
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InputError(inputErrorMessage(result.error, where));
  return result.data;
}
