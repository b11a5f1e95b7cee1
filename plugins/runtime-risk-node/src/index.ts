/**
 * Node library for Runtime Risk: the SignalSource interface, the extension
 * point modules register through, and shared helpers for adapters.
 *
 * @packageDocumentation
 */
export * from './source';
export * from './extensions';
export * from './gate';
export * from './http';
