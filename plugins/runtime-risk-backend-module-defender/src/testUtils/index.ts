/**
 * Test helpers for the Microsoft Defender for Endpoint module: a fake Defender
 * API on loopback (identity token endpoint, alerts, machines, fault injection).
 *
 * @packageDocumentation
 */
export * from './fakeDefender';
