import type { LoggerService, SchedulerServiceTaskScheduleDefinition } from '@backstage/backend-plugin-api';
import type { Asset, SignalInput } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** A host as a source's inventory (e.g. a vendor Hosts API) reports it. */
export interface HostInventoryRecord {
  /** The vendor's own id of the host (device id, agent id). */
  sourceId: string;
  asset: Asset;
  lastSeenAt?: string;
}

/** Options passed to {@link PullSignalSource.syncHosts}. */
export interface HostInventoryFetchOptions {
  /** Inventory cursor of the last committed page (its own, not the signal cursor); null starts a new walk. */
  cursor: string | null;
  logger: LoggerService;
  /** Aborted when the scheduled task times out or the backend shuts down. */
  signal?: AbortSignal;
}

/** One page (or a few) of a source's host inventory. */
export interface HostInventoryFetchResult {
  /** Hosts listed (validated again by the backend; a bad record is rejected alone). */
  hosts: HostInventoryRecord[];
  /** Cursor to go on from; the backend saves it with the hosts, in one transaction. Null: the walk is finished. */
  cursor: string | null;
  /** True when the walk over the inventory is not finished: the backend commits and calls again. */
  hasMore?: boolean;
  /** Vendor records that could not be normalized and were skipped. */
  rejected?: number;
}

/** Options passed to {@link PullSignalSource.fetch}. */
export interface SignalSourceFetchOptions {
  /** Cursor returned by the previous successful, committed batch; null on the first sync. */
  cursor: string | null;
  logger: LoggerService;
  /** Aborted when the scheduled task times out or the backend shuts down. */
  signal?: AbortSignal;
}

/** One batch returned by a pull source. */
export interface SignalSourceFetchResult {
  /** Normalized signals (validated again by the backend before they are stored). */
  signals: SignalInput[];
  /** Cursor to resume from next time; the backend saves it only after the batch is committed. */
  cursor: string | null;
  /** True when the source has more data right now; the backend fetches again in the same run. */
  hasMore?: boolean;
  /** Optional host inventory seen in this batch. */
  hosts?: HostInventoryRecord[];
  /**
   * Number of vendor records that could not be normalized and were skipped.
   * They are reported in source health; stored data is never touched by them.
   */
  rejected?: number;
  /**
   * The time the returned data reflects, when it is older than the fetch itself
   * (a file export, a batch feed). Freshness is measured from the older of this
   * and the sync time. Omit for live APIs.
   */
  asOf?: string;
}

interface SignalSourceBase {
  /** Unique id of this source instance (`crowdstrike`, `file`, `webhook:custom`); used in signal ids. */
  id: string;
  /** The adapter type (`crowdstrike`, `defender`, `sentinelone`, `webhook`, `file`). */
  type: string;
  /** Optional link template to the vendor console; `{sourceId}` is replaced. */
  consoleUrl?: string;
}

/** A source the backend polls on the scheduler, incrementally from a cursor. */
export interface PullSignalSource extends SignalSourceBase {
  mode?: 'pull';
  /** Overrides `runtimeRisk.ingestion.frequency` / `timeout` for this source. */
  schedule?: Partial<Pick<SchedulerServiceTaskScheduleDefinition, 'frequency' | 'timeout'>>;
  fetch(options: SignalSourceFetchOptions): Promise<SignalSourceFetchResult>;
  /**
   * Optional: lists the source's whole host inventory (a vendor Hosts /
   * Machines / Agents API), page by page from its own cursor, on its own,
   * slower schedule ({@link PullSignalSource.inventorySchedule}, default
   * hourly). The backend stores it as the vendor host inventory: a host listed
   * within the coverage window counts as covered by this source, and its
   * Kubernetes pod, node and labels resolve label selectors.
   */
  syncHosts?(options: HostInventoryFetchOptions): Promise<HostInventoryFetchResult>;
  /** Schedule of {@link PullSignalSource.syncHosts}; default every hour (timeout 15 minutes). */
  inventorySchedule?: Partial<Pick<SchedulerServiceTaskScheduleDefinition, 'frequency' | 'timeout'>>;
  /** Cheap probe of the vendor API (credentials valid, reachable). */
  healthCheck?(): Promise<{ ok: boolean; message?: string }>;
}

/** A source that pushes to `POST /api/runtime-risk/v1/signals/webhook/:id`. */
export interface PushSignalSource extends SignalSourceBase {
  mode: 'push';
  /**
   * Verifies the request signature over the raw body. Return false (or throw)
   * to reject the push with 401. Never log the secret.
   */
  verify(request: { rawBody: Buffer; headers: Record<string, string | string[] | undefined> }): boolean;
  /** Turns a verified body into normalized signals; throw an Error naming the bad field to reject with 400. */
  parse(body: unknown): SignalInput[];
  /** Largest body accepted, in bytes; a bigger push is refused with 413 before `verify`. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * The replay key of a verified delivery (e.g. its signature, which covers a
   * timestamp) and until when a second delivery with that key is refused
   * (ms since the epoch; at least as long as the source accepts the delivery).
   * The backend records it in the database with the delivery's signals, so a
   * replay is refused (401) by every replica. Absent: no shared replay guard.
   */
  replayKey?(request: { rawBody: Buffer; headers: Record<string, string | string[] | undefined> }): { key: string; expiresAt: number } | undefined;
  /**
   * How often the sender promises to push or call
   * `POST /v1/signals/webhook/<id>/heartbeat`, in ms. Without it a push source
   * is never stale for being quiet; with it, a source that has not been heard
   * from for longer is stale for the hosts it covers (DESIGN "Coverage").
   */
  readonly heartbeatMs?: number;
}

export type SignalSource = PullSignalSource | PushSignalSource;

export function isPushSource(s: SignalSource): s is PushSignalSource {
  return s.mode === 'push';
}
