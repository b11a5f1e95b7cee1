/**
 * Fake EDR vendor servers on loopback, shared by the adapter tests and the
 * runnable `examples/fake-edr/server.ts`. Not exported from the package index.
 */
export * from './server';
export * from './admin';
export * from './crowdstrike';
export * from './defender';
export * from './sentinelone';
