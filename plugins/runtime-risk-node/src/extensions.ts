import { createExtensionPoint } from '@backstage/backend-plugin-api';
import type { SignalSource } from './source';

/** Lets backend modules add EDR signal sources to the runtime-risk plugin. */
export interface RuntimeRiskSignalSourcesExtensionPoint {
  addSignalSource(...sources: SignalSource[]): void;
}

export const runtimeRiskSignalSourcesExtensionPoint =
  createExtensionPoint<RuntimeRiskSignalSourcesExtensionPoint>({
    id: 'runtime-risk.signal-sources',
  });
