/**
 * A fake Microsoft Defender for Endpoint API: the Microsoft identity token
 * endpoint (`POST /<tenant>/oauth2/v2.0/token`), `GET /api/alerts` with
 * `$filter=lastUpdateTime ge <a> and lastUpdateTime lt <b>` (either term
 * optional), `$top`/`$skip` paging, optionally pages capped below `$top` and
 * `@odata.nextLink`, `GET /api/machines` (the machine list, paged the same way;
 * 404 when there are no machines) and `GET /api/machines/{id}`.
 */
import { adminAlertsRoute, fakeSha256, fakeTokenIssuer, startFakeServer, vendorRoutes, type VendorRecord, type DemoAlert, type FakeReply, type FakeServer, type FakeServerOptions, type FakeTokenIssuer } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';

export interface FakeDefenderOptions extends FakeServerOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Alerts served (the array is shared: push to it to add alerts). */
  alerts?: VendorRecord[];
  /** Machines by id (`GET /api/machines/{id}`; unknown ids answer 404). */
  machines?: VendorRecord[];
  /** Adds `POST /_admin/alerts`, building an alert with {@link defenderAlert}. */
  admin?: boolean;
  /** Most alerts (or machines) one page returns, whatever `$top` asks (a server capping its pages). */
  pageCap?: number;
  /** Adds `@odata.nextLink` (an absolute URL with `$skip`) while more alerts match. */
  nextLink?: boolean;
}

export interface FakeDefender {
  server: FakeServer;
  alerts: VendorRecord[];
  machines: VendorRecord[];
  faults: FakeReply[];
  issuer: FakeTokenIssuer;
}

export async function startFakeDefender(options: FakeDefenderOptions): Promise<FakeDefender> {
  const alerts = options.alerts ?? [];
  const machines = options.machines ?? [];
  const issuer = fakeTokenIssuer({ clientId: options.clientId, clientSecret: options.clientSecret, expiresIn: 3599 });
  const { faults, guard } = vendorRoutes({
    authorized: req => issuer.authorized(req),
    unauthorized: { status: 401, json: { error: { code: 'Unauthorized', message: 'Authorization token is invalid' } } },
  });
  const server = await startFakeServer(
    {
      [`POST /${options.tenantId}/oauth2/v2.0/token`]: issuer.route,
      'GET /api/alerts': guard(req => {
        const filter = req.query.get('$filter');
        const terms = filter ? filter.split(' and ').map(t => /^lastUpdateTime (ge|lt) (\S+)$/.exec(t)) : [];
        if (terms.some(t => !t || Number.isNaN(Date.parse(t[2])))) {
          return { status: 400, json: { error: { code: 'InvalidRequestBody', message: `bad $filter ${filter}` } } };
        }
        const matching = alerts.filter(a =>
          terms.every(t => {
            const at = Date.parse(String(a.lastUpdateTime));
            // a record without a timestamp (a garbage test record) passes every filter
            if (Number.isNaN(at)) return true;
            return t![1] === 'ge' ? at >= Date.parse(t![2]) : at < Date.parse(t![2]);
          }),
        );
        const skip = Number(req.query.get('$skip') ?? 0);
        const top = Math.min(Number(req.query.get('$top') ?? 10000), options.pageCap ?? 10000);
        // like Defender: an alert's evidence only with $expand=evidence
        const expand = req.query.get('$expand') === 'evidence';
        const value = matching.slice(skip, skip + top).map(a => {
          if (expand) return a;
          const { evidence: _evidence, ...rest } = a;
          return rest;
        });
        const json: Record<string, unknown> = { '@odata.context': 'https://api.securitycenter.microsoft.com/api/$metadata#Alerts', value };
        if (options.nextLink && skip + value.length < matching.length) {
          const next = new URL(`${server.url}/api/alerts`);
          req.query.forEach((v, k) => next.searchParams.set(k, v));
          next.searchParams.set('$skip', String(skip + value.length));
          json['@odata.nextLink'] = next.toString();
        }
        return { json };
      }),
      // the machine list (the host inventory): $top (at most 10,000) / $skip, capped pages and nextLink like the alerts;
      // like Defender, 404 when there are no recent machines
      'GET /api/machines': guard(req => {
        if (!machines.length) return { status: 404, json: { error: { code: 'ResourceNotFound', message: 'No recent machines found' } } };
        const skip = Number(req.query.get('$skip') ?? 0);
        const asked = Number(req.query.get('$top') ?? 10000);
        if (asked > 10000) return { status: 400, json: { error: { code: 'InvalidRequestBody', message: '$top must be at most 10000' } } };
        const top = Math.min(asked, options.pageCap ?? 10000);
        const value = machines.slice(skip, skip + top);
        const json: Record<string, unknown> = { '@odata.context': 'https://api.securitycenter.microsoft.com/api/$metadata#Machines', value };
        if (options.nextLink && skip + value.length < machines.length) {
          const next = new URL(`${server.url}/api/machines`);
          req.query.forEach((v, k) => next.searchParams.set(k, v));
          next.searchParams.set('$skip', String(skip + value.length));
          json['@odata.nextLink'] = next.toString();
        }
        return { json };
      }),
      'GET /api/machines/*': guard(req => {
        const id = decodeURIComponent(req.path.slice('/api/machines/'.length));
        const machine = machines.find(x => x.id === id);
        if (!machine) return { status: 404, json: { error: { code: 'ResourceNotFound', message: `Machine ${id} was not found` } } };
        return { json: machine };
      }),
      ...(options.admin ? { 'POST /_admin/alerts': adminAlertsRoute(alerts, defenderAlert) } : {}),
    },
    options,
  );
  return { server, alerts, machines, faults, issuer };
}

/** A Defender alert for a demo host (`hostname` is the FQDN `computerDnsName`); `severity` default High. */
export function defenderAlert(a: DemoAlert & { severity?: string; status?: string; machineId?: string }): VendorRecord {
  const at = a.at ?? new Date().toISOString();
  const id = a.id ?? `da${Date.parse(at)}_${a.hostname}`;
  return {
    id,
    incidentId: 1,
    title: a.title ?? `Suspicious PowerShell on ${a.hostname}`,
    description: 'Fake Defender alert',
    severity: a.severity ?? 'High',
    status: a.status ?? 'New',
    classification: null,
    determination: null,
    category: 'Execution',
    detectionSource: 'WindowsDefenderAtp',
    machineId: a.machineId ?? `m-${a.hostname}`,
    computerDnsName: a.hostname,
    mitreTechniques: ['T1059.001'],
    evidence: defenderEvidence(id, at, a.indicators),
    alertCreationTime: at,
    firstEventTime: at,
    lastUpdateTime: at,
  };
}

/** Where Defender puts a path's directory and file name apart. */
function splitPath(path: string): { filePath: string; fileName: string } {
  const i = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return i < 0 ? { filePath: '', fileName: path } : { filePath: path.slice(0, i), fileName: path.slice(i + 1) };
}

/**
 * The evidence of a fake alert as `$expand=evidence` returns it: a Process entity
 * (image name, command line) and a File entity (SHA-256, directory and name).
 */
export function defenderEvidence(id: string, at: string, indicators: DemoAlert['indicators'] = {}): VendorRecord[] {
  const sha256 = indicators.sha256 ?? fakeSha256(`defender:${id}`);
  const file = splitPath(indicators.filePath ?? `C:\\Users\\svc\\AppData\\Local\\Temp\\${id}.ps1`);
  const processName = indicators.processName ?? 'powershell.exe';
  return [
    {
      entityType: 'Process',
      evidenceCreationTime: at,
      sha1: null,
      sha256: null,
      fileName: processName,
      filePath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0',
      processId: 4242,
      processCommandLine: indicators.commandLine ?? `"${processName}" -ExecutionPolicy Bypass -File ${file.fileName}`,
      processCreationTime: at,
      parentProcessId: 4000,
      accountName: 'svc',
      detectionStatus: 'Detected',
    },
    {
      entityType: 'File',
      evidenceCreationTime: at,
      sha1: null,
      sha256,
      fileName: file.fileName,
      filePath: file.filePath,
      processId: null,
      processCommandLine: null,
      detectionStatus: 'Detected',
    },
  ];
}
