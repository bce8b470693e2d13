/**
 * What loading @mp/eal costs in files (README "Attach time"): two JS files of @mp — @mp/eal's stub and
 * @mp/memory's internal.cjs (the code cache loader) — and both bundles run through the V8 code cache;
 * the ES module entry loads the same CommonJS files. A guard of the build's shape (tsup.base.ts:
 * cachedBundle, viaInternal, codeCache), not a timing: each file more costs a resolution, a read and a
 * compile at every start.
 */
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '@mp/test-utils';

const pkgs = join(import.meta.dirname, '..', '..');
const temp = useTempDir('attach-files');

interface Loaded {
  /** JS files under packages/ in require.cache, relative to packages/. */
  files: string[];
  /** [bundle relative to packages/, cache state] in load order. */
  bundles: Array<[string, string]>;
  /** Every public name of @mp/memory is the internal entry's own value. */
  samePublic: boolean;
}

function load(entry: 'require' | 'import', cacheDir: string): Loaded {
  const eal = JSON.stringify(join(pkgs, 'eal', 'dist', entry === 'require' ? 'index.cjs' : 'index.js'));
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const before = new Set(Object.keys(require.cache));
    ${entry === 'require' ? `require(${eal});` : `await import(${eal});`}
    const files = Object.keys(require.cache).filter((f) => !before.has(f) && f.startsWith(${JSON.stringify(pkgs + '/')}));
    const internal = require(${JSON.stringify(join(pkgs, 'memory', 'dist', 'internal.cjs'))});
    const pub = require(${JSON.stringify(join(pkgs, 'memory', 'dist', 'index.cjs'))});
    const samePublic = Object.keys(pub).length > 10 && Object.keys(pub).every((k) => pub[k] === internal[k]);
    console.log(JSON.stringify({ files, bundles: internal.codeCacheStatus().map((s) => [s.bundle, s.state]), samePublic }));
  `], { encoding: 'utf8', env: { ...process.env, MP_CODE_CACHE: cacheDir } });
  const r = JSON.parse(out.trim().split('\n').pop()!) as Loaded;
  const rel = (f: string): string => relative(pkgs, f);
  return { ...r, files: r.files.map(rel).sort(), bundles: r.bundles.map(([b, s]) => [rel(b), s]) };
}

describe('files an attach loads', () => {
  it.each(['require', 'import'] as const)('%s @mp/eal: two JS files of @mp, both bundles through the code cache (written, then used)', (entry) => {
    const dir = join(temp(), 'v8');
    const first = load(entry, dir);
    expect(first.files).toEqual(['eal/dist/index.cjs', 'memory/dist/internal.cjs']);
    expect(first.bundles).toEqual([
      ['memory/dist/internal.bundle.cjs', 'miss'],
      ['eal/dist/index.bundle.cjs', 'miss'],
    ]);
    expect(first.samePublic).toBe(true);
    const again = load(entry, dir);
    expect(again.files).toEqual(first.files);
    expect(again.bundles.map(([, s]) => s)).toEqual(['hit', 'hit']);
  });
});
