import '../../testing/configure';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { runtimeRiskApiRef } from '../../api/RuntimeRiskApi';
import { FakeRuntimeRiskServer } from '../../testing/fakeRuntimeRiskServer';
import { makeSignal } from '../../testing/fixtures';
import { ExceptionRequestForm, exceptionScopeText } from './ExceptionRequestForm';

const REF = 'component:default/payments-api';

let server: FakeRuntimeRiskServer;
beforeEach(async () => {
  server = await new FakeRuntimeRiskServer().start();
  server.handlers.push(req =>
    req.method === 'POST' && req.path === '/v1/exceptions'
      ? { status: 201, body: { id: 'exc-1', status: 'pending', ...(req.body as object) } }
      : undefined,
  );
});
afterEach(async () => {
  await server.stop();
});

async function renderForm(levels: Record<string, 'low' | 'moderate' | 'high' | 'unknown'>) {
  await renderInTestApp(
    <TestApiProvider apis={[[runtimeRiskApiRef, server.client()]]}>
      <ExceptionRequestForm
        entityRef={REF}
        environments={Object.keys(levels)}
        levels={levels}
        signals={[makeSignal({ id: 'crowdstrike:ldt-1', title: 'Credential dumping' })]}
      />
    </TestApiProvider>,
  );
  return within(await screen.findByRole('form', { name: 'exception request' }));
}

async function submit(f: ReturnType<typeof within>) {
  await userEvent.type(f.getByRole('textbox', { name: /Reason/ }), 'hotfix');
  fireEvent.change(f.getByLabelText('Expires at'), { target: { value: '2031-05-06T07:08' } });
  await userEvent.click(f.getByRole('button', { name: 'Request exception' }));
  await waitFor(() => expect(server.requests.some(q => q.method === 'POST')).toBe(true));
  return server.requests.find(q => q.method === 'POST')!.body as Record<string, unknown>;
}

describe('ExceptionRequestForm: maxLevel and what the backend does', () => {
  it('prefills the maximum level with the current level and says the exception is revoked above it', async () => {
    const f = await renderForm({ production: 'moderate', staging: 'low' });
    expect(f.getByLabelText('Maximum risk level')).toHaveValue('moderate');
    expect(f.getByText('current level in production: moderate')).toBeInTheDocument();
    expect(f.getByTestId('exception-scope')).toHaveTextContent(
      'It applies while the risk is at most moderate: it is revoked if the risk rises above moderate (a new signal), and the owners are told.',
    );
    // another environment: its own level
    await userEvent.selectOptions(f.getByLabelText('Environment'), 'staging');
    expect(f.getByLabelText('Maximum risk level')).toHaveValue('low');
    expect(f.getByTestId('exception-scope')).toHaveTextContent('revoked if the risk rises above low');
    // selectable; the text follows
    await userEvent.selectOptions(f.getByLabelText('Maximum risk level'), 'high');
    expect(f.getByTestId('exception-scope')).toHaveTextContent('at most high: it is revoked if the risk rises above high');
    const body = await submit(f);
    expect(body).toMatchObject({ environment: 'staging', maxLevel: 'high' });
    expect(body.signalIds).toBeUndefined();
  });

  it('sends the prefilled level when left alone', async () => {
    const f = await renderForm({ production: 'high' });
    expect(await submit(f)).toMatchObject({ environment: 'production', maxLevel: 'high' });
  });

  it('scoped to signals: no maximum level, and says it never waives a down or stale source', async () => {
    const f = await renderForm({ production: 'high' });
    await userEvent.click(f.getByRole('checkbox', { name: /crowdstrike:ldt-1/ }));
    expect(f.queryByLabelText('Maximum risk level')).toBeNull();
    expect(f.getByTestId('exception-scope')).toHaveTextContent(
      'It waives only the selected signal: it is revoked if any other signal adds to the risk, and it never waives a signal source that is down or stale (source_unavailable, signals_stale).',
    );
    const body = await submit(f);
    expect(body.signalIds).toEqual(['crowdstrike:ldt-1']);
    expect(body.maxLevel).toBeUndefined();
  });

  it('with an unknown level: no maximum unless one is chosen, and says so', async () => {
    const f = await renderForm({ production: 'unknown' });
    expect(f.getByLabelText('Maximum risk level')).toHaveValue('');
    expect(f.getByTestId('exception-scope')).toHaveTextContent('applies whatever the level becomes');
    expect((await submit(f)).maxLevel).toBeUndefined();
  });

  it.each([
    [{ signalIds: [], maxLevel: 'low' }, 'revoked if the risk rises above low'],
    [{ signalIds: ['a', 'b'] }, 'waives only the 2 selected signals'],
    [{ signalIds: [] }, 'not known yet'],
  ])('words %j', (options, text) => {
    expect(exceptionScopeText(options)).toContain(text);
  });
});
