import fs from 'node:fs';
import path from 'node:path';

/**
 * The backend's rooms and whom each may import (docs/DESIGN.md, "Backend
 * layout"): a gate request reads top-down, http -> gate -> correlate / engine ->
 * store, and never returns to a room it left. Tests, `testUtils/` and `faults/`
 * may import anything; `plugin.ts` and `schedule.ts` wire everything.
 */
const MAY_IMPORT: Record<string, string[]> = {
  http: ['gate', 'ingest', 'correlate', 'engine', 'store', 'schema', 'lib'],
  gate: ['correlate', 'engine', 'ingest', 'store', 'lib'],
  ingest: ['store', 'lib'],
  correlate: ['store', 'lib'],
  engine: ['lib'],
  store: ['audit', 'lib'],
  audit: ['lib'],
  lib: [],
  schema: [],
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

describe('backend rooms', () => {
  it('import only the rooms below them', () => {
    const wrong: string[] = [];
    for (const room of Object.keys(MAY_IMPORT)) {
      for (const file of sourceFiles(path.join(__dirname, room))) {
        if (file.includes(`${path.sep}bench${path.sep}`)) continue;
        const text = fs.readFileSync(file, 'utf8');
        for (const [, spec] of text.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)) {
          const target = path.relative(__dirname, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
          if (target !== room && !MAY_IMPORT[room].includes(target)) {
            wrong.push(`${path.relative(__dirname, file)} imports ${spec} (${room} may import ${MAY_IMPORT[room].join(', ') || 'no room'})`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
