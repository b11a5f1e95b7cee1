/**
 * Fake EDR vendor servers for trying the CrowdStrike, Defender and SentinelOne
 * sources locally (see README.md, "Trying the EDR sources against fake vendor servers"):
 *
 *   node --require @backstage/cli/config/nodeTransform.cjs examples/fake-edr/server.ts \
 *     [--crowdstrike-port 7101] [--defender-port 7102] [--sentinelone-port 7103]
 *
 * Ports also come from FAKE_EDR_CROWDSTRIKE_PORT, FAKE_EDR_DEFENDER_PORT and
 * FAKE_EDR_SENTINELONE_PORT. Each server takes `POST /_admin/alerts` with
 * `{"hostname": "web-01", "severity": 80}` (Falcon 1-100; Defender "High";
 * SentinelOne "confidenceLevel": "malicious") to add an alert while running.
 */
import { parseArgs } from 'node:util';
import { FAKE_EDR_DEFAULT_PORTS, startFakeEdr } from './demo';

function port(flag: string | undefined, env: string | undefined, fallback: number, name: string): number {
  const raw = flag ?? env;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: '${raw}' is not a port number`);
  return n;
}

async function main() {
  const { values } = parseArgs({
    options: {
      'crowdstrike-port': { type: 'string' },
      'defender-port': { type: 'string' },
      'sentinelone-port': { type: 'string' },
    },
  });
  const edr = await startFakeEdr({
    crowdstrike: port(values['crowdstrike-port'], process.env.FAKE_EDR_CROWDSTRIKE_PORT, FAKE_EDR_DEFAULT_PORTS.crowdstrike, '--crowdstrike-port'),
    defender: port(values['defender-port'], process.env.FAKE_EDR_DEFENDER_PORT, FAKE_EDR_DEFAULT_PORTS.defender, '--defender-port'),
    sentinelone: port(values['sentinelone-port'], process.env.FAKE_EDR_SENTINELONE_PORT, FAKE_EDR_DEFAULT_PORTS.sentinelone, '--sentinelone-port'),
  });
  process.stdout.write(
    [
      `fake CrowdStrike Falcon: ${edr.falcon.server.url} (${edr.falcon.alerts.length} alert)`,
      `fake Microsoft Defender: ${edr.defender.server.url} (${edr.defender.alerts.length} alert)`,
      `fake SentinelOne:        ${edr.sentinelone.server.url} (${edr.sentinelone.threats.length} threat)`,
      `add an alert: curl -X POST ${edr.falcon.server.url}/_admin/alerts -H 'content-type: application/json' -d '{"hostname":"web-01","severity":80}'`,
      '',
    ].join('\n'),
  );
  const stop = () => {
    edr.close().then(
      () => process.exit(0),
      e => {
        process.stderr.write(`failed to stop: ${e}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch(e => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
