import { useEffect, useRef } from 'react';
import useInterval from 'react-use/esm/useInterval';
import { useSignal } from '@backstage/plugin-signals-react';
import { RISK_ALL_CHANNEL, riskChannel } from '@runtime-risk/backstage-plugin-runtime-risk-common';

/** With live updates, the poll is only a safety net: this many times slower (at least 5 minutes). */
export const LIVE_POLL_FACTOR = 10;
const MIN_LIVE_POLL_MS = 5 * 60_000;

/**
 * Keeps an entity's risk views current (issue 18 part 4). When the signals
 * plugin is installed (`signalApiRef` present), `refresh` runs when the backend
 * announces a change on `runtime-risk:<entityRef>` or `runtime-risk:all` (the
 * message carries no data: `refresh` refetches through the normal,
 * permission-checked API) and the poll slows down to a safety net; without it,
 * `refresh` runs every `pollIntervalMs` as before.
 */
export function useLiveRefresh(entityRef: string, refresh: () => void, pollIntervalMs: number): { live: boolean } {
  const { lastSignal, isSignalsAvailable } = useSignal(riskChannel(entityRef));
  const { lastSignal: lastAll } = useSignal(RISK_ALL_CHANNEL);
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => {
    if (lastSignal) latest.current();
  }, [lastSignal]);
  useEffect(() => {
    if (lastAll) latest.current();
  }, [lastAll]);
  useInterval(
    () => latest.current(),
    isSignalsAvailable ? Math.max(pollIntervalMs * LIVE_POLL_FACTOR, MIN_LIVE_POLL_MS) : pollIntervalMs,
  );
  return { live: isSignalsAvailable };
}
