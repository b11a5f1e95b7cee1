import { z } from 'zod';
import { listDefenderMachines } from './hostInventory';
import { indicatorsOf, type Asset, type Severity, type SignalInput, type SignalStatus } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import {
  ClientCredentialsTokenProvider,
  HttpPullSource,
  SourceHttpError,
  hostRecords,
  compact,
  walkTimeWindow,
  mergeAssets,
  normalizeRecords,
  retryAfterHeader,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';
import type {
  HostInventoryFetchOptions,
  HostInventoryFetchResult,
  HttpPullSourceOptions,
  SignalSourceFetchOptions,
  SignalSourceFetchResult,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';

export interface DefenderSourceOptions extends HttpPullSourceOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Default `https://api.securitycenter.microsoft.com`. */
  apiUrl: string;
  /** Default `https://login.microsoftonline.com`. */
  loginUrl: string;
  /** Look up `/api/machines/{id}` for IPs and MACs; default true. */
  machines?: boolean;
  /** Wall clock giving each walk its upper bound (`lastUpdateTime lt <walk start>`); default `Date.now`. */
  now?: () => number;
}

const str = z.string().nullish();

const AlertSchema = z.object({
  id: z.string().min(1),
  title: str,
  description: str,
  severity: z.string(),
  status: str,
  classification: str,
  machineId: str,
  computerDnsName: str,
  mitreTechniques: z.array(z.string()).nullish(),
  // `$expand=evidence`: the files and processes of the alert, for counting one incident once
  evidence: z
    .array(
      z.object({
        entityType: str,
        sha256: str,
        fileName: str,
        filePath: str,
        processCommandLine: str,
      }),
    )
    .nullish(),
  alertCreationTime: z.string(),
  firstEventTime: str,
  lastUpdateTime: z.string(),
});

const MachineSchema = z.object({
  id: z.string(),
  computerDnsName: str,
  lastIpAddress: str,
  lastExternalIpAddress: str,
  lastSeen: str,
  ipAddresses: z.array(z.object({ ipAddress: str, macAddress: str })).nullish(),
  vmMetadata: z.object({ vmId: str, cloudProvider: str, subscriptionId: str }).nullish(),
});
type Machine = z.infer<typeof MachineSchema>;

const ListResponse = z.object({ value: z.array(z.unknown()), '@odata.nextLink': z.string().nullish() });

const SEVERITIES: Record<string, Severity> = {
  informational: 'informational',
  unspecified: 'informational',
  low: 'low',
  medium: 'medium',
  high: 'high',
};

/** Informational / Low / Medium / High (UnSpecified counts as informational). */
export function defenderSeverity(severity: string): Severity {
  const s = SEVERITIES[severity.toLowerCase()];
  if (!s) throw new Error(`severity: unknown Defender severity '${severity}'`);
  return s;
}

/** classification FalsePositive wins; status Resolved is resolved; New / InProgress (and anything else) active. */
export function defenderStatus(status?: string | null, classification?: string | null): SignalStatus {
  if (classification === 'FalsePositive') return 'false_positive';
  return status === 'Resolved' ? 'resolved' : 'active';
}

/** The asset a Defender machine record describes. */
export function defenderMachineAsset(m: Machine): Asset {
  const interfaces = m.ipAddresses ?? [];
  return {
    deviceId: m.id,
    hostname: m.computerDnsName ?? undefined,
    instanceId: m.vmMetadata?.vmId ?? undefined,
    ips: compact([m.lastIpAddress, m.lastExternalIpAddress, ...interfaces.map(i => i.ipAddress)]),
    macs: compact(interfaces.map(i => i.macAddress)),
    cloud: m.vmMetadata?.cloudProvider
      ? { provider: m.vmMetadata.cloudProvider, accountId: m.vmMetadata.subscriptionId ?? undefined }
      : undefined,
  };
}

/** `C:\\dir` + `x.exe` -> `C:\\dir\\x.exe` (Defender gives a file's directory and name apart). */
function joinPath(dir?: string | null, name?: string | null): string | undefined {
  if (!dir) return name ?? undefined;
  if (!name || dir.endsWith(name)) return dir;
  const sep = dir.includes('/') && !dir.includes('\\') ? '/' : '\\';
  return dir.endsWith(sep) ? `${dir}${name}` : `${dir}${sep}${name}`;
}

/**
 * The indicators of a Defender alert's evidence (`$expand=evidence`): the
 * process (its image name and command line) and the file (SHA-256 and path),
 * a Process entity's own file where no File entity is given.
 */
export function defenderIndicators(evidence: z.infer<typeof AlertSchema>['evidence']) {
  const list = evidence ?? [];
  const process = list.find(e => e.entityType?.toLowerCase() === 'process' && (e.processCommandLine || e.fileName));
  const file = list.find(e => e.entityType?.toLowerCase() === 'file' && (e.sha256 || e.fileName)) ?? process;
  return indicatorsOf({
    sha256: file?.sha256 ?? process?.sha256,
    filePath: file ? joinPath(file.filePath, file.fileName) : undefined,
    processName: process?.fileName,
    commandLine: process?.processCommandLine,
  });
}

/** Maps one `/api/alerts` record to a signal input. */
export function defenderSignal(raw: unknown, machines: Map<string, Machine>): SignalInput {
  const a = AlertSchema.parse(raw);
  const machine = a.machineId ? machines.get(a.machineId) : undefined;
  return {
    sourceId: a.id,
    kind: 'detection',
    severity: defenderSeverity(a.severity),
    confidence: 1,
    status: defenderStatus(a.status, a.classification),
    title: a.title || `Defender alert ${a.id}`,
    description: a.description ?? undefined,
    tactics: [],
    techniques: compact(a.mitreTechniques ?? []),
    asset: mergeAssets(
      { deviceId: a.machineId ?? undefined, hostname: a.computerDnsName ?? undefined, ips: [], macs: [] },
      machine ? defenderMachineAsset(machine) : undefined,
    ),
    indicators: defenderIndicators(a.evidence),
    firstSeenAt: a.firstEventTime ?? a.alertCreationTime,
    lastSeenAt: a.lastUpdateTime,
    url: `https://security.microsoft.com/alerts/${encodeURIComponent(a.id)}`,
    raw,
  };
}

function field(raw: unknown, key: string): string | undefined {
  const v = (raw as Record<string, unknown> | null)?.[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Microsoft Defender for Endpoint: Microsoft identity client-credentials token
 * (scope `<apiUrl>/.default`), `GET /api/alerts` with `$filter=lastUpdateTime ge
 * <since> and lastUpdateTime lt <walk start>`, `@odata.nextLink` or `$top`/`$skip`
 * paging until an empty page, `GET /api/machines/{id}` for IPs and MACs.
 */
export class DefenderSignalSource extends HttpPullSource<DefenderSourceOptions> {
  constructor(options: DefenderSourceOptions) {
    super(options, {
      type: 'defender',
      retryAfter: retryAfterHeader('retry-after'),
      probe: { path: '/api/alerts', query: { $top: 1 } },
      connect: shared => ({
        baseUrl: options.apiUrl,
        secrets: [options.clientSecret],
        auth: new ClientCredentialsTokenProvider({
          ...shared,
          tokenUrl: `${options.loginUrl}/${encodeURIComponent(options.tenantId)}/oauth2/v2.0/token`,
          clientId: options.clientId,
          clientSecret: options.clientSecret,
          scope: `${options.apiUrl}/.default`,
        }),
      }),
    });
  }

  private async machines(ids: string[], logger: SignalSourceFetchOptions['logger'], signal?: AbortSignal) {
    const out = new Map<string, Machine>();
    for (const id of new Set(ids)) {
      try {
        out.set(id, await this.http.get(`/api/machines/${encodeURIComponent(id)}`, undefined, MachineSchema.parse, signal));
      } catch (e) {
        if (!(e instanceof SourceHttpError) || e.status !== 404) throw e;
        logger.warn(`Source ${this.id}: machine ${id} not found; its alerts keep the alert's own host fields`);
      }
    }
    return out;
  }

  /** `@odata.nextLink` is followed only on the API's own origin (the token is never sent elsewhere). */
  private nextLink(link: string): string {
    let url: URL;
    try {
      url = new URL(link, this.opts.apiUrl);
    } catch {
      throw new Error(`Source ${this.id}: unreadable @odata.nextLink`);
    }
    if (url.origin !== new URL(this.opts.apiUrl).origin) {
      throw new Error(`Source ${this.id}: @odata.nextLink points to ${url.origin}, not to the configured apiUrl; not followed`);
    }
    return url.toString();
  }

  /** The vendor host inventory: every machine of `GET /api/machines` (`hostInventory.ts`). */
  protected listHosts(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult> {
    return listDefenderMachines({
      ...options,
      sourceId: this.id,
      http: this.http,
      pageSize: this.inventoryPageSize(this.opts.pageSize ?? 1000, 10_000),
      maxPages: this.inventoryMaxPages(this.opts.maxPages ?? 50),
      now: this.opts.now,
      follow: link => this.nextLink(link),
      toHost: raw => {
        const m = MachineSchema.parse(raw);
        return { sourceId: m.id, asset: defenderMachineAsset(m), lastSeenAt: m.lastSeen };
      },
    });
  }

  /**
   * One batch of a walk over the alerts updated in `[since, walk start)`:
   * `$filter=lastUpdateTime ge <since> and lastUpdateTime lt <until>` (both
   * re-serialised), `@odata.nextLink` followed while present, else `$skip` until
   * an empty page (a page shorter than `$top` is not the last one). A walk cut by
   * `maxPages` returns its progress as a JSON cursor and `hasMore`; the next call
   * goes on from there.
   */
  async fetch({ cursor, logger, signal }: SignalSourceFetchOptions): Promise<SignalSourceFetchResult> {
    const walked = await walkTimeWindow<unknown>({
      cursor,
      maxPages: this.opts.maxPages ?? 50,
      end: 'empty-page',
      now: this.opts.now,
      timestampOf: a => field(a, 'lastUpdateTime'),
      fetchPage: async page => {
        const body = page.next
          ? await this.http.get(this.nextLink(page.next), undefined, ListResponse.parse, signal)
          : await this.http.get(
              '/api/alerts',
              {
                $filter: [page.since ? `lastUpdateTime ge ${page.since}` : undefined, `lastUpdateTime lt ${page.until}`].filter(Boolean).join(' and '),
                $top: this.opts.pageSize ?? 1000,
                $skip: page.offset,
                $expand: 'evidence',
              },
              ListResponse.parse,
              signal,
            );
        return { items: body.value, next: body['@odata.nextLink'] };
      },
    });
    const machineIds = this.opts.machines === false ? [] : compact(walked.items.map(a => field(a, 'machineId')));
    const machines = await this.machines(machineIds, logger, signal);
    const { signals, rejected } = normalizeRecords(walked.items, r => defenderSignal(r, machines), {
      sourceId: this.id,
      logger,
      idOf: r => field(r, 'id'),
    });
    return {
      signals,
      rejected,
      hosts: hostRecords(machines.values(), m => ({ sourceId: m.id, asset: defenderMachineAsset(m), lastSeenAt: m.lastSeen })),
      cursor: walked.cursor,
      hasMore: walked.hasMore,
    };
  }
}
