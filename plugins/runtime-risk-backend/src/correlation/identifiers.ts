import { BlockList, isIP } from 'node:net';
import { normalizeHostname, normalizeMac, shortHostname, type Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { IdentifierKind } from '../store/types';

/**
 * Kinds of host identifiers: the store's kinds plus `pod` (a Kubernetes pod,
 * value `<cluster>/<namespace>/<pod>`, lower-cased; empty parts stay empty).
 */
export type HostIdentifierKind = IdentifierKind | 'pod';

/** One host identifier: what kind of value it is and the normalized value. */
export interface HostIdentifier {
  kind: HostIdentifierKind;
  value: string;
}

/** Prefix of a host value that names a Kubernetes pod: `pod:<cluster>/<namespace>/<pod>`. */
export const POD_PREFIX = 'pod:';

function dedupe(ids: HostIdentifier[]): HostIdentifier[] {
  const seen = new Set<string>();
  return ids.filter(i => {
    const key = `${i.kind}\u0000${i.value}`;
    if (!i.value || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Canonical text of an IP address: IPv4 as is, IPv6 lower-cased and
 * compressed (`2001:0DB8:0:0:0:0:0:1` -> `2001:db8::1`). Undefined when the
 * value is not an IP address.
 */
export function normalizeIp(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  const family = isIP(v);
  if (family === 4) return v;
  if (family === 6) {
    try {
      return new URL(`http://[${v}]`).hostname.slice(1, -1);
    } catch (e) {
      // isIP accepted it; a zone id (`fe80::1%eth0`) is not valid in a URL: keep it as written
      return v;
    }
  }
  return undefined;
}

/** A parsed CIDR block (`10.0.3.0/24`, `2001:db8::/32`). */
export interface Cidr {
  text: string;
  family: 'ipv4' | 'ipv6';
  network: string;
  prefix: number;
}

/** Parses `address/prefix`; undefined when it is not a CIDR block. */
export function parseCidr(value: string): Cidr | undefined {
  const v = value.trim().toLowerCase();
  const slash = v.indexOf('/');
  if (slash < 0) return undefined;
  const network = normalizeIp(v.slice(0, slash));
  const bits = v.slice(slash + 1);
  if (!network || !/^\d{1,3}$/.test(bits)) return undefined;
  const family = isIP(network) === 4 ? 'ipv4' : 'ipv6';
  const prefix = Number(bits);
  if (prefix > (family === 'ipv4' ? 32 : 128)) return undefined;
  return { text: `${network}/${prefix}`, family, network, prefix };
}

/** A set of CIDR blocks that answers whether an IP lies in one of them (numeric, never by string prefix). */
export class CidrSet {
  private readonly list = new BlockList();
  private size = 0;

  add(cidr: Cidr): this {
    this.list.addSubnet(cidr.network, cidr.prefix, cidr.family);
    this.size += 1;
    return this;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  has(ip: string): boolean {
    const n = normalizeIp(ip);
    if (!n || this.size === 0) return false;
    return this.list.check(n, isIP(n) === 4 ? 'ipv4' : 'ipv6');
  }
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/**
 * Known IPs, searchable by CIDR block: IPv4 sorted numerically (a block is a
 * binary search for its range), IPv6 checked one by one.
 */
export class IpIndex {
  private readonly v4: { n: number; ip: string }[];
  private readonly v6: string[];

  constructor(ips: Iterable<string>) {
    const v4: { n: number; ip: string }[] = [];
    const v6: string[] = [];
    for (const raw of ips) {
      const ip = normalizeIp(raw);
      if (!ip) continue;
      if (isIP(ip) === 4) v4.push({ n: ipv4ToNumber(ip), ip });
      else v6.push(ip);
    }
    this.v4 = v4.sort((a, b) => a.n - b.n);
    this.v6 = v6;
  }

  /** The known IPs inside the block. */
  within(cidr: Cidr): string[] {
    if (cidr.family === 'ipv6') {
      const set = new CidrSet().add(cidr);
      return this.v6.filter(ip => set.has(ip));
    }
    const size = 2 ** (32 - cidr.prefix);
    const start = Math.floor(ipv4ToNumber(cidr.network) / size) * size;
    const end = start + size;
    let lo = 0;
    let hi = this.v4.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.v4[mid].n < start) lo = mid + 1;
      else hi = mid;
    }
    const out: string[] = [];
    for (let i = lo; i < this.v4.length && this.v4[i].n < end; i++) out.push(this.v4[i].ip);
    return out;
  }
}

/** True if `ip` lies in `cidr`. */
export function ipInCidr(ip: string, cidr: Cidr): boolean {
  return new CidrSet().add(cidr).has(ip);
}

/** The `pod:` host value of a Kubernetes pod. */
export function podHostValue(k8s: { cluster?: string; namespace?: string; pod?: string }): string | undefined {
  if (!k8s.pod) return undefined;
  const part = (s: string | undefined) => (s ?? '').trim().toLowerCase();
  return `${POD_PREFIX}${part(k8s.cluster)}/${part(k8s.namespace)}/${part(k8s.pod)}`;
}

/**
 * The identifiers a signal's (normalized) asset is indexed under. Hostnames are
 * indexed by their short name and, when known, by their full FQDN; a
 * Kubernetes pod by `<cluster>/<namespace>/<pod>`.
 */
export function assetIdentifiers(asset: Asset): HostIdentifier[] {
  const ids: HostIdentifier[] = [];
  if (asset.hostname) {
    const h = normalizeHostname(asset.hostname);
    const ip = normalizeIp(h);
    ids.push({ kind: 'hostname', value: ip ?? shortHostname(h) });
    // an EDR reporting the IP as the host's name: it is also that IP
    if (ip) ids.push({ kind: 'ip', value: ip });
    if (h.includes('.') && !ip) ids.push({ kind: 'fqdn', value: h });
  }
  if (asset.fqdn) {
    const f = normalizeHostname(asset.fqdn);
    ids.push({ kind: 'fqdn', value: f });
    if (!isIP(f)) ids.push({ kind: 'hostname', value: shortHostname(f) });
  }
  if (asset.deviceId) ids.push({ kind: 'device_id', value: asset.deviceId.trim().toLowerCase() });
  if (asset.instanceId) ids.push({ kind: 'instance_id', value: asset.instanceId.trim().toLowerCase() });
  for (const ip of asset.ips ?? []) ids.push({ kind: 'ip', value: normalizeIp(ip) ?? ip.trim().toLowerCase() });
  for (const mac of asset.macs ?? []) {
    const m = normalizeMac(mac);
    if (m) ids.push({ kind: 'mac', value: m });
  }
  const pod = asset.k8s ? podHostValue(asset.k8s) : undefined;
  if (pod) ids.push({ kind: 'pod', value: pod.slice(POD_PREFIX.length) });
  return dedupe(ids);
}

/**
 * What a host value written in the catalog (an annotation entry) may match in
 * signal assets. A hostname matches exactly (lower-cased) a signal's short
 * hostname or its FQDN; never by prefix (`web-01` does not match `web-010`).
 * An IP matches exactly (IPv6 in canonical form); a MAC in any of its forms
 * matches the normalized MAC; `pod:<cluster>/<namespace>/<pod>` matches that
 * pod; any other value may also be an EDR device id or a cloud instance id.
 * A CIDR block matches nothing by itself: the index resolves it to the IPs of
 * known assets inside it (see `resolve.ts`).
 */
export function candidateIdentifiers(hostValue: string): HostIdentifier[] {
  const v = hostValue.trim().toLowerCase();
  if (!v) return [];
  const ip = normalizeIp(v);
  if (ip) return [{ kind: 'ip', value: ip }];
  if (parseCidr(v)) return [];
  if (v.startsWith(POD_PREFIX)) return [{ kind: 'pod', value: v.slice(POD_PREFIX.length) }];
  const ids: HostIdentifier[] = [];
  const mac = normalizeMac(v);
  if (mac) ids.push({ kind: 'mac', value: mac });
  const h = normalizeHostname(v);
  ids.push({ kind: 'hostname', value: h }, { kind: 'fqdn', value: h });
  ids.push({ kind: 'device_id', value: v }, { kind: 'instance_id', value: v });
  return dedupe(ids);
}

/** True if a signal identifier is one of the candidates of a host value. */
export function identifierMatches(candidates: HostIdentifier[], id: { kind: string; value: string }): boolean {
  return candidates.some(c => c.kind === id.kind && c.value === id.value);
}
