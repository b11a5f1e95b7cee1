/* eslint-disable no-console */
/**
 * Benchmark of the correlation index (not a test): index rebuild for 10,000
 * entities and ~50,000 hosts, and the gate's index lookup at 1k and 10k
 * entities. Run from the repo root:
 *
 *   npx sucrase-node plugins/runtime-risk-backend/src/correlate/bench/correlationBench.ts
 */
import { performance } from 'node:perf_hooks';
import knexFactory from 'knex';
import type { Entity } from '@backstage/catalog-model';
import { normalizeAsset } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { DatabaseService } from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';
import { DatabaseRuntimeRiskStore } from '../../store/DatabaseRuntimeRiskStore';
import { buildIndex, KnownAssets } from '../indexBuilder';
import { hostsForEnvironment } from '../entityIndex';
import { candidateIdentifiers } from '../identifiers';

function entity(kind: string, name: string, annotations: Record<string, string>, spec: JsonObject, relations?: Entity['relations']): Entity {
  return { apiVersion: 'backstage.io/v1alpha1', kind, metadata: { name, namespace: 'default', annotations }, spec, relations };
}

function catalog(n: number): { entities: Entity[]; assets: KnownAssets } {
  const entities: Entity[] = [];
  const assets = new KnownAssets();
  for (let i = 0; i < n; i++) {
    const bucket = i % 10;
    const spec = { type: 'service', owner: 'team', system: `sys-${i % 200}` };
    if (bucket < 4) {
      entities.push(entity('Component', `svc-${i}`, { 'runtime-risk.io/hosts': `h-${i}-a, h-${i}-b.prod.example.com, 10.200.${i % 250}.${i % 200}` }, spec));
    } else if (bucket < 7) {
      entities.push(entity('Component', `svc-${i}`, { 'backstage.io/kubernetes-label-selector': `app=svc-${i},tier in (api,web)` }, spec));
      for (let p = 0; p < 10; p++) {
        assets.addAsset(
          normalizeAsset({
            ips: [],
            macs: [],
            k8s: { cluster: 'prod', namespace: 'ns', pod: `svc-${i}-${p}`, node: `node-${(i * 10 + p) % 3000}`, labels: { app: `svc-${i}`, tier: 'api' } },
          }),
        );
      }
    } else if (bucket < 9) {
      entities.push(entity('Component', `svc-${i}`, {}, spec, [{ type: 'dependsOn', targetRef: `resource:default/host-${i}` }]));
      entities.push(entity('Resource', `host-${i}`, { 'runtime-risk.io/hostname': `vm-${i}` }, { type: 'vm', owner: 'team', environment: 'production' }));
    } else {
      const x = Math.floor(i / 250) % 250;
      const y = i % 250;
      entities.push(entity('Component', `svc-${i}`, { 'runtime-risk.io/hosts': `10.${x}.${y}.0/24` }, spec));
      for (let h = 1; h <= 8; h++) assets.addAsset(normalizeAsset({ ips: [`10.${x}.${y}.${h}`], macs: [] }));
    }
  }
  return { entities, assets };
}

async function run(n: number) {
  const { entities, assets } = catalog(n);
  let t = performance.now();
  const { entries } = buildIndex({ entities, assets, inventory: [], updatedAt: new Date().toISOString() });
  const buildMs = performance.now() - t;
  const hosts = entries.reduce((sum, e) => sum + e.hosts.length, 0);

  const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
  const database = { getClient: async () => knex } as unknown as DatabaseService;
  const store = await DatabaseRuntimeRiskStore.create({ database });
  t = performance.now();
  await store.replaceEntityIndex(entries);
  const writeMs = performance.now() - t;

  // the gate's correlation lookup: one indexed entity, its hosts, their signals by exact identifier
  const sample = entries.filter((_, i) => i % Math.max(1, Math.floor(entries.length / 200)) === 0).slice(0, 200);
  t = performance.now();
  for (const e of sample) {
    const entry = await store.getEntity(e.entityRef);
    const values = hostsForEnvironment(entry!, 'production').flatMap(h => candidateIdentifiers(h.value).map(c => c.value));
    await store.findSignalsByIdentifiers(values);
  }
  const lookupMs = (performance.now() - t) / sample.length;
  await knex.destroy();
  console.log(
    `${n} entities (${entries.length} indexed, ${hosts} hosts, ${assets.pods.size} pods, ${assets.ips.size} IPs): ` +
      `build ${buildMs.toFixed(0)} ms, store write (SQLite) ${writeMs.toFixed(0)} ms, gate lookup ${lookupMs.toFixed(2)} ms/entity`,
  );
}

async function main() {
  await run(1000);
  await run(10000);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
