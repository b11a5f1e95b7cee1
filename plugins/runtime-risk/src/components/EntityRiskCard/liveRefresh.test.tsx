import '../../testing/configure';
import { act, screen, waitFor, within } from '@testing-library/react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import type { Entity } from '@backstage/catalog-model';
import { signalApiRef, type SignalApi } from '@backstage/plugin-signals-react';
import type { JsonObject } from '@backstage/types';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeRisk, makeSource } from '../../testing/fixtures';
import { EntityRiskCard } from './EntityRiskCard';
import { EntityRiskContent } from '../EntityRiskContent';

/**
 * Issue 18 part 4: the card and the tab refetch when the backend announces a
 * change on the signals service (`runtime-risk:<entityRef>`), and keep polling
 * when the signals plugin is not installed.
 */
const entity: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'Payments-API', namespace: 'default' },
  spec: { type: 'service', owner: 'team-payments', lifecycle: 'production' },
};
// the fake server keys risks by the lower-cased ref, as the backend's index does
const REF = 'component:default/payments-api';
const CHANNEL = 'runtime-risk:component:default/payments-api';

/** The signals plugin's API as signals-react sees it: subscriptions by channel, messages sent by the test. */
class FakeSignalApi implements SignalApi {
  readonly subscribers = new Map<string, Set<(message: JsonObject) => void>>();
  subscribe<T extends JsonObject = JsonObject>(channel: string, onMessage: (message: T) => void) {
    const set = this.subscribers.get(channel) ?? new Set();
    set.add(onMessage as (message: JsonObject) => void);
    this.subscribers.set(channel, set);
    return { unsubscribe: () => set.delete(onMessage as (message: JsonObject) => void) };
  }
  send(channel: string, message: JsonObject = { type: 'changed' }) {
    for (const fn of this.subscribers.get(channel) ?? []) fn(message);
  }
}

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.sources = [makeSource()];
  server.risks.set(REF, [makeRisk({ riskLevel: 'low', score: 4, decision: 'proceed' })]);
});
afterEach(async () => {
  await server.stop();
});

const riskCalls = () => server.requests.filter(r => r.path.endsWith('/risk')).length;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function render(ui: JSX.Element, signals?: FakeSignalApi) {
  const apis: any[] = [[runtimeRiskApiRef, server.client()]];
  if (signals) apis.push([signalApiRef, signals]);
  return renderInTestApp(
    <TestApiProvider apis={apis as any}>
      <EntityProvider entity={entity}>{ui}</EntityProvider>
    </TestApiProvider>,
  );
}

describe('live refresh', () => {
  it('refetches the card when a change is announced on its channel, without a poll', async () => {
    const signals = new FakeSignalApi();
    // a poll of 100 ms would refresh within the test; with signals it slows to a safety net
    await render(<EntityRiskCard pollIntervalMs={100} />, signals);
    const section = await screen.findByRole('region', { name: 'production risk' });
    expect(within(section).getByText('Low')).toBeInTheDocument();
    expect([...signals.subscribers.keys()].sort()).toEqual(['runtime-risk:all', CHANNEL]);

    server.risks.set(REF, [makeRisk({ riskLevel: 'high', score: 97, decision: 'block' })]);
    await sleep(400);
    const calls = riskCalls();
    expect(within(section).getByText('Low')).toBeInTheDocument(); // no poll happened

    act(() => signals.send('runtime-risk:component:default/other'));
    await sleep(100);
    expect(riskCalls()).toBe(calls); // another entity's channel: nothing

    act(() => signals.send(CHANNEL));
    await waitFor(() => expect(within(screen.getByRole('region', { name: 'production risk' })).getByText('High')).toBeInTheDocument());
    expect(riskCalls()).toBe(calls + 1);

    server.risks.set(REF, [makeRisk({ riskLevel: 'moderate', score: 50, decision: 'approval_required' })]);
    act(() => signals.send('runtime-risk:all'));
    await waitFor(() => expect(within(screen.getByRole('region', { name: 'production risk' })).getByText('Moderate')).toBeInTheDocument());
  });

  it('falls back to polling when the signals plugin is not installed', async () => {
    await render(<EntityRiskCard pollIntervalMs={150} />);
    const section = await screen.findByRole('region', { name: 'production risk' });
    expect(within(section).getByText('Low')).toBeInTheDocument();
    server.risks.set(REF, [makeRisk({ riskLevel: 'high', score: 97, decision: 'block' })]);
    await waitFor(() => expect(within(screen.getByRole('region', { name: 'production risk' })).getByText('High')).toBeInTheDocument(), {
      timeout: 2000,
    });
  });

  it('refetches the risk tab when a change is announced', async () => {
    const signals = new FakeSignalApi();
    await render(<EntityRiskContent pollIntervalMs={100} />, signals);
    await waitFor(() => expect(riskCalls()).toBe(1));
    await sleep(300);
    expect(riskCalls()).toBe(1);
    // subscribed (useSignal subscribes in an effect) before the change is announced
    await waitFor(() => expect(signals.subscribers.get(CHANNEL)?.size ?? 0).toBeGreaterThan(0));
    act(() => signals.send(CHANNEL));
    await waitFor(() => expect(riskCalls()).toBe(2), { timeout: 5000 });
    // every view of the tab refetches (signals, decisions, exceptions, history)
    expect(server.requests.filter(r => r.path.includes('/history')).length).toBe(2);
  });
});
