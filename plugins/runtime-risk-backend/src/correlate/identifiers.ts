import { BlockList, isIP } from 'node:net';
import { normalizeHostname, normalizeMac } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import {
  POD_PREFIX,
  dedupeIdentifiers,
  normalizeIp,
  type HostIdentifier,
} from '../store/signalIdentifiers';

// What signals are indexed under is the store's (written with each signal); the
// rules of what a catalog host value matches are here.
export {
  POD_PREFIX,
  assetIdentifiers,
  normalizeIp,
  podHostValue,
  type HostIdentifier,
  type HostIdentifierKind,
} from '../store/signalIdentifiers';

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
  return dedupeIdentifiers(ids);
}

/** True if a signal identifier is one of the candidates of a host value. */
export function identifierMatches(candidates: HostIdentifier[], id: { kind: string; value: string }): boolean {
  return candidates.some(c => c.kind === id.kind && c.value === id.value);
}
