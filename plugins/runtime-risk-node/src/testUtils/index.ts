/**
 * Test helpers for Runtime Risk signal source modules: a fake vendor HTTP server
 * on loopback with a fake OAuth2 token issuer and fault injection, the admin
 * route of the fake vendor servers, a fast clock, and what a module registers
 * through the extension point. Imports only this package's dependencies and
 * node built-ins.
 *
 * @packageDocumentation
 */
export * from './fakeServer';
export * from './admin';
export * from './testing';
