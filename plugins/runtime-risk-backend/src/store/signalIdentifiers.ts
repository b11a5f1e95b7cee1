import { isIP } from 'node:net';
import { normalizeHostname, normalizeMac, shortHostname, type Asset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { IdentifierKind } from './types';

/*
 * The identifiers a signal is indexed under (`runtime_risk_signal_identifiers`,
 * looked up by `SignalStore.findSignalsByIdentifiers`): written with the signal
 * in `commitBatch`. What a catalog host value matches among them is
 * correlation's (`correlate/identifiers.ts`, which re-exports these).
 */

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

/** The identifiers without empty values and repeats, in order. */
export function dedupeIdentifiers(ids: HostIdentifier[]): HostIdentifier[] {
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
  return dedupeIdentifiers(ids);
}
