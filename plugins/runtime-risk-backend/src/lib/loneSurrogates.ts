const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A `JSON.stringify` replacer that writes a lone UTF-16 surrogate in any string as
 * U+FFFD: what the database keeps of it (PostgreSQL's JSON parser rejects the
 * `\udXXX` escape; a text parameter's UTF-8 encoding turns it into U+FFFD).
 */
export function withoutLoneSurrogates(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? value.replace(LONE_SURROGATE, '\ufffd') : value;
}
