import { z } from 'zod';
import { listSentinelOneAgents } from './hostInventory';
import { indicatorsOf, type Asset, type Severity, type SignalInput, type SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import {
  HttpPullSource,
  SourceHttpError,
  chunk,
  hostRecords,
  compact,
  walkTimeWindow,
  mergeAssets,
  normalizeRecords,
  parseLabels,
  retryAfterHeader,
  staticHeaderAuth,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type {
  HostInventoryFetchOptions,
  HostInventoryFetchResult,
  HttpPullSourceOptions,
  SignalSourceFetchOptions,
  SignalSourceFetchResult,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** The management API path appended to the console root. */
export const SENTINELONE_API_PATH = '/web/api/v2.1';

/** `https://<tenant>.sentinelone.net` -> `https://<tenant>.sentinelone.net/web/api/v2.1` (unless already there). */
export function sentinelOneApiUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return trimmed.endsWith(SENTINELONE_API_PATH) ? trimmed : `${trimmed}${SENTINELONE_API_PATH}`;
}

export interface SentinelOneSourceOptions extends HttpPullSourceOptions {
  /** Console root (`https://<tenant>.sentinelone.net`), or the API URL ending in `/web/api/v2.1`. */
  baseUrl: string;
  apiToken: string;
  /** Restrict to these accounts / sites. */
  accountIds?: string[];
  siteIds?: string[];
  /** Look up `/agents` for network interfaces; default true. */
  agents?: boolean;
  /** Wall clock giving each walk its upper bound (`updatedAt__lt=<walk start>`); default `Date.now`. */
  now?: () => number;
}

const str = z.string().nullish();
const InterfacesSchema = z.array(z.object({ inet: z.array(z.string()).nullish(), inet6: z.array(z.string()).nullish(), physical: str })).nullish();
const CloudProvidersSchema = z.record(z.string(), z.record(z.string(), z.unknown())).nullish();

const ThreatSchema = z.object({
  id: z.string().min(1),
  updatedAt: str,
  createdAt: str,
  threatInfo: z.object({
    threatName: str,
    confidenceLevel: str,
    analystVerdict: str,
    incidentStatus: str,
    classification: str,
    createdAt: str,
    identifiedAt: str,
    updatedAt: str,
    // the file and the process of the threat: for counting one incident once
    sha256: str,
    filePath: str,
    originatorProcess: str,
    maliciousProcessArguments: str,
  }),
  agentRealtimeInfo: z.object({ agentId: str, agentComputerName: str, agentDomain: str, networkInterfaces: InterfacesSchema }).nullish(),
  agentDetectionInfo: z.object({ agentIpV4: str, agentIpV6: str, externalIp: str, agentDomain: str, cloudProviders: CloudProvidersSchema }).nullish(),
  kubernetesInfo: z.object({ cluster: str, namespace: str, node: str, pod: str, podLabels: z.unknown().optional() }).nullish(),
  indicators: z
    .array(z.object({ tactics: z.array(z.object({ name: str, techniques: z.array(z.object({ name: str })).nullish() })).nullish() }))
    .nullish(),
});

const AgentSchema = z.object({
  id: z.string(),
  computerName: str,
  domain: str,
  externalIp: str,
  lastActiveDate: str,
  networkInterfaces: InterfacesSchema,
  cloudProviders: CloudProvidersSchema,
});
type Agent = z.infer<typeof AgentSchema>;

const ListResponse = z.object({
  data: z.array(z.unknown()),
  pagination: z.object({ nextCursor: str, totalItems: z.number().nullish() }).nullish(),
});

/** confidenceLevel -> severity and confidence: malicious high 0.9, suspicious medium 0.6, otherwise low 0.3. */
export function sentinelOneRating(confidenceLevel?: string | null): { severity: Severity; confidence: number } {
  if (confidenceLevel === 'malicious') return { severity: 'high', confidence: 0.9 };
  if (confidenceLevel === 'suspicious') return { severity: 'medium', confidence: 0.6 };
  return { severity: 'low', confidence: 0.3 };
}

/** analystVerdict false_positive wins; incidentStatus resolved is resolved; else active. */
export function sentinelOneStatus(incidentStatus?: string | null, analystVerdict?: string | null): SignalStatus {
  if (analystVerdict === 'false_positive') return 'false_positive';
  return incidentStatus === 'resolved' ? 'resolved' : 'active';
}

function interfaceAddresses(interfaces: z.infer<typeof InterfacesSchema>) {
  const list = interfaces ?? [];
  return {
    ips: list.flatMap(i => [...(i.inet ?? []), ...(i.inet6 ?? [])]),
    macs: list.map(i => i.physical),
  };
}

/** The first `*InstanceId` / `*VmId` found under `cloudProviders.<provider>`. */
function cloudInstance(providers: z.infer<typeof CloudProvidersSchema>): { instanceId?: string; provider?: string } {
  for (const [provider, details] of Object.entries(providers ?? {})) {
    for (const [key, value] of Object.entries(details)) {
      if (/(instanceid|vmid)$/i.test(key) && typeof value === 'string' && value) return { instanceId: value, provider };
    }
  }
  return {};
}

/** The asset a SentinelOne agent record describes. */
export function sentinelOneAgentAsset(a: Agent): Asset {
  const { ips, macs } = interfaceAddresses(a.networkInterfaces);
  const cloud = cloudInstance(a.cloudProviders);
  return {
    deviceId: a.id,
    hostname: a.computerName ?? undefined,
    instanceId: cloud.instanceId,
    ips: compact([...ips, a.externalIp]),
    macs: compact(macs),
    cloud: cloud.provider ? { provider: cloud.provider } : undefined,
  };
}

/** Maps one `/threats` record to a signal input. */
export function sentinelOneSignal(raw: unknown, agents: Map<string, Agent>, consoleUrl?: string): SignalInput {
  const t = ThreatSchema.parse(raw);
  const info = t.threatInfo;
  const rt = t.agentRealtimeInfo;
  const det = t.agentDetectionInfo;
  const k8s = t.kubernetesInfo;
  const lastSeenAt = info.updatedAt ?? t.updatedAt;
  const firstSeenAt = info.identifiedAt ?? info.createdAt ?? t.createdAt;
  if (!lastSeenAt || !firstSeenAt) throw new Error('threatInfo.updatedAt: missing timestamps');
  const { ips, macs } = interfaceAddresses(rt?.networkInterfaces);
  const cloud = cloudInstance(det?.cloudProviders);
  const tactics = (t.indicators ?? []).flatMap(i => i.tactics ?? []);
  const agent = rt?.agentId ? agents.get(rt.agentId) : undefined;
  return {
    sourceId: t.id,
    kind: 'detection',
    ...sentinelOneRating(info.confidenceLevel),
    status: sentinelOneStatus(info.incidentStatus, info.analystVerdict),
    title: info.threatName || `SentinelOne threat ${t.id}`,
    description: info.classification ?? undefined,
    tactics: compact(tactics.map(x => x.name)),
    techniques: compact(tactics.flatMap(x => (x.techniques ?? []).map(tech => tech.name))),
    asset: mergeAssets(
      {
        deviceId: rt?.agentId ?? undefined,
        hostname: rt?.agentComputerName ?? undefined,
        instanceId: cloud.instanceId,
        ips: compact([...ips, ...(det?.agentIpV4 ?? '').split(','), ...(det?.agentIpV6 ?? '').split(','), det?.externalIp]),
        macs: compact(macs),
        cloud: cloud.provider ? { provider: cloud.provider } : undefined,
        k8s: k8s
          ? {
              cluster: k8s.cluster ?? undefined,
              namespace: k8s.namespace ?? undefined,
              node: k8s.node ?? undefined,
              pod: k8s.pod ?? undefined,
              labels: parseLabels(k8s.podLabels),
            }
          : undefined,
      },
      agent ? sentinelOneAgentAsset(agent) : undefined,
    ),
    indicators: indicatorsOf({
      sha256: info.sha256,
      filePath: info.filePath,
      processName: info.originatorProcess,
      commandLine: info.maliciousProcessArguments,
    }),
    firstSeenAt,
    lastSeenAt,
    url: consoleUrl ? `${consoleUrl}/incidents/threats/${encodeURIComponent(t.id)}/overview` : undefined,
    raw,
  };
}

function threatField(raw: unknown, key: 'id' | 'updatedAt' | 'agentId'): string | undefined {
  const r = raw as { id?: unknown; updatedAt?: unknown; threatInfo?: { updatedAt?: unknown }; agentRealtimeInfo?: { agentId?: unknown } } | null;
  const v = key === 'id' ? r?.id : key === 'agentId' ? r?.agentRealtimeInfo?.agentId : r?.threatInfo?.updatedAt ?? r?.updatedAt;
  return typeof v === 'string' ? v : undefined;
}

/**
 * SentinelOne: `Authorization: ApiToken <token>`, `GET /threats` with
 * `updatedAt__gte`/`updatedAt__lt`, `sortBy=updatedAt` and cursor paging,
 * `GET /agents` for network interfaces.
 */
export class SentinelOneSignalSource extends HttpPullSource<SentinelOneSourceOptions> {
  readonly consoleUrl: string;
  private readonly consoleRoot: string;

  constructor(options: SentinelOneSourceOptions) {
    super(options, {
      type: 'sentinelone',
      retryAfter: retryAfterHeader('retry-after'),
      probe: { path: '/threats', query: { limit: 1 } },
      connect: () => ({
        baseUrl: sentinelOneApiUrl(options.baseUrl),
        auth: staticHeaderAuth({ authorization: `ApiToken ${options.apiToken}` }),
        secrets: [options.apiToken],
      }),
    });
    this.consoleRoot = sentinelOneApiUrl(options.baseUrl).slice(0, -SENTINELONE_API_PATH.length);
    this.consoleUrl = `${this.consoleRoot}/incidents/threats/{sourceId}/overview`;
  }

  private get scope() {
    return {
      accountIds: this.opts.accountIds?.join(',') || undefined,
      siteIds: this.opts.siteIds?.join(',') || undefined,
    };
  }

  private async agents(ids: string[], signal?: AbortSignal): Promise<Map<string, Agent>> {
    const out = new Map<string, Agent>();
    for (const part of chunk([...new Set(ids)], 100)) {
      const body = await this.http.get('/agents', { ids: part.join(','), limit: part.length }, ListResponse.parse, signal);
      for (const raw of body.data) {
        const a = AgentSchema.safeParse(raw);
        if (a.success) out.set(a.data.id, a.data);
      }
    }
    return out;
  }

  /** The vendor host inventory: every agent of `GET /agents` (`hostInventory.ts`). */
  protected listHosts(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> {
    return listSentinelOneAgents({
      ...options,
      sourceId: this.id,
      http: this.http,
      scope: this.scope,
      pageSize: this.inventoryPageSize(this.opts.pageSize ?? 500, 1000),
      maxPages: this.inventoryMaxPages(this.opts.maxPages ?? 10),
      now: this.opts.now,
      toHost: raw => {
        const a = AgentSchema.parse(raw);
        return { sourceId: a.id, asset: sentinelOneAgentAsset(a), lastSeenAt: a.lastActiveDate };
      },
    });
  }

  /**
   * One batch of a walk over the threats updated in `[since, walk start)`
   * (`updatedAt__gte`/`updatedAt__lt`, re-serialised), sorted by `updatedAt`,
   * following `pagination.nextCursor` while present. A walk cut by `maxPages`
   * returns a JSON cursor holding the API's `nextCursor` with the window it
   * belongs to, so threats sharing one `updatedAt` beyond `limit` cannot stall
   * it; a `nextCursor` the API no longer accepts (HTTP 400) goes on from the
   * newest `updatedAt` read.
   */
  async fetch({ cursor, logger, signal }: SignalSourceFetchOptions): Promise<SignalSourceFetchResult> {
    const walked = await walkTimeWindow<unknown>({
      cursor,
      maxPages: this.opts.maxPages ?? 10,
      end: 'continuation',
      now: this.opts.now,
      timestampOf: t => threatField(t, 'updatedAt'),
      staleContinuation: { test: e => e instanceof SourceHttpError && e.status === 400, resume: 'newest' },
      fetchPage: async page => {
        const query = {
          ...this.scope,
          updatedAt__gte: page.since ?? undefined,
          updatedAt__lt: page.until,
          sortBy: 'updatedAt',
          sortOrder: 'asc',
          limit: this.opts.pageSize ?? 500,
          cursor: page.next,
        };
        const body = await this.http.get('/threats', query, ListResponse.parse, signal);
        return { items: body.data, next: body.pagination?.nextCursor };
      },
    });
    const agentIds = this.opts.agents === false ? [] : compact(walked.items.map(t => threatField(t, 'agentId')));
    const agents = await this.agents(agentIds, signal);
    const { signals, rejected } = normalizeRecords(walked.items, r => sentinelOneSignal(r, agents, this.consoleRoot), {
      sourceId: this.id,
      logger,
      idOf: r => threatField(r, 'id'),
    });
    return {
      signals,
      rejected,
      hosts: hostRecords(agents.values(), a => ({ sourceId: a.id, asset: sentinelOneAgentAsset(a), lastSeenAt: a.lastActiveDate })),
      cursor: walked.cursor,
      hasMore: walked.hasMore,
    };
  }
}
