/**
 * Test helpers for the SentinelOne module: a fake SentinelOne API on loopback
 * (API token auth, threats with cursor paging, agents, fault injection).
 *
 * @packageDocumentation
 */
export * from './fakeSentinelOne';
