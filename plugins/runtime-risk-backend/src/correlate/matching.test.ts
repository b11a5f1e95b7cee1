import { normalizeAsset, type Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { IpIndex, assetIdentifiers, candidateIdentifiers, identifierMatches, ipInCidr, normalizeIp, parseCidr } from './identifiers';
import { formatSelector, parseLabelSelector, selectorMatches } from './kubernetes';

function asset(a: Partial<Asset>): Asset {
  return normalizeAsset({ ips: [], macs: [], ...a });
}

/** True if a host value written in the catalog matches the asset a signal reports. */
function matches(hostValue: string, a: Partial<Asset>): boolean {
  const candidates = candidateIdentifiers(hostValue);
  return assetIdentifiers(asset(a)).some(id => identifierMatches(candidates, id));
}

describe('identity forms', () => {
  describe.each<[string, [string, Partial<Asset>, boolean][]]>([
    [
      'hostname: short and FQDN, case-insensitive, never prefix',
      [
        ['ip-10-0-3-17', { hostname: 'ip-10-0-3-17' }, true],
        ['IP-10-0-3-17', { hostname: 'ip-10-0-3-17.ec2.internal' }, true],
        ['ip-10-0-3-17.ec2.internal', { hostname: 'IP-10-0-3-17' }, false],
        ['ip-10-0-3-17.EC2.internal.', { fqdn: 'ip-10-0-3-17.ec2.internal' }, true],
        ['ip-10-0-3-1', { hostname: 'ip-10-0-3-17' }, false],
        ['ip-10-0-3-17', { hostname: 'ip-10-0-3-1' }, false],
        ['ip-10-0-3', { fqdn: 'ip-10-0-3.ec2.internal' }, true],
        ['ip-10-0-3.ec2', { fqdn: 'ip-10-0-3.ec2.internal' }, false],
        ['ec2.internal', { fqdn: 'ip-10-0-3.ec2.internal' }, false],
      ],
    ],
    [
      'EDR device id (per source, lower-cased exact)',
      [
        ['5f1c9e0a2b7d4c3e', { deviceId: '5F1C9E0A2B7D4C3E' }, true],
        ['5f1c9e0a2b7d4c3', { deviceId: '5f1c9e0a2b7d4c3e' }, false],
        ['5f1c9e0a2b7d4c3e', { instanceId: 'i-5f1c9e0a2b7d4c3e' }, false],
      ],
    ],
    [
      'cloud instance id',
      [
        ['i-0123456789abcdef0', { instanceId: 'i-0123456789ABCDEF0' }, true],
        ['i-0123456789abcdef', { instanceId: 'i-0123456789abcdef0' }, false],
        ['/subscriptions/s/vm-1', { instanceId: '/subscriptions/S/vm-1' }, true],
      ],
    ],
    [
      'IP exact, IPv4 and IPv6, never by string prefix',
      [
        ['10.0.3.17', { ips: ['10.0.3.17'] }, true],
        ['10.0.3.1', { ips: ['10.0.3.17'] }, false],
        ['10.0.3.17', { ips: ['10.0.3.170'] }, false],
        ['10.0.3.17', { hostname: '10.0.3.17' }, true],
        ['2001:db8::1', { ips: ['2001:0DB8:0000:0000:0000:0000:0000:0001'] }, true],
        ['2001:DB8:0:0::1', { ips: ['2001:db8::1'] }, true],
        ['2001:db8::1', { ips: ['2001:db8::10'] }, false],
        ['10.0.3.0/24', { ips: ['10.0.3.17'] }, false],
      ],
    ],
    [
      'MAC across dash, colon, dotted and bare forms',
      [
        ['02-42-AC-11-00-02', { macs: ['02:42:ac:11:00:02'] }, true],
        ['02:42:ac:11:00:02', { macs: ['0242.AC11.0002'] }, true],
        ['0242.ac11.0002', { macs: ['0242ac110002'] }, true],
        ['0242AC110002', { macs: ['02-42-ac-11-00-02'] }, true],
        ['02:42:ac:11:00:03', { macs: ['02:42:ac:11:00:02'] }, false],
        ['02:42:ac:11:00', { macs: ['02:42:ac:11:00:02'] }, false],
      ],
    ],
    [
      'Kubernetes pod (cluster/namespace/pod)',
      [
        ['pod:prod-eu/shop/pay-7d9f-x2', { k8s: { cluster: 'Prod-EU', namespace: 'shop', pod: 'pay-7d9f-x2' } }, true],
        ['pod:prod-eu/shop/pay-7d9f-x2', { k8s: { cluster: 'staging', namespace: 'shop', pod: 'pay-7d9f-x2' } }, false],
        ['pod:prod-eu/shop/pay-7d9f', { k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'pay-7d9f-x2' } }, false],
        ['pay-7d9f-x2', { k8s: { cluster: 'prod-eu', namespace: 'shop', pod: 'pay-7d9f-x2' } }, false],
      ],
    ],
  ])('%s', (_form, cases) => {
    it.each(cases)('%s vs %j -> %s', (hostValue, a, expected) => {
      expect(matches(hostValue, a)).toBe(expected);
    });
  });

  it.each<[string, string, boolean]>([
    ['10.0.3.17', '10.0.3.0/24', true],
    ['10.0.3.255', '10.0.3.0/24', true],
    ['10.0.4.1', '10.0.3.0/24', false],
    ['10.0.30.1', '10.0.3.0/24', false],
    ['10.0.3.17', '10.0.3.17/32', true],
    ['10.0.3.18', '10.0.3.17/32', false],
    ['192.168.1.1', '0.0.0.0/0', true],
    ['2001:db8:1::5', '2001:db8::/32', true],
    ['2001:db9::5', '2001:db8::/32', false],
    ['10.0.3.17', '2001:db8::/32', false],
    ['not-an-ip', '10.0.0.0/8', false],
  ])('IP %s in CIDR %s -> %s', (ip, cidr, expected) => {
    const parsed = parseCidr(cidr);
    expect(parsed).toBeDefined();
    expect(ipInCidr(ip, parsed!)).toBe(expected);
    // the index search agrees with the direct check, among neighbours
    const index = new IpIndex([ip, '10.0.2.255', '10.0.4.0', '2001:db7::1', '255.255.255.255']);
    expect(index.within(parsed!).includes(normalizeIp(ip) ?? ip)).toBe(expected);
  });

  it.each(['10.0.3.0', '10.0.3.0/33', '10.0.3/24', 'web-01/24', '2001:db8::/129', '10.0.3.0/'])('%s is not a CIDR', text => {
    expect(parseCidr(text)).toBeUndefined();
  });

  it('finds exactly the known IPs inside a block', () => {
    const index = new IpIndex(['10.0.3.0', '10.0.3.255', '10.0.2.255', '10.0.4.0', '10.0.3.17', 'x', '2001:db8::9']);
    expect(index.within(parseCidr('10.0.3.0/24')!).sort()).toEqual(['10.0.3.0', '10.0.3.17', '10.0.3.255']);
    expect(index.within(parseCidr('10.0.3.5/24')!).sort()).toEqual(['10.0.3.0', '10.0.3.17', '10.0.3.255']);
    expect(index.within(parseCidr('0.0.0.0/0')!)).toHaveLength(5);
    expect(index.within(parseCidr('2001:db8::/64')!)).toEqual(['2001:db8::9']);
  });

  it('normalizes IPs and refuses non-IPs', () => {
    expect(normalizeIp(' 2001:DB8:0:0:0:0:0:1 ')).toBe('2001:db8::1');
    expect(normalizeIp('10.0.0.1')).toBe('10.0.0.1');
    expect(normalizeIp('10.0.0.256')).toBeUndefined();
    expect(normalizeIp('web-01')).toBeUndefined();
  });
});

describe('label selectors', () => {
  const labels = { app: 'pay', tier: 'backend', 'backstage.io/kubernetes-id': 'payments', track: '' };
  it.each<[string, boolean]>([
    ['app=pay', true],
    ['app==pay', true],
    ['app=checkout', false],
    ['app!=checkout', true],
    ['app!=pay', false],
    ['missing!=x', true],
    ['app in (pay, checkout)', true],
    ['app in (checkout,cart)', false],
    ['app notin (checkout,cart)', true],
    ['app notin (pay)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['tier', true],
    ['missing', false],
    ['!missing', true],
    ['!tier', false],
    ['track=', true],
    ['app=pay,tier=backend', true],
    ['app=pay,tier=frontend', false],
    ['app in (pay,x),!canary,tier', true],
    ['backstage.io/kubernetes-id=payments', true],
    ['backstage.io/kubernetes-id=pay', false],
  ])('%s -> %s', (selector, expected) => {
    expect(selectorMatches(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it.each(['', 'app in (pay', 'app=pay)', '=pay', 'app=pay,', 'a b c', 'app in pay'])('refuses %j', text => {
    expect(() => parseLabelSelector(text)).toThrow();
  });

  it('formats a selector canonically', () => {
    expect(formatSelector(parseLabelSelector('app==pay, tier notin (a,b),!x,y'))).toBe('app in (pay),tier notin (a,b),!x,y');
  });
});
