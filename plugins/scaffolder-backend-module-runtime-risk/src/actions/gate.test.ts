import { mockCredentials, mockServices, startTestBackend } from '@backstage/backend-test-utils';
import type { TestBackend } from '@backstage/backend-test-utils';
import { scaffolderActionsExtensionPoint, TemplateAction } from '@backstage/plugin-scaffolder-node';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import { GateDecisionSchema } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { addStandardScenarios } from '@internal/runtime-risk-test-harness';
import { scaffolderModuleRuntimeRisk } from '../module';
import { createStandInGatePlugin, StandInGateState } from '../testing/standInGate';

/**
 * The module runs in a real test backend next to a stand-in `runtime-risk`
 * plugin that serves the gate API on the backend's loopback port. The action
 * reaches it through the real `runtimeRiskGateServiceRef` default factory:
 * discovery + a plugin request token on behalf of the task's initiator.
 */
describe('runtime-risk:gate action', () => {
  const state = new StandInGateState();
  let backend: TestBackend;
  let action: TemplateAction<any, any, any>;
  const alice = mockCredentials.user('user:default/alice');

  beforeAll(async () => {
    const actions: TemplateAction<any, any, any>[] = [];
    backend = await startTestBackend({
      extensionPoints: [[scaffolderActionsExtensionPoint, { addActions: (...a) => actions.push(...a) }]],
      features: [
        scaffolderModuleRuntimeRisk,
        createStandInGatePlugin(state),
        mockServices.rootConfig.factory({ data: { app: { baseUrl: 'http://portal.test' } } }),
      ],
    });
    expect(actions.map(a => a.id)).toEqual(['runtime-risk:gate']);
    action = actions[0];
    expect(action.supportsDryRun).toBe(true);
  });

  afterAll(async () => {
    await backend.stop();
  });

  beforeEach(() => {
    state.reset();
    addStandardScenarios(state.scenarios, [
      { code: 'signal_active', message: 'critical detection "Credential dumping" on web-01', signalIds: ['crowdstrike:ldt-1'] },
    ]);
  });

  function context(input: Record<string, string | number | boolean>, extra: { isDryRun?: boolean } = {}) {
    const logger = mockServices.logger.mock();
    // createMockActionContext keeps only input/logger/secrets/task/user/workspace,
    // so the initiator and the dry-run flag are set on the context it returns.
    const ctx = {
      ...createMockActionContext({ input, logger }),
      getInitiatorCredentials: async () => alice,
      ...extra,
    };
    const outputs = () => Object.fromEntries(vi.mocked(ctx.output).mock.calls);
    const logged = () => vi.mocked(logger.info).mock.calls.map((c: unknown[]) => String(c[0])).join('\n');
    return { ctx, outputs, logged };
  }

  it('proceeds, logs the reasons and outputs the decision', async () => {
    const { ctx, outputs, logged } = context({ entityRef: 'component:default/quiet', environment: 'production' });
    await action.handler(ctx);
    const [decision] = [...state.decisions.values()];
    expect(outputs()).toEqual({
      decision: 'proceed',
      decisionId: decision.decisionId,
      riskLevel: 'low',
      score: 0,
      status: 'final',
      reasons: [{ code: 'no_active_signals', message: 'no active signals on 1 host', signalIds: [] }],
      decisionUrl: `http://portal.test/runtime-risk/decisions/${decision.decisionId}`,
    });
    expect(logged()).toContain('no_active_signals: no active signals on 1 host');
    // The gate saw the task's initiator and the task as the pipeline.
    expect(state.calls[0].principal).toBe('user:default/alice');
    expect(state.calls[0].body).toMatchObject({
      entityRef: 'component:default/quiet',
      environment: 'production',
      dryRun: false,
      pipeline: { provider: 'backstage-scaffolder', runId: 'mock-task-id', url: 'http://portal.test/create/tasks/mock-task-id' },
    });
  });

  it('sends an Idempotency-Key and retries a lost answer with it: one decision, not two', async () => {
    state.failAfterRecord = 1;
    const { ctx, outputs } = context({ entityRef: 'component:default/quiet', environment: 'production' });
    await action.handler(ctx);
    const posts = state.calls.filter(c => c.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(posts[0].idempotencyKey).toMatch(/^scaffolder:mock-task-id:[0-9a-f-]{36}$/);
    expect(posts[1].idempotencyKey).toBe(posts[0].idempotencyKey);
    expect(state.decisions.size).toBe(1);
    expect(outputs().decisionId).toBe([...state.decisions.keys()][0]);
    // another run of the step: another key, a new decision
    await action.handler(context({ entityRef: 'component:default/quiet', environment: 'production' }).ctx);
    expect(state.calls.filter(c => c.method === 'POST')[2].idempotencyKey).not.toBe(posts[0].idempotencyKey);
    expect(state.decisions.size).toBe(2);
  });

  it('fails the step on block, naming the reason, after setting the outputs', async () => {
    const { ctx, outputs } = context({ entityRef: 'component:default/payments', environment: 'production' });
    await expect(action.handler(ctx)).rejects.toThrow(
      /blocked component:default\/payments -> production: critical detection "Credential dumping" on web-01/,
    );
    expect(outputs()).toMatchObject({ decision: 'block', riskLevel: 'high', score: 97.3 });
  });

  it('fails on approval_required when wait is not set', async () => {
    const { ctx, outputs } = context({ entityRef: 'component:default/checkout', environment: 'production' });
    await expect(action.handler(ctx)).rejects.toThrow(/requires approval .*http:\/\/portal\.test\/runtime-risk\/decisions\//);
    expect(outputs()).toMatchObject({ decision: 'approval_required', status: 'pending' });
    expect(state.calls.filter(c => c.method === 'GET')).toHaveLength(0);
  });

  it('with wait, polls the decision until it is approved, then proceeds', async () => {
    state.failNextPolls = 1; // a transient 503 while waiting does not fail the step
    state.onPoll = (decision, polls) => {
      if (polls === 3) {
        state.decisions.set(decision.decisionId, {
          ...decision,
          status: 'approved',
          reasons: [...decision.reasons, { code: 'approval_granted', message: 'approved by user:default/bob', signalIds: [] }],
        });
      }
    };
    const { ctx, outputs, logged } = context({
      entityRef: 'component:default/checkout',
      environment: 'production',
      wait: true,
      timeout: '20s',
      pollInterval: '100ms',
    });
    await action.handler(ctx);
    expect(outputs()).toMatchObject({ decision: 'proceed', status: 'approved' });
    expect(logged()).toContain('approval_granted: approved by user:default/bob');
    expect(state.polls).toBe(3);
    expect(state.calls.filter(c => c.method === 'GET').every(c => c.principal === 'user:default/alice')).toBe(true);
  });

  it('with wait, fails when the approval is rejected', async () => {
    state.onPoll = decision => state.decisions.set(decision.decisionId, { ...decision, status: 'rejected' });
    const { ctx, outputs } = context({
      entityRef: 'component:default/checkout',
      environment: 'production',
      wait: true,
      pollInterval: '50ms',
    });
    await expect(action.handler(ctx)).rejects.toThrow(/approval was rejected/);
    expect(outputs()).toMatchObject({ decision: 'block', status: 'rejected' });
  });

  it('with wait, fails when no approval comes within the timeout', async () => {
    const started = Date.now();
    const { ctx } = context({
      entityRef: 'component:default/checkout',
      environment: 'production',
      wait: true,
      timeout: '1s',
      pollInterval: '200ms',
    });
    await expect(action.handler(ctx)).rejects.toThrow(/was not granted within 1s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(state.polls).toBeGreaterThanOrEqual(3);
  });

  it('in a scaffolder dry run, asks the gate in dry-run mode and never fails', async () => {
    const { ctx, outputs, logged } = context(
      { entityRef: 'component:default/payments', environment: 'production' },
      { isDryRun: true },
    );
    await action.handler(ctx);
    expect(state.calls[0].body).toMatchObject({ dryRun: true });
    expect(outputs()).toMatchObject({ decision: 'proceed' });
    expect(logged()).toContain('the gate would have answered block');
  });

  it('with dryRun input, records a shadow decision and does not fail', async () => {
    const { ctx } = context({ entityRef: 'component:default/payments', environment: 'production', dryRun: true });
    await action.handler(ctx);
    const [decision] = [...state.decisions.values()];
    expect(GateDecisionSchema.parse(decision)).toMatchObject({ dryRun: true, wouldHaveBeen: 'block' });
  });

  it('fails with the gate message for an unknown entity (404)', async () => {
    const { ctx } = context({ entityRef: 'component:default/ghost', environment: 'production' });
    await expect(action.handler(ctx)).rejects.toThrow(/404 NotFoundError: entity 'component:default\/ghost' not found/);
  });

  it('fails with the field name for a malformed entity ref (400)', async () => {
    const { ctx } = context({ entityRef: 'component:', environment: 'production' });
    await expect(action.handler(ctx)).rejects.toThrow(/400 InputError: entityRef: malformed entity ref/);
  });

  it('rejects a bad timeout before calling the gate', async () => {
    const { ctx } = context({ entityRef: 'component:default/quiet', environment: 'production', wait: true, timeout: 'soon' });
    await expect(action.handler(ctx)).rejects.toThrow(/timeout: 'soon' is not a duration/);
    expect(state.calls).toHaveLength(0);
  });
});
