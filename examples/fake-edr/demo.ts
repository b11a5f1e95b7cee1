/**
 * The fake EDR demo: a fake CrowdStrike Falcon, Microsoft Defender for Endpoint
 * and SentinelOne server with a few alerts on hosts of examples/catalog.yaml.
 * Used by `server.ts` (run it by hand) and by e2e/edr-sources.test.ts.
 * The credentials below are the ones examples/app-config.fake-edr.yaml uses.
 */
import { falconAlert, startFakeFalcon, type FakeFalcon } from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-crowdstrike/testUtils';
import { defenderAlert, startFakeDefender, type FakeDefender } from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-defender/testUtils';
import { sentinelOneThreat, startFakeSentinelOne, type FakeSentinelOne } from '@runtime-risk/backstage-plugin-runtime-risk-backend-module-sentinelone/testUtils';

export const FAKE_EDR_CREDENTIALS = {
  crowdstrike: { clientId: 'fake-falcon-client', clientSecret: 'fake-falcon-secret' },
  defender: { tenantId: 'fake-tenant', clientId: 'fake-mde-client', clientSecret: 'fake-mde-secret' },
  sentinelone: { apiToken: 'fake-s1-token' },
} as const;

export const FAKE_EDR_DEFAULT_PORTS = { crowdstrike: 7101, defender: 7102, sentinelone: 7103 } as const;

export interface FakeEdr {
  falcon: FakeFalcon;
  defender: FakeDefender;
  sentinelone: FakeSentinelOne;
  close(): Promise<void>;
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** Starts the three fake vendor servers on 127.0.0.1 (port 0: any free port) with the demo alerts. */
export async function startFakeEdr(ports: { crowdstrike?: number; defender?: number; sentinelone?: number } = {}): Promise<FakeEdr> {
  const falcon = await startFakeFalcon({
    ...FAKE_EDR_CREDENTIALS.crowdstrike,
    port: ports.crowdstrike ?? 0,
    admin: true,
    // a low-severity (30) Falcon alert on the ledger host
    alerts: [falconAlert({ id: 'ledger-low-1', hostname: 'ledger-01', domain: 'prod.example.com', severity: 30, title: 'Unusual scheduled task', at: minutesAgo(5) })],
    devices: [
      { device_id: 'dev-ledger-01', hostname: 'ledger-01', machine_domain: 'prod.example.com', local_ip: '10.0.5.11', mac_address: '02-42-AC-11-05-0B', modified_timestamp: minutesAgo(30), last_seen: minutesAgo(1) },
      { device_id: 'dev-web-01', hostname: 'web-01', local_ip: '10.0.2.1', mac_address: '02-42-AC-11-02-01', modified_timestamp: minutesAgo(30), last_seen: minutesAgo(1) },
    ],
  });
  const defender = await startFakeDefender({
    ...FAKE_EDR_CREDENTIALS.defender,
    port: ports.defender ?? 0,
    admin: true,
    // a low Defender alert on the storefront's second web host
    alerts: [defenderAlert({ id: 'da-web-02-1', hostname: 'web-02.prod.example.com', severity: 'Low', machineId: 'm-web-02', title: 'Suspicious PowerShell download', at: minutesAgo(4) })],
    machines: [
      {
        id: 'm-web-02',
        computerDnsName: 'web-02.prod.example.com',
        lastIpAddress: '10.0.2.2',
        lastSeen: minutesAgo(1),
        ipAddresses: [{ ipAddress: '10.0.2.2', macAddress: '0242AC110202', type: 'Ethernet', operationalStatus: 'Up' }],
      },
    ],
  });
  const sentinelone = await startFakeSentinelOne({
    ...FAKE_EDR_CREDENTIALS.sentinelone,
    port: ports.sentinelone ?? 0,
    admin: true,
    // a suspicious (medium) SentinelOne threat on the payments staging host
    threats: [sentinelOneThreat({ id: '1900000000000000001', hostname: 'pay-stg-01', confidenceLevel: 'suspicious', agentId: 'agent-pay-stg-01', title: 'psexec.exe', at: minutesAgo(3) })],
    agents: [{ id: 'agent-pay-stg-01', computerName: 'pay-stg-01', lastActiveDate: minutesAgo(1), networkInterfaces: [{ inet: ['10.1.1.21'], physical: '02:42:ac:11:01:15' }] }],
  });
  return {
    falcon,
    defender,
    sentinelone,
    close: async () => {
      await Promise.all([falcon.server.close(), defender.server.close(), sentinelone.server.close()]);
    },
  };
}
