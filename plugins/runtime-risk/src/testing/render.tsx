/**
 * Rendering helpers for the plugin's component tests: the payments-api entity
 * most tests show, a render of a component inside that entity's page with the
 * Runtime Risk API, a narrow viewport for MUI, and a table's column headers.
 */
import type { ReactElement } from 'react';
import { within } from '@testing-library/react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import type { Entity } from '@backstage/catalog-model';
import { runtimeRiskApiRef, type RuntimeRiskApi } from '../api/RuntimeRiskApi';

/** The production service component:default/payments-api owned by team-payments. */
export const paymentsApiEntity: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'payments-api', namespace: 'default' },
  spec: { type: 'service', owner: 'team-payments', lifecycle: 'production' },
};
export const PAYMENTS_API_REF = 'component:default/payments-api';

/** Renders `ui` in a test app, inside `entity`'s `EntityProvider`, with `api` as the Runtime Risk API. */
export function renderInEntity(ui: ReactElement, options: { api: RuntimeRiskApi; entity?: Entity }) {
  return renderInTestApp(
    <TestApiProvider apis={[[runtimeRiskApiRef, options.api]]}>
      <EntityProvider entity={options.entity ?? paymentsApiEntity}>{ui}</EntityProvider>
    </TestApiProvider>,
  );
}

/** Makes MUI's useMediaQuery see a viewport under 1280 px (theme.breakpoints.down('md')); returns the undo. */
export function pretendNarrowScreen(): () => void {
  const original = window.matchMedia;
  window.matchMedia = ((query: string) => ({
    matches: query.includes('max-width:1279.95px'),
    media: query,
    onchange: null,
    addListener: () => {},
    removeListener: () => {},
    addEventListener: () => {},
    removeEventListener: () => {},
    dispatchEvent: () => false,
  })) as typeof window.matchMedia;
  return () => {
    window.matchMedia = original;
  };
}

/** The trimmed texts of the column headers in `region`. */
export function columnHeaders(region: HTMLElement): string[] {
  return within(region)
    .getAllByRole('columnheader')
    .map(h => (h.textContent ?? '').trim());
}
