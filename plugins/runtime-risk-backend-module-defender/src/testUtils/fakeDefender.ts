/**
 * A fake Microsoft Defender for Endpoint API: the Microsoft identity token
 * endpoint (`POST /<tenant>/oauth2/v2.0/token`), `GET /api/alerts` with
 * `$filter=lastUpdateTime ge <cursor>` and `$top`/`$skip` paging, and
 * `GET /api/machines/{id}`.
 */
import { adminAlertsRoute, fakeTokenIssuer, startFakeServer, vendorRoutes, type VendorRecord, type DemoAlert, type FakeReply, type FakeServer, type FakeServerOptions, type FakeTokenIssuer } from '@runtime-risk/backstage-plugin-runtime-risk-node/testUtils';

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
        const m = /^lastUpdateTime ge (\S+)$/.exec(filter ?? '');
        if (filter && !m) return { status: 400, json: { error: { code: 'InvalidRequestBody', message: `bad $filter ${filter}` } } };
        const matching = alerts.filter(a => !m || Date.parse(String(a.lastUpdateTime)) >= Date.parse(m[1]));
        const skip = Number(req.query.get('$skip') ?? 0);
        const top = Number(req.query.get('$top') ?? 10000);
        return { json: { '@odata.context': 'https://api.securitycenter.microsoft.com/api/$metadata#Alerts', value: matching.slice(skip, skip + top) } };
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
    alertCreationTime: at,
    firstEventTime: at,
    lastUpdateTime: at,
  };
}
