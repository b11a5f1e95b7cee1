import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runtimeRiskOpenApiSpec as spec } from '@runtime-risk/backstage-plugin-runtime-risk-common';
import { loadOpenApiSpec } from './openapi';

describe('the generated OpenAPI document (-common)', () => {
  it('is the current openapi.yaml (run `npm run openapi:generate` when this fails)', () => {
    const yaml = parse(fs.readFileSync(path.join(__dirname, 'openapi.yaml'), 'utf8'));
    expect(spec).toEqual(yaml);
  });

  it('is what the router is fed with, without reading a file at run time', () => {
    const read = vi.spyOn(fs, 'readFileSync');
    try {
      expect(loadOpenApiSpec()).toBe(spec);
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
    }
  });
});
