import { z } from 'zod';
import { MAX_DEVICE_QUERY_LIMIT, listFalconHosts, scrollDeviceIds } from './hostInventory';
import { indicatorsOf, type Asset, type SignalInput, type SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import {
  ClientCredentialsTokenProvider,
  HttpPullSource,
  SourceHttpError,
  hostRecords,
  chunk,
  compact,
  epochSecondsHeader,
  firstRetryAfter,
  mergeAssets,
  normalizeRecords,
  parseTimeWindowCursor,
  parseLabels,
  retryAfterHeader,
  severityFromScore,
  walkTimeWindow,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type {
  HostInventoryFetchOptions,
  HostInventoryFetchResult,
  HttpPullSourceOptions,
  SignalSourceFetchOptions,
  SignalSourceFetchResult,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** Falcon cloud regions and their API base URLs. */
export const CROWDSTRIKE_REGIONS = {
  'us-1': 'https://api.crowdstrike.com',
  'us-2': 'https://api.us-2.crowdstrike.com',
  'eu-1': 'https://api.eu-1.crowdstrike.com',
  'us-gov-1': 'https://api.laggar.gcw.crowdstrike.com',
} as const;

export interface CrowdStrikeSourceOptions extends HttpPullSourceOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Child CID for Flight Control parents. */
  memberCid?: string;
  /** Extra FQL ANDed to the alert filter (e.g. `product:'epp'`). */
  filter?: string;
  /** Also sync the Hosts API inventory (devices modified since the cursor); default true. */
  inventory?: boolean;
  /** Wall clock giving each walk its upper bound (`updated_timestamp:<'<walk start>'`); default `Date.now`. */
  now?: () => number;
}

const str = z.string().nullish();

const DeviceSchema = z.object({
  device_id: z.string().min(1),
  hostname: str,
  machine_domain: str,
  local_ip: str,
  external_ip: str,
  mac_address: str,
  instance_id: str,
  service_provider: str,
  service_provider_account_id: str,
  zone_group: str,
  pod_name: str,
  pod_namespace: str,
  pod_labels: z.unknown().optional(),
  k8s_cluster_id: str,
  last_seen: str,
});
type Device = z.infer<typeof DeviceSchema>;

const MitreSchema = z.object({ tactic: str, tactic_id: str, technique: str, technique_id: str });

const AlertSchema = z.object({
  composite_id: z.string().min(1),
  severity: z.number().min(0).max(100),
  confidence: z.number().min(0).max(100).nullish(),
  status: z.string(),
  display_name: str,
  name: str,
  description: str,
  tactic: str,
  technique_id: str,
  mitre_attack: z.array(MitreSchema).nullish(),
  created_timestamp: z.string(),
  updated_timestamp: z.string(),
  falcon_host_link: str,
  device: DeviceSchema.nullish(),
  // the file and process of the detection (EPP alerts): for counting one incident once
  sha256: str,
  filepath: str,
  filename: str,
  cmdline: str,
});
type Alert = z.infer<typeof AlertSchema>;

const EntitiesResponse = z.object({ resources: z.array(z.unknown()).nullish() });
const CombinedResponse = z.object({
  resources: z.array(z.unknown()).nullish(),
  meta: z.object({ pagination: z.object({ after: z.string().nullish() }).nullish() }).nullish(),
});

/** Alerts per page of `POST /alerts/combined/alerts/v1` (the API's maximum). */
const MAX_COMBINED_LIMIT = 1000;

/** Composite ids per `POST /alerts/entities/alerts/v2`. */
const MAX_ALERT_IDS = 1000;
/** Device ids per `POST /devices/entities/devices/v2` (the API's maximum; the GET variant takes 100). */
const MAX_DEVICE_IDS = 5000;
/** Entity requests of one fetch in flight at a time (Falcon allows 6,000 requests a minute per client). */
const ENTITY_REQUESTS_IN_FLIGHT = 4;

/** `fn` over `items` with at most `limit` calls pending; results in item order; the first failure rejects. */
async function mapConcurrent<X, Y>(items: X[], limit: number, fn: (item: X) => Promise<Y>): Promise<Y[]> {
  const out: Y[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Alert status: new / in_progress / reopened are active, closed is resolved (unknown stays active). */
export function crowdStrikeStatus(status: string): SignalStatus {
  return status === 'closed' ? 'resolved' : 'active';
}

/** The asset a Falcon device record describes. */
export function crowdStrikeAsset(d: Device): Asset {
  const hostname = d.hostname ?? undefined;
  const labels = parseLabels(d.pod_labels);
  const k8s =
    d.pod_name || d.pod_namespace || d.k8s_cluster_id || labels
      ? {
          pod: d.pod_name ?? undefined,
          namespace: d.pod_namespace ?? undefined,
          cluster: d.k8s_cluster_id ?? undefined,
          labels,
        }
      : undefined;
  return {
    deviceId: d.device_id,
    hostname,
    fqdn: hostname && d.machine_domain && !hostname.includes('.') ? `${hostname}.${d.machine_domain}` : undefined,
    instanceId: d.instance_id ?? undefined,
    ips: compact([d.local_ip, d.external_ip]),
    macs: compact([d.mac_address]),
    cloud: d.service_provider
      ? { provider: d.service_provider, accountId: d.service_provider_account_id ?? undefined, region: d.zone_group ?? undefined }
      : undefined,
    k8s,
  };
}

/** Maps one Alerts v2 record to a signal input. */
export function crowdStrikeSignal(raw: unknown, devices: Map<string, Device>): SignalInput {
  const a: Alert = AlertSchema.parse(raw);
  const mitre = a.mitre_attack ?? [];
  const own = a.device ? crowdStrikeAsset(a.device) : { ips: [], macs: [] };
  const inventory = a.device ? devices.get(a.device.device_id) : undefined;
  return {
    sourceId: a.composite_id,
    kind: 'detection',
    severity: severityFromScore(a.severity),
    confidence: a.confidence === null || a.confidence === undefined ? 1 : a.confidence / 100,
    status: crowdStrikeStatus(a.status),
    title: a.display_name || a.name || a.description || `CrowdStrike alert ${a.composite_id}`,
    description: a.description ?? undefined,
    tactics: compact(mitre.length ? mitre.map(m => m.tactic) : [a.tactic]),
    techniques: compact(mitre.length ? mitre.map(m => m.technique_id) : [a.technique_id]),
    asset: mergeAssets(own, inventory ? crowdStrikeAsset(inventory) : undefined),
    indicators: indicatorsOf({ sha256: a.sha256, filePath: a.filepath, processName: a.filename, commandLine: a.cmdline }),
    firstSeenAt: a.created_timestamp,
    lastSeenAt: a.updated_timestamp,
    url: a.falcon_host_link ?? undefined,
    raw,
  };
}

function updatedTimestamp(raw: unknown): string | undefined {
  const v = (raw as { updated_timestamp?: unknown } | null)?.updated_timestamp;
  return typeof v === 'string' ? v : undefined;
}

/**
 * CrowdStrike Falcon: OAuth2 client credentials, the Alerts API (`POST
 * /alerts/combined/alerts/v1` by `updated_timestamp` ascending with `after`
 * paging) and the Hosts API for inventory. 429s honour `X-Ratelimit-RetryAfter` (epoch seconds).
 */
export class CrowdStrikeSignalSource extends HttpPullSource<CrowdStrikeSourceOptions> {
  constructor(options: CrowdStrikeSourceOptions) {
    // `inventory: false` also turns the host inventory sync off
    super(options.inventory === false ? { ...options, hostInventory: { ...options.hostInventory, enabled: false } } : options, {
      type: 'crowdstrike',
      retryAfter: firstRetryAfter(epochSecondsHeader('x-ratelimit-retryafter'), retryAfterHeader()),
      probe: { path: '/alerts/queries/alerts/v2', query: { limit: 1 } },
      connect: shared => ({
        baseUrl: options.baseUrl,
        secrets: [options.clientSecret],
        auth: new ClientCredentialsTokenProvider({
          ...shared,
          tokenUrl: `${options.baseUrl}/oauth2/token`,
          clientId: options.clientId,
          clientSecret: options.clientSecret,
          sendGrantType: false,
          extraParams: options.memberCid ? { member_cid: options.memberCid } : undefined,
        }),
      }),
    });
  }

  private get pageSize() {
    return this.opts.pageSize ?? 500;
  }

  /**
   * Ids of the devices modified after `since` (every device without it): the
   * devices-scroll query with FQL `modified_timestamp:>'<since>'`, read to its
   * empty page in one call (`scrollDeviceIds`), so more than 10,000 modified
   * devices are all listed (the offset-paged devices query refuses `offset +
   * limit` above 10,000). Pages of `hostInventory.pageSize`, else `pageSize`, at most 5,000.
   */
  private modifiedDeviceIds(since: string | null, signal?: AbortSignal) {
    return scrollDeviceIds({
      http: this.http,
      sourceId: this.id,
      filter: since ? `modified_timestamp:>'${since}'` : undefined,
      sort: 'modified_timestamp.asc',
      limit: this.inventoryPageSize(this.pageSize, MAX_DEVICE_QUERY_LIMIT),
      signal,
    });
  }

  /**
   * Entities by id, in id order: chunks of the most ids one request takes (alerts
   * 1,000; `POST /devices/entities/devices/v2` 5,000), up to
   * {@link ENTITY_REQUESTS_IN_FLIGHT} requests at a time.
   */
  private async entities(path: string, key: 'composite_ids' | 'ids', ids: string[], signal?: AbortSignal) {
    const parts = chunk([...new Set(ids)], key === 'ids' ? MAX_DEVICE_IDS : MAX_ALERT_IDS);
    const pages = await mapConcurrent(parts, ENTITY_REQUESTS_IN_FLIGHT, async part => {
      const body = await this.http.post(path, { [key]: part }, EntitiesResponse.parse, signal);
      return body.resources ?? [];
    });
    return pages.flat();
  }

  /** Device details; a 404 (ids unknown to the Hosts API) leaves the alerts' own device fields. */
  private async deviceDetails(ids: string[], logger: SignalSourceFetchOptions['logger'], signal?: AbortSignal) {
    if (!ids.length) return [];
    try {
      return await this.entities('/devices/entities/devices/v2', 'ids', ids, signal);
    } catch (e) {
      if (!(e instanceof SourceHttpError) || e.status !== 404) throw e;
      logger.warn(`Source ${this.id}: device details not found (${e.vendorMessage ?? 'HTTP 404'}); using the alerts' device fields`);
      return [];
    }
  }

  /** The vendor host inventory: every device of the Hosts API (`hostInventory.ts`). */
  protected listHosts(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> {
    return listFalconHosts({
      ...options,
      sourceId: this.id,
      http: this.http,
      pageSize: this.inventoryPageSize(this.opts.pageSize ?? 500, MAX_DEVICE_QUERY_LIMIT),
      maxPages: this.inventoryMaxPages(this.opts.maxPages ?? 10),
      now: this.opts.now,
      details: ids => this.deviceDetails(ids, options.logger, options.signal),
      toHost: raw => {
        const d = DeviceSchema.parse(raw);
        return { sourceId: d.device_id, asset: crowdStrikeAsset(d), lastSeenAt: d.last_seen };
      },
    });
  }

  /**
   * One batch of a walk over the alerts updated in `[since, walk start)`:
   * `POST /alerts/combined/alerts/v1` (entities, not ids) with FQL
   * `updated_timestamp:>='<since>'+updated_timestamp:<'<until>'` (re-serialised),
   * sorted ascending, following the `after` token while present: no
   * `offset + limit` ceiling (the queries endpoint stops at 10,000). A walk cut by
   * `maxPages` returns a JSON cursor with its `after` token; a token the API no
   * longer accepts (HTTP 400) goes on from the newest `updated_timestamp` read.
   */
  async fetch({ cursor, logger, signal }: SignalSourceFetchOptions): Promise<SignalSourceFetchResult> {
    const startsWalk = !parseTimeWindowCursor(cursor).walk;
    const walked = await walkTimeWindow<unknown>({
      cursor,
      maxPages: this.opts.maxPages ?? 10,
      end: 'continuation',
      now: this.opts.now,
      timestampOf: updatedTimestamp,
      staleContinuation: { test: e => e instanceof SourceHttpError && e.status === 400, resume: 'newest' },
      fetchPage: async page => {
        const window = [page.since ? `updated_timestamp:>='${page.since}'` : undefined, `updated_timestamp:<'${page.until}'`];
        const body = await this.http.post(
          '/alerts/combined/alerts/v1',
          {
            filter: [...window, this.opts.filter].filter(Boolean).join('+'),
            sort: 'updated_timestamp.asc',
            limit: Math.min(this.pageSize, MAX_COMBINED_LIMIT),
            ...(page.next ? { after: page.next } : {}),
          },
          CombinedResponse.parse,
          signal,
        );
        return { items: body.resources ?? [], next: body.meta?.pagination?.after };
      },
    });
    const alerts = walked.items;

    const deviceIds = alerts
      .map(a => (a as { device?: { device_id?: unknown } } | null)?.device?.device_id)
      .filter((d): d is string => typeof d === 'string');
    // the devices modified after the walk's lower bound, once per walk: with the batch that
    // starts it (listed after the walk's upper bound was fixed; the next walk starts at or
    // before that bound, so no modification falls between two listings; later batches of a
    // walk cut by maxPages do not list them again)
    if (this.opts.inventory !== false && startsWalk) {
      deviceIds.push(...(await this.modifiedDeviceIds(walked.since, signal)));
    }
    const devices = new Map<string, Device>();
    for (const raw of await this.deviceDetails(deviceIds, logger, signal)) {
      const d = DeviceSchema.safeParse(raw);
      if (d.success) devices.set(d.data.device_id, d.data);
      else logger.warn(`Source ${this.id}: skipped a device record: ${d.error.issues[0]?.message}`);
    }

    const { signals, rejected } = normalizeRecords(alerts, r => crowdStrikeSignal(r, devices), {
      sourceId: this.id,
      logger,
      idOf: r => (r as { composite_id?: string } | null)?.composite_id,
    });
    return {
      signals,
      rejected,
      hosts: hostRecords(devices.values(), d => ({ sourceId: d.device_id, asset: crowdStrikeAsset(d), lastSeenAt: d.last_seen })),
      cursor: walked.cursor,
      hasMore: walked.hasMore,
    };
  }
}
