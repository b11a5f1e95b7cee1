import type { LoggerService } from '@backstage/backend-plugin-api';
import type { Signal } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import type { SignalStore } from '../store/types';

/**
 * The store with its `commitBatch` watched, where every stored signal passes
 * (pull ingestion pages and webhook pushes): once a batch with signals has
 * committed, `listener` is told its signals. The commit's promise does not wait
 * for the listener (the ingestion runner pipelines its commits: a page's
 * transaction may wait for the one before), and a listener failure is logged,
 * never the write's. A failed commit tells nothing. Every other method is the
 * store's own.
 */
export function onSignalsCommitted<S extends Pick<SignalStore, 'commitBatch'>>(
  store: S,
  listener: (signals: Signal[]) => Promise<void> | void,
  logger: LoggerService,
): S {
  const told = (signals: Signal[]) => {
    try {
      Promise.resolve(listener(signals)).catch(e => logger.warn(`runtime-risk: after a signal batch: ${(e as Error)?.message ?? String(e)}`));
    } catch (e) {
      logger.warn(`runtime-risk: after a signal batch: ${(e as Error)?.message ?? String(e)}`);
    }
  };
  const commitBatch: SignalStore['commitBatch'] = async batch => {
    await store.commitBatch(batch);
    if (batch.signals.length) told(batch.signals);
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'commitBatch') return commitBatch;
      const value = Reflect.get(target, prop, receiver);
      // the store's own methods run on the store itself
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
