import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { createBackendPlugin, coreServices } from '@backstage/backend-plugin-api';
import {
  runtimeRiskSignalSourcesExtensionPoint,
  type SignalSource,
} from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { FileSignalSource, parseSignalFile, resolveRelativeTime } from './FileSignalSource';
import fileModule from './index';
import { readFileSourceConfig, resolveSourcePath } from './module';

const logger = mockServices.logger.mock();
const NOW = new Date('2026-11-23T12:00:00.000Z');

function tmpFile(name: string, content: string) {
  const dir = mkdtempSync(join(tmpdir(), 'rr-file-'));
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const sig = (id: string, extra: Record<string, unknown> = {}) => ({
  sourceId: id,
  severity: 'high',
  title: `detection ${id}`,
  asset: { hostname: 'web-01' },
  firstSeenAt: '2026-11-23T10:00:00Z',
  lastSeenAt: '2026-11-23T11:00:00Z',
  ...extra,
});

describe('resolveRelativeTime', () => {
  it.each([
    ['now', '2026-11-23T12:00:00.000Z'],
    ['now-30m', '2026-11-23T11:30:00.000Z'],
    ['now-2h', '2026-11-23T10:00:00.000Z'],
    ['now-3d', '2026-11-20T12:00:00.000Z'],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
    ['nowhere', 'nowhere'],
  ])('%s -> %s', (input, expected) => {
    expect(resolveRelativeTime(input, NOW)).toBe(expected);
  });
});

describe('parseSignalFile', () => {
  it('reads a JSON array', () => {
    expect(parseSignalFile(JSON.stringify([sig('a'), sig('b')])).records).toHaveLength(2);
  });
  it('reads { signals, asOf }', () => {
    const r = parseSignalFile(JSON.stringify({ asOf: 'now-2d', signals: [sig('a')] }, null, 2));
    expect(r.records).toHaveLength(1);
    expect(r.meta.asOf).toBe('now-2d');
  });
  it('reads NDJSON with a meta line and reports bad lines', () => {
    const text = [JSON.stringify({ _meta: { asOf: 'now-1h' } }), JSON.stringify(sig('a')), '{oops', JSON.stringify(sig('b'))].join('\n');
    const r = parseSignalFile(text);
    expect(r.records).toHaveLength(2);
    expect(r.meta.asOf).toBe('now-1h');
    expect(r.errors).toEqual([expect.stringContaining('line 3')]);
  });
  it('rejects a broken JSON array as a whole', () => {
    expect(() => parseSignalFile('[{"a":1},')).toThrow(/not valid JSON/);
  });
});

describe('FileSignalSource', () => {
  it('returns signals with resolved relative times and a content cursor', async () => {
    const p = tmpFile('s.ndjson', [JSON.stringify(sig('a', { lastSeenAt: 'now-1h', firstSeenAt: 'now-2h' }))].join('\n'));
    const src = new FileSignalSource({ id: 'file', path: p, now: () => NOW });
    const r = await src.fetch({ cursor: null, logger });
    expect(r.signals).toEqual([expect.objectContaining({ sourceId: 'a', lastSeenAt: '2026-11-23T11:00:00.000Z', firstSeenAt: '2026-11-23T10:00:00.000Z' })]);
    expect(r.cursor).toMatch(/^[0-9a-f]{32}$/);
  });

  it('returns nothing new for an unchanged file and re-reads when it changes', async () => {
    const p = tmpFile('s.json', JSON.stringify([sig('a')]));
    const src = new FileSignalSource({ id: 'file', path: p, now: () => NOW });
    const first = await src.fetch({ cursor: null, logger });
    expect(first.signals).toHaveLength(1);
    const second = await src.fetch({ cursor: first.cursor, logger });
    expect(second.signals).toHaveLength(0);
    expect(second.cursor).toBe(first.cursor);
    writeFileSync(p, JSON.stringify([sig('a'), sig('b')]));
    const third = await src.fetch({ cursor: second.cursor, logger });
    expect(third.signals.map(s => s.sourceId)).toEqual(['a', 'b']);
    expect(third.cursor).not.toBe(first.cursor);
  });

  it('reports asOf for a stale export', async () => {
    const p = tmpFile('old.json', JSON.stringify({ asOf: 'now-2d', signals: [sig('a')] }));
    const src = new FileSignalSource({ id: 'old', path: p, now: () => NOW });
    expect((await src.fetch({ cursor: null, logger })).asOf).toBe('2026-11-21T12:00:00.000Z');
  });

  it('throws naming the source and path when the file is missing', async () => {
    const src = new FileSignalSource({ id: 'gone', path: '/nonexistent/x.json' });
    await expect(src.fetch({ cursor: null, logger })).rejects.toThrow(/file source 'gone'.*\/nonexistent\/x.json.*ENOENT/);
    expect((await src.healthCheck()).ok).toBe(false);
  });

  it('counts unparseable NDJSON lines as rejected', async () => {
    const p = tmpFile('s.ndjson', `${JSON.stringify(sig('a'))}\nnot json\n`);
    const r = await new FileSignalSource({ id: 'file', path: p }).fetch({ cursor: null, logger });
    expect(r.signals).toHaveLength(1);
    expect(r.rejected).toBe(1);
  });
});

describe('config', () => {
  const cfg = (data: any) => mockServices.rootConfig({ data });
  it('is idle without a block', () => {
    expect(readFileSourceConfig(cfg({}))).toEqual([]);
  });
  it('reads path and files', () => {
    expect(readFileSourceConfig(cfg({ runtimeRisk: { sources: { file: { path: 'a.json', files: [{ id: 'b', path: 'b.json' }] } } } }))).toEqual([
      { id: 'file', path: 'a.json' },
      { id: 'b', path: 'b.json' },
    ]);
  });
  it('names the missing key', () => {
    expect(() => readFileSourceConfig(cfg({ runtimeRisk: { sources: { file: { files: [{ id: 'x' }] } } } }))).toThrow(
      'runtimeRisk.sources.file.files[0].path is required',
    );
    expect(() => readFileSourceConfig(cfg({ runtimeRisk: { sources: { file: {} } } }))).toThrow(/needs a `path`/);
  });
  it('resolves relative paths from the repository root', () => {
    expect(resolveSourcePath('examples/s.json', '/repo/packages/backend')).toBe('/repo/examples/s.json');
    expect(resolveSourcePath('examples/s.json', '/repo')).toBe('/repo/examples/s.json');
    expect(resolveSourcePath('/abs/s.json', '/repo')).toBe('/abs/s.json');
  });
});

describe('module', () => {
  it('registers one source per configured file through the extension point', async () => {
    const registered: SignalSource[] = [];
    const host = createBackendPlugin({
      pluginId: 'runtime-risk',
      register(env) {
        env.registerExtensionPoint(runtimeRiskSignalSourcesExtensionPoint, {
          addSignalSource: (...s) => registered.push(...s),
        });
        env.registerInit({ deps: { logger: coreServices.logger }, async init() {} });
      },
    });
    const p = tmpFile('s.json', JSON.stringify([sig('a')]));
    await startTestBackend({
      features: [
        host,
        fileModule,
        mockServices.rootConfig.factory({ data: { runtimeRisk: { sources: { file: { path: p } } } } }),
      ],
    });
    expect(registered.map(s => [s.id, s.type])).toEqual([['file', 'file']]);
  });
});
