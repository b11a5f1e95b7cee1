/**
 * A fake SentinelOne API (`/web/api/v2.1`): `Authorization: ApiToken <token>`,
 * `GET /threats` with `updatedAt__gte`/`updatedAt__lt`, ascending `updatedAt` and cursor paging
 * (`pagination.nextCursor`), `GET /agents?ids=`, and the agent list (`GET
 * /agents` with cursor paging, `siteIds`, pages optionally capped).
 */
import { adminAlertsRoute, fakeSha256, startFakeServer, vendorRoutes, type VendorRecord, type DemoAlert, type FakeReply, type FakeServer, type FakeServerOptions } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';

export interface FakeSentinelOneOptions extends FakeServerOptions {
  apiToken: string;
  /** Threats served (the array is shared: push to it to add threats). */
  threats?: VendorRecord[];
  /** Agents by `id` (`GET /agents?ids=`), and the whole list (`GET /agents` with cursor paging). */
  agents?: VendorRecord[];
  /** Most agents one page of the agent list returns, whatever `limit` asks. */
  agentPageCap?: number;
  /** Adds `POST /_admin/alerts`, building a threat with {@link sentinelOneThreat}. */
  admin?: boolean;
}

export interface FakeSentinelOne {
  server: FakeServer;
  threats: VendorRecord[];
  agents: VendorRecord[];
  faults: FakeReply[];
}

const updatedAt = (t: VendorRecord) => String((t.threatInfo as { updatedAt?: unknown } | undefined)?.updatedAt);

export async function startFakeSentinelOne(options: FakeSentinelOneOptions): Promise<FakeSentinelOne> {
  const threats = options.threats ?? [];
  const agents = options.agents ?? [];
  const { faults, guard } = vendorRoutes({
    authorized: req => req.headers.authorization === `ApiToken ${options.apiToken}`,
    unauthorized: { status: 401, json: { errors: [{ code: 4010010, title: 'Authentication Failed', detail: null }] } },
  });
  const server = await startFakeServer(
    {
      'GET /web/api/v2.1/threats': guard(req => {
        const since = req.query.get('updatedAt__gte');
        const before = req.query.get('updatedAt__lt');
        for (const [key, value] of [['updatedAt__gte', since], ['updatedAt__lt', before]] as const) {
          if (value !== null && Number.isNaN(Date.parse(value))) {
            return { status: 400, json: { errors: [{ code: 4000010, title: 'Validation Error', detail: `${key}: not a valid datetime` }] } };
          }
        }
        const matching = threats
          .filter(t => !since || Date.parse(updatedAt(t)) >= Date.parse(since))
          .filter(t => !before || Date.parse(updatedAt(t)) < Date.parse(before))
          .sort((a, b) => updatedAt(a).localeCompare(updatedAt(b)));
        const start = Number(req.query.get('cursor') ?? 0);
        const limit = Number(req.query.get('limit') ?? 1000);
        const next = start + limit < matching.length ? String(start + limit) : null;
        return { json: { data: matching.slice(start, start + limit), pagination: { nextCursor: next, totalItems: matching.length } } };
      }),
      'GET /web/api/v2.1/agents': guard(req => {
        if (req.query.has('ids')) {
          const ids = (req.query.get('ids') ?? '').split(',');
          return { json: { data: agents.filter(a => ids.includes(String(a.id))), pagination: { nextCursor: null } } };
        }
        // the whole agent list (the host inventory): cursor paging, limit at most 1,000, pages capped at agentPageCap
        const limit = Number(req.query.get('limit') ?? 10);
        if (limit > 1000) return { status: 400, json: { errors: [{ code: 4000010, title: 'Validation Error', detail: 'limit: must be at most 1000' }] } };
        const cursor = req.query.get('cursor');
        const start = cursor ? Number(Buffer.from(cursor, 'base64url').toString('utf8')) : 0;
        if (!Number.isInteger(start) || start < 0) {
          return { status: 400, json: { errors: [{ code: 4000010, title: 'Validation Error', detail: 'cursor: invalid' }] } };
        }
        const scoped = agents.filter(a => !req.query.get('siteIds') || req.query.get('siteIds')!.split(',').includes(String(a.siteId)));
        const data = scoped.slice(start, start + Math.min(limit, options.agentPageCap ?? limit));
        const end = start + data.length;
        const nextCursor = end < scoped.length ? Buffer.from(String(end)).toString('base64url') : null;
        return { json: { data, pagination: { nextCursor, totalItems: scoped.length } } };
      }),
      ...(options.admin ? { 'POST /_admin/alerts': adminAlertsRoute(threats, sentinelOneThreat) } : {}),
    },
    options,
  );
  return { server, threats, agents, faults };
}

/** A SentinelOne threat for a demo host; `confidenceLevel` malicious (high, default) / suspicious (medium). */
export function sentinelOneThreat(a: DemoAlert & { confidenceLevel?: string; incidentStatus?: string; agentId?: string }): VendorRecord {
  const at = a.at ?? new Date().toISOString();
  const id = a.id ?? String(Date.parse(at));
  return {
    id,
    threatInfo: {
      threatId: id,
      threatName: a.title ?? `mimikatz on ${a.hostname}`,
      confidenceLevel: a.confidenceLevel ?? 'malicious',
      analystVerdict: 'undefined',
      incidentStatus: a.incidentStatus ?? 'unresolved',
      classification: 'Malware',
      createdAt: at,
      identifiedAt: at,
      updatedAt: at,
      // the file and the process of the threat
      sha256: a.indicators?.sha256 ?? fakeSha256(`sentinelone:${id}`),
      sha1: null,
      filePath: a.indicators?.filePath ?? `\\Device\\HarddiskVolume2\\Users\\svc\\Downloads\\${id}.exe`,
      originatorProcess: a.indicators?.processName ?? 'explorer.exe',
      maliciousProcessArguments: a.indicators?.commandLine ?? `"${id}.exe" privilege::debug sekurlsa::logonpasswords`,
    },
    agentRealtimeInfo: { agentId: a.agentId ?? `agent-${a.hostname}`, agentComputerName: a.hostname },
    indicators: [{ category: 'Exploitation', tactics: [{ name: 'Credential Access', source: 'MITRE', techniques: [{ name: 'T1003' }] }] }],
  };
}
