import { isIP } from 'node:net';
import { normalizeHostname, normalizeMac, shortHostname, type Asset } from '@internal/plugin-runtime-risk-common';
import type { IdentifierKind } from '../store/types';

/** One host identifier: what kind of value it is and the normalized value. */
export interface HostIdentifier {
  kind: IdentifierKind;
  value: string;
}

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
 * The identifiers a signal's (normalized) asset is indexed under. Hostnames are
 * indexed by their short name and, when known, by their full FQDN.
 */
export function assetIdentifiers(asset: Asset): HostIdentifier[] {
  const ids: HostIdentifier[] = [];
  if (asset.hostname) {
    const h = normalizeHostname(asset.hostname);
    ids.push({ kind: 'hostname', value: isIP(h) ? h : shortHostname(h) });
    if (h.includes('.') && !isIP(h)) ids.push({ kind: 'fqdn', value: h });
  }
  if (asset.fqdn) {
    const f = normalizeHostname(asset.fqdn);
    ids.push({ kind: 'fqdn', value: f });
    if (!isIP(f)) ids.push({ kind: 'hostname', value: shortHostname(f) });
  }
  if (asset.deviceId) ids.push({ kind: 'device_id', value: asset.deviceId.trim().toLowerCase() });
  if (asset.instanceId) ids.push({ kind: 'instance_id', value: asset.instanceId.trim().toLowerCase() });
  for (const ip of asset.ips ?? []) ids.push({ kind: 'ip', value: ip.trim().toLowerCase() });
  for (const mac of asset.macs ?? []) {
    const m = normalizeMac(mac);
    if (m) ids.push({ kind: 'mac', value: m });
  }
  return dedupe(ids);
}

/**
 * What a host value written in the catalog (an annotation entry) may match in
 * signal assets. A hostname matches exactly (lower-cased) a signal's short
 * hostname or its FQDN; never by prefix (`web-01` does not match `web-010`).
 * An IP matches exactly; a MAC in any of its forms matches the normalized MAC;
 * any other value may also be an EDR device id or a cloud instance id.
 */
export function candidateIdentifiers(hostValue: string): HostIdentifier[] {
  const v = hostValue.trim().toLowerCase();
  if (!v) return [];
  if (isIP(v)) return [{ kind: 'ip', value: v }];
  const ids: HostIdentifier[] = [];
  const mac = normalizeMac(v);
  if (mac) ids.push({ kind: 'mac', value: mac });
  const h = normalizeHostname(v);
  ids.push({ kind: 'hostname', value: h }, { kind: 'fqdn', value: h });
  ids.push({ kind: 'device_id', value: v }, { kind: 'instance_id', value: v });
  return dedupe(ids);
}

/** True if a signal identifier is one of the candidates of a host value. */
export function identifierMatches(candidates: HostIdentifier[], id: HostIdentifier): boolean {
  return candidates.some(c => c.kind === id.kind && c.value === id.value);
}
