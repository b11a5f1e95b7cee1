import { resolve as resolvePath, isAbsolute } from 'node:path';
import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import type { Config } from '@backstage/config';
import { runtimeRiskSignalSourcesExtensionPoint } from '@runtime-risk/backstage-plugin-runtime-risk-node';
import { FileSignalSource } from './FileSignalSource';

/** Reads `runtimeRisk.sources.file`: either `{ path, id? }` or `{ files: [{ id, path }] }`. */
export function readFileSourceConfig(config: Config): Array<{ id: string; path: string }> {
  const block = config.getOptionalConfig('runtimeRisk.sources.file');
  if (!block) return [];
  const out: Array<{ id: string; path: string }> = [];
  const single = block.getOptionalString('path');
  if (single !== undefined) {
    if (!single.trim()) throw new Error('runtimeRisk.sources.file.path must not be empty');
    out.push({ id: block.getOptionalString('id') ?? 'file', path: single });
  }
  const files = block.getOptionalConfigArray('files') ?? [];
  files.forEach((f, i) => {
    const path = f.getOptionalString('path');
    const id = f.getOptionalString('id');
    if (!id) throw new Error(`runtimeRisk.sources.file.files[${i}].id is required`);
    if (!path) throw new Error(`runtimeRisk.sources.file.files[${i}].path is required`);
    out.push({ id, path });
  });
  if (out.length === 0) {
    throw new Error('runtimeRisk.sources.file needs a `path` or a `files` list');
  }
  const ids = new Set<string>();
  for (const f of out) {
    if (ids.has(f.id)) throw new Error(`runtimeRisk.sources.file: duplicate source id '${f.id}'`);
    ids.add(f.id);
  }
  return out;
}

/** Resolves a configured path: absolute as is, relative to the repository root (where app-config.yaml lives) otherwise. */
export function resolveSourcePath(path: string, cwd = process.cwd()): string {
  if (isAbsolute(path)) return path;
  // backstage-cli starts the backend with packages/backend as cwd; app-config paths are relative to the repo root.
  const root = /[\\/]packages[\\/]backend[\\/]?$/.test(cwd) ? resolvePath(cwd, '..', '..') : cwd;
  return resolvePath(root, path);
}

/** The file signal source module: reads normalized signals from JSON/NDJSON files. */
export const runtimeRiskModuleFile = createBackendModule({
  pluginId: 'runtime-risk',
  moduleId: 'file',
  register(env) {
    env.registerInit({
      deps: {
        sources: runtimeRiskSignalSourcesExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
      },
      async init({ sources, config, logger }) {
        for (const f of readFileSourceConfig(config)) {
          const path = resolveSourcePath(f.path);
          logger.info(`file signal source '${f.id}' reads ${path}`);
          sources.addSignalSource(new FileSignalSource({ id: f.id, path, logger }));
        }
      },
    });
  },
});
