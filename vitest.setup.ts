import { vi } from 'vitest';

// Backstage test utilities (mockServices.*.mock(), createMockActionContext) call `jest.fn`.
(globalThis as any).jest = vi;

// The store is tested on real PostgreSQL as well as SQLite. On this machine kind
// PostgreSQL listens on 127.0.0.1:5432 with trust auth; .ci/run makes sure it is up.
process.env.BACKSTAGE_TEST_DATABASE_POSTGRES15_CONNECTION_STRING ??=
  'postgresql://postgres@127.0.0.1:5432';
process.env.BACKSTAGE_TEST_DISABLE_DOCKER ??= '1';

if (typeof window !== 'undefined') {
  await import('@testing-library/jest-dom/vitest');
}
