// A fake CrowdStrike Falcon API for the bench's ingestion phase, run as its own
// process so that the vendor's CPU (HTTP, JSON) is not counted against the
// backend's event loop (a real vendor is remote). Plain Node, no dependencies.
//
//   node bench/fakeFalcon.mjs [clientId] [clientSecret]
//
// Prints one JSON line `{"port":N}` once it listens on 127.0.0.1, then serves:
//   POST /oauth2/token                     client credentials (form), 201, `tok-1`, `tok-2`, ...;
//                                          only the newest token is accepted, 401 otherwise
//   GET  /alerts/queries/alerts/v2         composite ids, `updated_timestamp` ascending, `offset`/`limit`,
//                                          `filter=updated_timestamp:>'<iso>'`, `meta.pagination.total`
//   POST /alerts/entities/alerts/v2        `{ composite_ids }` -> `{ resources }`
//   POST /alerts/combined/alerts/v1        `{ filter, limit, after }` -> alerts by `updated_timestamp`
//                                          ascending, bounds `updated_timestamp:>=|>|<'<iso>'`, `after` =
//                                          the index of the next alert (what the adapter pages with)
//   GET  /devices/queries/devices-scroll/v1  no devices: the empty page that ends a scroll (the
//                                          adapter lists the devices modified since a walk's lower bound)
//   POST /devices/entities/devices/v2      `{ ids }` -> a device record per id
// and, for the bench only (not counted as vendor requests):
//   POST /_bench/alerts                    JSON array of alerts to add (in `updated_timestamp` order)
//   GET  /_bench/stats                     `{ requests }`: vendor requests received so far
import http from 'node:http';

const clientId = process.argv[2] ?? 'bench';
const clientSecret = process.argv[3] ?? 'bench-secret';

/** Alert ids in `updated_timestamp` order, their times (ms), and each alert's JSON text by id. */
const ids = [];
const times = [];
const jsonById = new Map();
let issued = 0;
let requests = 0;

const hostName = h => `h-${h}`;
const UNAUTHORIZED = { status: 401, body: JSON.stringify({ errors: [{ code: 401, message: 'access denied' }] }) };

const authorized = req => issued > 0 && req.headers.authorization === `Bearer tok-${issued}`;

/** First index whose time is after `since` (binary search: O(log n) per page). */
function firstAfter(since) {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] > since) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const routes = {
  'POST /oauth2/token': (req, body) => {
    const form = new URLSearchParams(body);
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
      return { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' }) };
    }
    issued++;
    return { status: 201, body: JSON.stringify({ access_token: `tok-${issued}`, token_type: 'bearer', expires_in: 1799 }) };
  },
  'GET /alerts/queries/alerts/v2': (req, _body, query) => {
    if (!authorized(req)) return UNAUTHORIZED;
    const m = /updated_timestamp:>'([^']+)'/.exec(query.get('filter') ?? '');
    const start = m ? firstAfter(Date.parse(m[1])) : 0;
    const offset = Number(query.get('offset') ?? 0);
    const limit = Number(query.get('limit') ?? 100);
    const total = times.length - start;
    const resources = ids.slice(start + offset, start + offset + limit);
    return { body: JSON.stringify({ meta: { pagination: { offset, limit, total } }, resources, errors: [] }) };
  },
  'POST /alerts/combined/alerts/v1': (req, body) => {
    if (!authorized(req)) return UNAUTHORIZED;
    const q = JSON.parse(body || '{}');
    const limit = Math.min(Number(q.limit ?? 100), 1000);
    let lo = 0;
    let hi = times.length;
    for (const term of String(q.filter ?? '').split('+')) {
      const m = /^updated_timestamp:(>=|>|<)'([^']+)'$/.exec(term);
      if (!m) continue;
      const t = Date.parse(m[2]);
      if (m[1] === '>') lo = Math.max(lo, firstAfter(t));
      else if (m[1] === '>=') lo = Math.max(lo, firstAfter(t - 1));
      else hi = Math.min(hi, firstAfter(t - 1));
    }
    const start = q.after ? Number(q.after) : lo;
    const end = Math.min(hi, start + limit);
    const texts = [];
    for (let i = start; i < end; i++) texts.push(jsonById.get(ids[i]));
    const pagination = { total: hi - lo, limit, ...(end < hi ? { after: String(end) } : {}) };
    return { body: `{"meta":{"pagination":${JSON.stringify(pagination)}},"resources":[${texts.join(',')}],"errors":[]}` };
  },
  'POST /alerts/entities/alerts/v2': (req, body) => {
    if (!authorized(req)) return UNAUTHORIZED;
    const texts = [];
    for (const id of JSON.parse(body).composite_ids) {
      const text = jsonById.get(id);
      if (text !== undefined) texts.push(text);
    }
    return { body: `{"resources":[${texts.join(',')}],"errors":[]}` };
  },
  'GET /devices/queries/devices-scroll/v1': (req, _body, query) =>
    authorized(req)
      ? { body: `{"meta":{"pagination":{"offset":"","limit":${Number(query.get('limit') ?? 100)},"total":0}},"resources":[],"errors":[]}` }
      : UNAUTHORIZED,
  'POST /devices/entities/devices/v2': (req, body) => {
    if (!authorized(req)) return UNAUTHORIZED;
    const resources = JSON.parse(body).ids.map(id => ({
      device_id: id,
      hostname: hostName(Number(id.slice(3))),
      machine_domain: 'prod.example.com',
      last_seen: new Date().toISOString(),
    }));
    return { body: JSON.stringify({ resources }) };
  },
  'POST /_bench/alerts': (_req, body) => {
    for (const a of JSON.parse(body)) {
      ids.push(String(a.composite_id));
      times.push(Date.parse(String(a.updated_timestamp)));
      jsonById.set(String(a.composite_id), JSON.stringify(a));
    }
    return { body: JSON.stringify({ alerts: ids.length }) };
  },
  'GET /_bench/stats': () => ({ body: JSON.stringify({ requests }) }),
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const key = `${req.method} ${url.pathname}`;
    if (!url.pathname.startsWith('/_bench/')) requests++;
    const route = routes[key];
    let reply;
    try {
      reply = route ? route(req, Buffer.concat(chunks).toString('utf8'), url.searchParams) : { status: 404, body: JSON.stringify({ errors: [{ code: 404, message: `no route ${key}` }] }) };
    } catch (e) {
      reply = { status: 500, body: JSON.stringify({ errors: [{ code: 500, message: `fake Falcon route failed: ${e instanceof Error ? e.message : String(e)}` }] }) };
    }
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
    res.end(reply.body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
// ends with the bench: on SIGTERM, or when the parent closes stdin
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
