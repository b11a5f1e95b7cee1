import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Config } from '@backstage/config';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';

/** `matchedBy` of hosts found through the inventory. */
export const MATCHED_BY_INVENTORY = 'inventory';

/** One inventory entry: the hosts of an entity, in one environment or (without `environment`) in all. */
export interface InventoryEntry {
  /** Lower-cased full entity ref. */
  entityRef: string;
  environment?: string;
  hosts: string[];
}

const EntrySchema = z
  .object({
    entityRef: z.string().min(1),
    environment: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, { message: 'must be letters, digits, - or _' })
      .optional(),
    hosts: z.array(z.string().min(1)),
  })
  .strict();

const InventorySchema = z.array(EntrySchema);
const FileSchema = z.object({ inventory: InventorySchema }).strict();

function describe(error: z.ZodError, where: string): string {
  return error.issues.map(i => `${[where, ...i.path.map(String)].join('.')}: ${i.message}`).join('; ');
}

function toEntries(items: z.infer<typeof InventorySchema>, where: string): InventoryEntry[] {
  return items.map((item, i) => {
    let entityRef: string;
    try {
      entityRef = stringifyEntityRef(parseEntityRef(item.entityRef, { defaultKind: 'component', defaultNamespace: 'default' }));
    } catch (e) {
      throw new Error(`${where}.${i}.entityRef: ${(e as Error).message}`);
    }
    const entry: InventoryEntry = { entityRef: entityRef.toLowerCase(), hosts: item.hosts };
    if (item.environment) entry.environment = item.environment;
    return entry;
  });
}

/** Parses the contents of an inventory file (YAML or JSON: a list of entries or `{ inventory: [...] }`). */
export function parseInventoryFile(text: string, where: string): InventoryEntry[] {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new Error(`${where}: not valid YAML or JSON (${(e as Error).message})`);
  }
  if (Array.isArray(data) || data === null || data === undefined) {
    const parsed = InventorySchema.safeParse(data ?? []);
    if (!parsed.success) throw new Error(describe(parsed.error, where));
    return toEntries(parsed.data, where);
  }
  const parsed = FileSchema.safeParse(data);
  if (!parsed.success) throw new Error(describe(parsed.error, where));
  return toEntries(parsed.data.inventory, `${where}.inventory`);
}

/**
 * The inventory of `runtimeRisk.correlation.inventory` (a list in config) and
 * `runtimeRisk.correlation.inventoryFile` (a YAML/JSON file, re-read on every
 * index rebuild so edits apply without a restart). Both are validated when
 * created, failing with the key's name.
 */
export class InventorySource {
  private constructor(
    private readonly listed: InventoryEntry[],
    private readonly file: string | undefined,
  ) {}

  static fromConfig(config: Config | undefined, baseDir = process.cwd()): InventorySource {
    const key = 'runtimeRisk.correlation.inventory';
    let listed: InventoryEntry[] = [];
    const raw = config?.getOptional(key);
    if (raw !== undefined) {
      const parsed = InventorySchema.safeParse(raw);
      if (!parsed.success) throw new Error(`Invalid config at ${describe(parsed.error, key)}`);
      listed = toEntries(parsed.data, key);
    }
    const fileKey = 'runtimeRisk.correlation.inventoryFile';
    const file = config?.getOptionalString(fileKey);
    const source = new InventorySource(listed, file ? path.resolve(baseDir, file) : undefined);
    if (source.file) {
      try {
        source.readFile();
      } catch (e) {
        throw new Error(`Invalid config at ${fileKey}: ${(e as Error).message}`);
      }
    }
    return source;
  }

  static of(entries: InventoryEntry[]): InventorySource {
    return new InventorySource(entries, undefined);
  }

  private readFile(): InventoryEntry[] {
    if (!this.file) return [];
    return parseInventoryFile(fs.readFileSync(this.file, 'utf8'), this.file);
  }

  /** All entries: the config list, then the file's (read now). Throws if the file became unreadable or invalid. */
  entries(): InventoryEntry[] {
    return [...this.listed, ...this.readFile()];
  }
}
