/**
 * A fake CrowdStrike Falcon API: OAuth2 token, the Alerts API (`POST
 * /alerts/combined/alerts/v1` with FQL `updated_timestamp` bounds, ascending,
 * `after` paging and at most 1,000 a page; the ids query with offset paging,
 * refusing `offset + limit` above 10,000 like Falcon; entities) and the Hosts
 * API (the devices query by `modified_timestamp` with offset paging, refusing
 * `offset + limit` above 10,000 too; the scroll query, `GET
 * /devices/queries/devices-scroll/v1`, the devices its `filter`'s
 * `modified_timestamp` bounds match (all without one) sorted by the `sort`
 * field, whose `offset` is the opaque token of the page before, kept for two
 * minutes, 400 for one it does not know, pages optionally capped; then
 * entities, at most 5,000 ids a request).
 */
import { adminAlertsRoute, fakeSha256, fakeTokenIssuer, startFakeServer, vendorRoutes, type VendorRecord, type FakeReply, type FakeServer, type FakeServerOptions, type FakeTokenIssuer, type DemoAlert } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';

export interface FakeFalconOptions extends FakeServerOptions {
  clientId: string;
  clientSecret: string;
  /** Alerts served (the array is shared: push to it to add alerts). */
  alerts?: VendorRecord[];
  /** Hosts API devices (`device_id`, optional `modified_timestamp`). */
  devices?: VendorRecord[];
  /** Status of a successful token answer (Falcon answers 201). */
  tokenStatus?: number;
  /** Device ids per page of the scroll query (whole inventory), below the `limit` asked for. */
  devicePageCap?: number;
  /** Clock of the scroll tokens' expiry (ms); default `Date.now`. */
  now?: () => number;
  /** How long a scroll token is kept after the page that gave it (default 2 minutes, like Falcon). */
  scrollTtlMs?: number;
  /**
   * `'same'` (default): one token for a whole scroll (a scroll context, its expiry renewed at each
   * page); `'new'`: a new token on every page (the one before is forgotten).
   */
  scrollTokens?: 'same' | 'new';
  /** Adds `POST /_admin/alerts`, building an alert with {@link falconAlert}. */
  admin?: boolean;
}

export interface FakeFalcon {
  server: FakeServer;
  alerts: VendorRecord[];
  devices: VendorRecord[];
  /** Replies answered first, one per authorized request (429, 5xx, malformed bodies). */
  faults: FakeReply[];
  issuer: FakeTokenIssuer;
  /** Scroll tokens the fake still knows (`expireScrolls()` forgets them all, like Falcon after two minutes). */
  scrolls: Map<string, { ids: string[]; position: number; expiresAt: number }>;
  expireScrolls(): void;
}

const byString = (field: string) => (a: VendorRecord, b: VendorRecord) => String(a[field]).localeCompare(String(b[field]));

/** The records matching the `<field>:>'t'`, `>=`, `<`, `<=` terms of an FQL filter (other terms are ignored). */
function timeFiltered(records: VendorRecord[], field: string, filter: string | null | undefined): VendorRecord[] | string {
  const terms: Array<[string, number]> = [];
  for (const term of (filter ?? '').split('+')) {
    const m = new RegExp(`^${field}:(>=|>|<=|<)'([^']*)'$`).exec(term);
    if (!m) continue;
    const at = Date.parse(m[2]);
    if (Number.isNaN(at)) return `invalid timestamp in filter term ${term}`;
    terms.push([m[1], at]);
  }
  return records.filter(r => {
    const at = Date.parse(String(r[field]));
    return terms.every(([op, t]) => (op === '>' ? at > t : op === '>=' ? at >= t : op === '<' ? at < t : at <= t));
  });
}

const invalid = (message: string): FakeReply => ({ status: 400, json: { meta: {}, resources: [], errors: [{ code: 400, message }] } });

/** Falcon's `after` token, here the sort key of the last alert returned. */
const afterToken = (a: VendorRecord) => Buffer.from(JSON.stringify([String(a.updated_timestamp), String(a.composite_id)])).toString('base64url');

export async function startFakeFalcon(options: FakeFalconOptions): Promise<FakeFalcon> {
  const alerts = options.alerts ?? [];
  const devices = options.devices ?? [];
  const issuer = fakeTokenIssuer({ clientId: options.clientId, clientSecret: options.clientSecret, status: options.tokenStatus ?? 201 });
  const { faults, guard } = vendorRoutes({
    authorized: req => issuer.authorized(req),
    unauthorized: { status: 401, json: { errors: [{ code: 401, message: 'access denied, authorization failed' }] } },
  });
  const now = options.now ?? Date.now;
  const ttl = options.scrollTtlMs ?? 120_000;
  const scrolls = new Map<string, { ids: string[]; position: number; expiresAt: number }>();
  let scrollCount = 0;
  // opaque like Falcon's (a base64 scroll context), unique per fake
  const newToken = () => Buffer.from(`scroll:${++scrollCount}:${Math.random()}`).toString('base64');
  const page = (ids: string[], query: URLSearchParams): FakeReply => {
    const offset = Number(query.get('offset') ?? 0);
    const limit = Number(query.get('limit') ?? 100);
    return { json: { meta: { pagination: { offset, limit, total: ids.length } }, resources: ids.slice(offset, offset + limit), errors: [] } };
  };
  const server = await startFakeServer(
    {
      'POST /oauth2/token': issuer.route,
      'GET /alerts/queries/alerts/v2': guard(req => {
        const offset = Number(req.query.get('offset') ?? 0);
        const limit = Number(req.query.get('limit') ?? 100);
        if (offset + limit > 10_000) return invalid('offset + limit must be less than or equal to 10000; use the combined alerts API with after');
        const matching = timeFiltered(alerts, 'updated_timestamp', req.query.get('filter'));
        if (typeof matching === 'string') return invalid(matching);
        return page(matching.sort(byString('updated_timestamp')).map(a => String(a.composite_id)), req.query);
      }),
      'POST /alerts/combined/alerts/v1': guard(req => {
        const body = JSON.parse(req.body || '{}') as { filter?: string; limit?: number; after?: string; sort?: string };
        const limit = body.limit ?? 100;
        if (limit > 1000) return invalid('limit must be at most 1000');
        const matching = timeFiltered(alerts, 'updated_timestamp', body.filter);
        if (typeof matching === 'string') return invalid(matching);
        const key = (a: VendorRecord) => [String(a.updated_timestamp), String(a.composite_id)] as const;
        const cmp = (x: readonly [string, string], y: readonly [string, string]) =>
          Date.parse(x[0]) - Date.parse(y[0]) || x[0].localeCompare(y[0]) || x[1].localeCompare(y[1]);
        const sorted = matching.sort((a, b) => cmp(key(a), key(b)));
        let start = 0;
        if (body.after) {
          let last: [string, string];
          try {
            last = JSON.parse(Buffer.from(body.after, 'base64url').toString('utf8'));
            if (!Array.isArray(last) || last.length !== 2) throw new Error('bad');
          } catch {
            return invalid('invalid after token');
          }
          start = sorted.findIndex(a => cmp(key(a), last) > 0);
          if (start < 0) start = sorted.length;
        }
        const resources = sorted.slice(start, start + limit);
        const more = start + resources.length < sorted.length;
        const pagination = { total: sorted.length, limit, ...(more ? { after: afterToken(resources[resources.length - 1]) } : {}) };
        return { json: { meta: { pagination }, resources, errors: [] } };
      }),
      'POST /alerts/entities/alerts/v2': guard(req => {
        const ids: string[] = JSON.parse(req.body).composite_ids;
        return { json: { resources: alerts.filter(a => ids.includes(String(a.composite_id))), errors: [] } };
      }),
      'GET /devices/queries/devices/v1': guard(req => {
        const filter = req.query.get('filter');
        const offset = Number(req.query.get('offset') ?? 0);
        const limit = Number(req.query.get('limit') ?? 100);
        if (limit > 5000) return invalid('limit must be at most 5000');
        if (offset + limit > 10_000) return invalid('offset + limit must be less than or equal to 10000; use the devices-scroll query');
        if (!filter) {
          // every device, in the order asked for (device_id, hostname; the adapter's first sync asks for modified_timestamp)
          const field = (req.query.get('sort') ?? 'hostname').split('.')[0];
          return page([...devices].sort(byString(field)).map(d => String(d.device_id)), req.query);
        }
        const m = /^modified_timestamp:>'([^']+)'/.exec(filter);
        const matching = devices
          .filter(d => d.modified_timestamp !== undefined && (!m || Date.parse(String(d.modified_timestamp)) > Date.parse(m[1])))
          .sort(byString('modified_timestamp'));
        return page(matching.map(d => String(d.device_id)), req.query);
      }),
      'GET /devices/queries/devices-scroll/v1': guard(req => {
        const limit = Number(req.query.get('limit') ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > 5000) return invalid('limit must be between 1 and 5000');
        const at = now();
        let token = req.query.get('offset');
        let scroll: { ids: string[]; position: number; expiresAt: number } | undefined;
        if (token) {
          scroll = scrolls.get(token);
          if (!scroll || scroll.expiresAt <= at) {
            scrolls.delete(token);
            return invalid('invalid or expired offset');
          }
          if (options.scrollTokens === 'new') {
            scrolls.delete(token);
            token = newToken();
          }
        } else {
          // a new scroll: the devices the FQL filter matches as they are now (its modified_timestamp
          // bounds; none: the whole inventory), in the order asked for (`<field>.asc`, default device_id)
          const filter = req.query.get('filter');
          const matching = filter ? timeFiltered(devices, 'modified_timestamp', filter) : [...devices];
          if (typeof matching === 'string') return invalid(matching);
          const field = req.query.get('sort')?.split('.')[0] || 'device_id';
          if (!/^(device_id|hostname|modified_timestamp|last_seen)$/.test(field)) return invalid(`cannot sort by ${field}`);
          scroll = { ids: matching.sort(byString(field)).map(d => String(d.device_id)), position: 0, expiresAt: 0 };
          token = newToken();
        }
        // pages capped at devicePageCap like a busy server
        const ids = scroll.ids.slice(scroll.position, scroll.position + Math.min(limit, options.devicePageCap ?? limit));
        scroll.position += ids.length;
        scroll.expiresAt = at + ttl;
        scrolls.set(token, scroll);
        // expires_at in nanoseconds since the epoch, as Falcon sends it
        const pagination = { offset: token, expires_at: scroll.expiresAt * 1_000_000, limit, total: scroll.ids.length };
        return { json: { meta: { pagination }, resources: ids, errors: [] } };
      }),
      'POST /devices/entities/devices/v2': guard(req => {
        const ids: string[] = JSON.parse(req.body).ids;
        if (ids.length > 5000) return invalid('at most 5000 ids a request');
        const wanted = new Set(ids);
        const found = devices.filter(d => wanted.has(String(d.device_id)));
        // like Falcon: 404 when none of the ids is known
        if (!found.length) return { status: 404, json: { errors: [{ code: 404, message: 'No devices found' }], resources: [] } };
        return { json: { resources: found } };
      }),
      ...(options.admin ? { 'POST /_admin/alerts': adminAlertsRoute(alerts, falconAlert) } : {}),
    },
    options,
  );
  return { server, alerts, devices, faults, issuer, scrolls, expireScrolls: () => scrolls.clear() };
}

/** A Falcon Alerts v2 record for a demo host; `severity` is 1-100 (default 70, high). */
export function falconAlert(a: DemoAlert & { severity?: number; status?: string; domain?: string }): VendorRecord {
  const at = a.at ?? new Date().toISOString();
  const deviceId = `dev-${a.hostname}`;
  const id = a.id ?? `${a.hostname}-${Date.parse(at)}`;
  return {
    composite_id: `fake:ind:${deviceId}:${id}`,
    severity: a.severity ?? 70,
    confidence: 90,
    status: a.status ?? 'new',
    display_name: a.title ?? `Suspicious process on ${a.hostname}`,
    description: 'Fake Falcon alert',
    mitre_attack: [{ tactic: 'Execution', tactic_id: 'TA0002', technique: 'PowerShell', technique_id: 'T1059.001' }],
    created_timestamp: at,
    updated_timestamp: at,
    falcon_host_link: `https://falcon.crowdstrike.com/activity-v2/detections/${id}`,
    device: { device_id: deviceId, hostname: a.hostname, ...(a.domain ? { machine_domain: a.domain } : {}) },
    // the triggering file and process (EPP alerts)
    sha256: a.indicators?.sha256 ?? fakeSha256(`falcon:${id}`),
    filepath: a.indicators?.filePath ?? `\\Device\\HarddiskVolume3\\Users\\svc\\AppData\\Local\\Temp\\${id}.exe`,
    filename: a.indicators?.processName ?? 'powershell.exe',
    cmdline: a.indicators?.commandLine ?? `powershell.exe -nop -w hidden -enc ${Buffer.from(id).toString('base64')}`,
  };
}
