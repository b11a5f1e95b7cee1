import { createRequire } from 'node:module';
import { memoizeOpenApiRouteMatching } from './routeMatchCache';

describe('memoizeOpenApiRouteMatching', () => {
  const load = () => {
    const utils = createRequire(require.resolve('@backstage/backend-openapi-utils'));
    return createRequire(utils.resolve('express-openapi-validator'))('path-to-regexp') as {
      pathToRegexp: (p: string, o?: Record<string, unknown>) => { regexp: RegExp; keys: { name: string }[] };
    };
  };

  it('patches the validator’s path-to-regexp once; same patterns give the same (correct) compiled route', () => {
    expect(memoizeOpenApiRouteMatching()).toBe(true);
    const mod = load();
    const patched = mod.pathToRegexp;
    expect(memoizeOpenApiRouteMatching()).toBe(true);
    expect(mod.pathToRegexp).toBe(patched);

    const a = mod.pathToRegexp('/v1/entities/:kind/:namespace/:name/risk', { sensitive: false, strict: false });
    const b = mod.pathToRegexp('/v1/entities/:kind/:namespace/:name/risk', { strict: false, sensitive: false });
    expect(b).toBe(a);
    expect(a.keys.map(k => k.name)).toEqual(['kind', 'namespace', 'name']);
    expect(a.regexp.exec('/v1/entities/component/default/svc-1/risk')?.slice(1)).toEqual(['component', 'default', 'svc-1']);
    expect(a.regexp.exec('/v1/entities/component/default/svc-1/risk/history')).toBeNull();
    // regexps carry no state between calls (no g/y flag)
    expect(a.regexp.exec('/V1/ENTITIES/a/b/c/RISK')).not.toBeNull();
    expect(a.regexp.exec('/v1/entities/a/b/c/risk')).not.toBeNull();

    // other options are another entry, not the cached one
    const sensitive = mod.pathToRegexp('/v1/entities/:kind/:namespace/:name/risk', { sensitive: true, strict: false });
    expect(sensitive).not.toBe(a);
    expect(sensitive.regexp.exec('/V1/ENTITIES/a/b/c/RISK')).toBeNull();
  });
});
