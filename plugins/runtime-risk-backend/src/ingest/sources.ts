import type { SignalSource } from '@runtime-risk/backstage-plugin-runtime-risk-node';

/** A source registered through the extension point, with its effective schedule. */
export interface RegisteredSource {
  source: SignalSource;
  /** Sync frequency of a pull source; undefined for push sources. */
  frequencyMs?: number;
}
