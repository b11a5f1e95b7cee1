import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const setup = fileURLToPath(new URL('./vitest.setup.ts', import.meta.url));

export default defineConfig({
  test: {
    globals: true,
    setupFiles: [setup],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: [
            'plugins/runtime-risk-{common,node,backend,cli}/src/**/*.test.ts',
            'plugins/runtime-risk-backend-module-*/src/**/*.test.ts',
            'plugins/scaffolder-backend-module-runtime-risk/src/**/*.test.ts',
            'plugins/runtime-risk-openfeature-provider/src/**/*.test.ts',
            'packages/backend/src/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'web',
          environment: 'jsdom',
          include: ['plugins/runtime-risk/src/**/*.test.{ts,tsx}', 'packages/app/src/**/*.test.{ts,tsx}'],
          server: { deps: { inline: [/material-ui-popup-state/, /@backstage\//] } },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['e2e/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
