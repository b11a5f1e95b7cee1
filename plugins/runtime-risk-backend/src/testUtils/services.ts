/**
 * The backend's services wired by hand on a test database, for service-level
 * tests that drive the clock: the real store, entity indexer (one `payments`
 * component on host web-01), risk service with the default policy, and a
 * memory pull source `edr` the risk service knows.
 */
import { mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { Knex } from 'knex';
import { EntityIndexer } from '../correlate/EntityIndexer';
import { DEFAULT_POLICY_CONFIG, compilePolicy } from '../engine';
import { RiskService } from '../gate/RiskService';
import { DatabaseRuntimeRiskStore } from '../store/DatabaseRuntimeRiskStore';
import type { ExceptionRecord } from '../store/types';
import { MemoryPullSource, component } from './fixtures';

/** The start time of the service tests. */
export const T0 = Date.parse('2026-11-23T12:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

/** A stored signal of source `edr` on host web-01, first and last seen (and fetched) at `at`. */
export function edrSignal(sourceId: string, severity: Signal['severity'], at: number, status: Signal['status'] = 'active'): Signal {
  return {
    id: `edr:${sourceId}`,
    source: 'edr',
    sourceId,
    kind: 'detection',
    severity,
    confidence: 1,
    status,
    title: sourceId,
    tactics: [],
    techniques: [],
    asset: { hostname: 'web-01', ips: [], macs: [] },
    firstSeenAt: iso(at),
    lastSeenAt: iso(at),
    fetchedAt: iso(at),
  };
}

/** Creates the services on `knex`; set `time.now` (ms) to move their clock, which starts at {@link T0}. */
export async function createRiskServices(knex: Knex) {
  const store = await DatabaseRuntimeRiskStore.create({ database: mockServices.database({ knex }) });
  const time = { now: T0 };
  const clock = () => new Date(time.now);
  const policy = compilePolicy(DEFAULT_POLICY_CONFIG);
  const indexer = new EntityIndexer({
    catalog: catalogServiceMock({ entities: [component('payments', { 'runtime-risk.io/hosts': 'web-01' })] }),
    auth: mockServices.auth(),
    store,
    logger: mockServices.logger.mock(),
    clock,
  });
  await indexer.rebuild();
  const edr = new MemoryPullSource('edr');
  const risk = new RiskService({ store, indexer, policy, sources: () => [{ source: edr, frequencyMs: 30_000 }], clock });
  const auditor = mockServices.auditor.mock();
  return { store, time, clock, policy, indexer, edr, risk, auditor };
}

/** An exception security approved for payments in production, valid two hours from T0 (no signal scope, no maxLevel). */
export function approvedException(id: string, overrides: Partial<ExceptionRecord> = {}): ExceptionRecord {
  return {
    id,
    entityRef: 'component:default/payments',
    environment: 'production',
    reason: 'hotfix',
    requestedBy: 'user:default/dev',
    status: 'approved',
    approvedBy: 'user:default/security',
    expiresAt: iso(T0 + 2 * 3600_000),
    signalIds: null,
    maxLevel: null,
    createdAt: iso(T0),
    ...overrides,
  };
}
