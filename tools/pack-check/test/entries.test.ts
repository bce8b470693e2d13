/**
 * Every entry of every published package exports at run time exactly the names its declaration files
 * declare: `import` gives the value exports of the `.d.ts`, `require` those of the `.d.cts`. A name only
 * at run time is API no consumer's types know of (and no review saw); a name only in the types is a
 * `TypeError`/`undefined` waiting in a consumer. Checked on the built `dist/` of each package.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredNames, entriesOf, runtimeNames } from '../src/entries.js';
import { publishedDirs } from '../src/pack.js';

const cases = publishedDirs().flatMap((dir) => {
  const name = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name;
  return entriesOf(dir).map((entry) => ({ spec: `${name}${entry.subpath.slice(1)}`, entry }));
});

describe.each(cases)('$spec', ({ entry }) => {
  it('import and require export exactly the value names its .d.ts and .d.cts declare', async () => {
    const runtime = await runtimeNames(entry);
    const types = { import: declaredNames(entry.import.types), require: declaredNames(entry.require.types) };
    expect(runtime.import.length).toBeGreaterThan(0);
    expect(runtime.import).toEqual(types.import);
    expect(runtime.require).toEqual(types.require);
  });
});
