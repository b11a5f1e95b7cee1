import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { mockServices } from '@backstage/backend-test-utils';
import type express from 'express';
import { createRouter } from '../http/router';
import type { RiskService } from '../gate/RiskService';
import type { ExceptionService } from '../gate/ExceptionService';
import type { RuntimeRiskStore } from '../store/types';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

function routesOf(router: express.Router): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          out.push(`${method.toLowerCase()} ${layer.route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((router as unknown as { stack: Layer[] }).stack);
  return out.sort();
}

describe('openapi.yaml', () => {
  const spec = parse(fs.readFileSync(path.join(__dirname, 'openapi.yaml'), 'utf8')) as {
    paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  };
  const documented = Object.entries(spec.paths)
    .flatMap(([p, ops]) => Object.keys(ops).filter(m => m !== 'parameters').map(m => `${m} ${p}`))
    .sort();

  it('documents every route of the router, and nothing more', async () => {
    const router = await createRouter({
      httpAuth: mockServices.httpAuth(),
      auditor: mockServices.auditor.mock(),
      logger: mockServices.logger.mock(),
      store: {} as RuntimeRiskStore,
      risk: {} as RiskService,
      exceptions: {} as ExceptionService,
      sources: () => [],
    });
    // `/openapi.json` serves this document itself (added by createValidatedOpenApiRouter)
    const routes = routesOf(router).filter(r => r !== 'get /openapi.json');
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(routes).toEqual(documented);
  });

  it('documents responses for every operation', () => {
    for (const [p, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(Object.keys(op.responses ?? {}), `${method} ${p}`).toContain('401');
      }
    }
  });
});
