/**
 * What loading @mp/eal costs in files (README "Attach time"): two JS files of @mp — @mp/eal's stub and
 * @mp/memory's internal.cjs (a bootstrap of a few lines, src/boot.cjs) — and both bundles run through the
 * V8 code cache; the ES module entry loads the same CommonJS files. Loading, init() and a first lookup load
 * one Node module a bare start has not (vm, for the cache; Node's own package resolver aside) and start no
 * Node timer. A guard of the build's shape (tsup.base.ts: cachedBundle, viaInternal, codeCache) and of
 * what attach avoids, not a timing: each file more costs a resolution, a read and a compile at every
 * start, node:os ≈ 0.6 ms, the first Node timer ≈ 0.8 ms.
 */
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { uniquePrefix, useTempDir } from '@mp/test-utils';

const pkgs = join(import.meta.dirname, '..', '..');
const temp = useTempDir('attach-files');

interface Loaded {
  /** JS files under packages/ in require.cache, relative to packages/. */
  files: string[];
  /** [bundle relative to packages/, cache state] in load order. */
  bundles: Array<[string, string]>;
  /** Every public name of @mp/memory is the internal entry's own value. */
  samePublic: boolean;
  /** Node's public modules (not `internal/…`) that loading, init() and a first lookup loaded. */
  builtins: string[];
  /** What keeps the event loop busy after init() (process.getActiveResourcesInfo). */
  resources: string[];
}

function load(entry: 'require' | 'import', cacheDir: string, prefix: string): Loaded {
  const eal = JSON.stringify(join(pkgs, 'eal', 'dist', entry === 'require' ? 'index.cjs' : 'index.js'));
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    ${entry === 'import' ? `await import(${JSON.stringify(join(import.meta.dirname, 'fixtures', 'empty.mjs'))});` : ''}
    const before = new Set(Object.keys(require.cache));
    const mods = new Set(process.moduleLoadList);
    const { init, memzone } = ${entry === 'require' ? `require(${eal})` : `await import(${eal})`};
    const e = init(['--file-prefix=${prefix}', '--no-huge']);
    memzone.reserve('z', 64);
    const builtins = process.moduleLoadList.filter((m) => !mods.has(m) && m.startsWith('NativeModule ') && !m.startsWith('NativeModule internal/')).map((m) => m.slice(13));
    const resources = process.getActiveResourcesInfo();
    e.cleanup();
    const files = Object.keys(require.cache).filter((f) => !before.has(f) && f.startsWith(${JSON.stringify(pkgs + '/')}));
    const internal = require(${JSON.stringify(join(pkgs, 'memory', 'dist', 'internal.cjs'))});
    const pub = require(${JSON.stringify(join(pkgs, 'memory', 'dist', 'index.cjs'))});
    const samePublic = Object.keys(pub).length > 10 && Object.keys(pub).every((k) => pub[k] === internal[k]);
    console.log(JSON.stringify({ files, bundles: internal.codeCacheStatus().map((s) => [s.bundle, s.state]), samePublic, builtins, resources }));
  `], { encoding: 'utf8', env: { ...process.env, MP_CODE_CACHE: cacheDir } });
  const r = JSON.parse(out.trim().split('\n').pop()!) as Loaded;
  const rel = (f: string): string => relative(pkgs, f);
  return { ...r, files: r.files.map(rel).sort(), bundles: r.bundles.map(([b, s]) => [rel(b), s]) };
}

describe('files an attach loads', () => {
  it.each(['require', 'import'] as const)('%s @mp/eal: two JS files of @mp, both bundles through the code cache (written, then used); only vm loaded, no Node timer', (entry) => {
    const dir = join(temp(), 'v8');
    const prefix = uniquePrefix('af');
    const first = load(entry, dir, prefix);
    expect(first.files).toEqual(['eal/dist/index.cjs', 'memory/dist/internal.cjs']);
    expect(first.bundles).toEqual([
      ['memory/dist/internal.bundle.cjs', 'miss'],
      ['eal/dist/index.bundle.cjs', 'miss'],
    ]);
    expect(first.samePublic).toBe(true);
    expect(first.builtins).toEqual(['vm']);
    expect(first.resources).not.toContain('Timeout');
    const again = load(entry, dir, prefix);
    expect(again.files).toEqual(first.files);
    expect(again.bundles.map(([, s]) => s)).toEqual(['hit', 'hit']);
  });
});
