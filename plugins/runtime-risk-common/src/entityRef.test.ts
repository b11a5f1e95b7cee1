import { parseEntityRef } from '@backstage/catalog-model';
import { EntityRefSchema, GateRequestSchema, canonicalEntityRef } from './gate';

const long = 'a'.repeat(64);

describe('canonicalEntityRef', () => {
  it.each([
    ['component:default/payments', 'component:default/payments'],
    ['Component:Default/Payments', 'component:default/payments'],
    ['payments', 'component:default/payments'],
    ['team-a/payments', 'component:team-a/payments'],
    ['resource:web-01', 'resource:default/web-01'],
    ['api:default/pay_v1.2-beta', 'api:default/pay_v1.2-beta'],
    ['custom-kind:ns.x/a', 'custom-kind:ns.x/a'],
    [`component:default/${'a'.repeat(63)}`, `component:default/${'a'.repeat(63)}`],
  ])('accepts %j as %j', (ref, canonical) => {
    expect(canonicalEntityRef(ref)).toBe(canonical);
    expect(EntityRefSchema.parse(ref)).toBe(canonical);
  });

  it.each([
    // accepted by Backstage's lenient parseEntityRef, rejected here
    ['a/b/c/', 'more than one "/"'],
    ['component:default/a/b', 'more than one "/"'],
    ['component:a:b/c', 'more than one ":"'],
    ['a:b:c', 'more than one ":"'],
    ['default/x:y', '":" after "/"'],
    ['component:default/pay ments', 'invalid name'],
    ['component:default/-payments', 'invalid name'],
    ['component:default/payments.', 'invalid name'],
    ['component:default/pay\u0000', 'invalid name'],
    ['component:default/paymënts', 'invalid name'],
    [`component:default/${long}`, 'invalid name'],
    [`component:${long}/x`, 'invalid namespace'],
    ['component:de fault/x', 'invalid namespace'],
    ['comp onent:default/x', 'invalid kind'],
    ['1component:default/x', 'invalid kind'],
    ['component-:default/x', 'invalid kind'],
    // empty parts
    ['component:default/', 'empty name'],
    ['component:/x', 'empty namespace'],
    [':default/x', 'empty kind'],
    ['component:', 'empty name'],
    ['/', 'empty namespace'],
    [':/', 'empty kind'],
    ['/x', 'empty namespace'],
    ['x/', 'empty name'],
    ['', 'empty name'],
  ])('rejects %j (%s)', (ref, why) => {
    expect(() => canonicalEntityRef(ref)).toThrow(why);
  });

  it('rejects refs that the lenient Backstage parser accepts', () => {
    for (const ref of ['a/b/c/', 'component:default/a/b', 'component:default/pay ments']) {
      expect(() => parseEntityRef(ref, { defaultKind: 'component', defaultNamespace: 'default' })).not.toThrow();
      expect(() => canonicalEntityRef(ref)).toThrow();
    }
  });

  it.each(['a/b/c/', 'component:default/', 'component:default/pay ments', '', 42, null])(
    'answers a zod error naming entityRef for %j',
    ref => {
      const result = GateRequestSchema.safeParse({ entityRef: ref, environment: 'production' });
      expect(result.success).toBe(false);
      expect(result.error?.issues.map(i => i.path.join('.'))).toEqual(['entityRef']);
    },
  );
});
