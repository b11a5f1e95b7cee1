/**
 * Test helpers for the CrowdStrike module: a fake CrowdStrike Falcon API on
 * loopback (OAuth2 token, Alerts API v2, Hosts API, fault injection).
 *
 * @packageDocumentation
 */
export * from './fakeFalcon';
