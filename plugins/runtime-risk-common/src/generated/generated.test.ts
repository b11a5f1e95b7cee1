import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The committed contract files (types, routes, spec) are what openapi.yaml generates today. */
describe('generated API contract files', () => {
  it('are current (run `npm run openapi:generate` and commit when this fails)', async () => {
    const script = pathToFileURL(path.resolve(__dirname, '../../../../scripts/generate-openapi.mjs')).href;
    const { staleFiles } = (await import(script)) as { staleFiles(): Promise<string[]> };
    expect(await staleFiles()).toEqual([]);
  }, 60_000);
});
