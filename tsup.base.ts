import { readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'tsup';

/** The one tsup setup of every package: ESM + CJS + .d.ts from src/index.ts, for Node 20. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  shims: true,
  // The package's version as a constant (read at run time it cost a resolve + read + parse of package.json
  // in every process start); code run from source falls back to reading package.json.
  define: { __MP_VERSION__: JSON.stringify((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version) },
});

/** The names an esbuild ESM entry exports: its closing `export { a, b as c };`. */
function exportedNames(esm: string, file: string): string[] {
  const m = /export\s*\{([^}]*)\};?\s*$/.exec(esm);
  if (m === null) throw new Error(`esmWrapper: ${file} does not end with one export clause`);
  return m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => s.split(/\s+as\s+/).pop()!);
}

/**
 * An `onSuccess` for tsup: replace each ESM entry `dist/<name>.js` by a wrapper that loads the CommonJS
 * build `dist/<name>.cjs` and re-exports its names, then delete the ESM chunks nothing imports any more.
 *
 * Why: on Node 20 an ES module graph costs far more to load than the same code as CommonJS — each module
 * is read asynchronously and compiled as a module, and each builtin it imports (`fs`, `os`, `path`, …)
 * gets an ES facade built export by export. A secondary's attach paid ~3× the CommonJS figure for that
 * (packages/eal/bench/attach.bench.ts). With the wrapper an `import` loads one small module and the same
 * CommonJS code a `require` does — and both get the same module instance (no dual-package hazard; the
 * process-wide slots of DESIGN §12 stay for nested versions). The .d.ts files are unchanged.
 */
export function esmWrapper(entries: readonly string[], dist = 'dist'): () => Promise<void> {
  return async () => {
    for (const name of entries) {
      const file = join(dist, `${name}.js`);
      const names = exportedNames(readFileSync(file, 'utf8'), file);
      writeFileSync(
        file,
        `// The ESM entry of this package: its CommonJS build, so import and require share one instance and an\n` +
          `// import loads no ES module graph (see esmWrapper in the repository's tsup.base.ts).\n` +
          `import { createRequire } from 'node:module';\n` +
          `const cjs = createRequire(import.meta.url)('./${name}.cjs');\n` +
          `export const { ${names.join(', ')} } = cjs;\n`,
      );
    }
    for (const f of readdirSync(dist)) if (/^chunk-[A-Za-z0-9_-]+\.js$/.test(f)) unlinkSync(join(dist, f));
  };
}

/**
 * An `onSuccess` step for tsup: move each CommonJS file `dist/<name>.cjs` to `<name>.bundle.cjs` and put
 * in its place a stub that runs it through @mp/memory's V8 code cache (`runCached`,
 * packages/memory/src/code-cache.ts). The stub falls back to a plain
 * `require` of the bundle — which is also what lets another bundler (esbuild, webpack) see and include it.
 *
 * Why: Node 20 has no `module.enableCompileCache`; a secondary's attach spent about a third of its time
 * compiling these files and the functions it first ran (packages/eal/README.md, "Attach time").
 *
 * Files under `minBytes` stay as they are: a file of a few re-exports compiles faster than its cache is
 * read and checked.
 *
 * @param loader what a stub requires for `runCached`: `./code-cache.cjs` inside @mp/memory (that file
 *   and every chunk it requires stay as they are: they are the cache), `@mp/memory/internal` elsewhere
 */
export function codeCache(loader: string, dist = 'dist', minBytes = 20_000): () => Promise<void> {
  return async () => {
    const keep = new Set<string>();
    for (const todo = loader.startsWith('./') ? [loader.slice(2)] : []; todo.length > 0; ) {
      const f = todo.pop()!;
      if (keep.has(f)) continue;
      keep.add(f);
      for (const m of readFileSync(join(dist, f), 'utf8').matchAll(/require\(["']\.\/([^"']+\.cjs)["']\)/g)) todo.push(m[1]!);
    }
    // A loader entry that only re-exports one chunk: the stubs require that chunk (one file fewer to load).
    let from = loader;
    if (loader.startsWith('./')) {
      const text = readFileSync(join(dist, loader.slice(2)), 'utf8');
      const chunks = [...text.matchAll(/require\(["']\.\/([^"']+\.cjs)["']\)/g)].map((m) => m[1]!);
      if (chunks.length === 1 && /\bexports\.runCached = runCached;/.test(readFileSync(join(dist, chunks[0]!), 'utf8'))) from = `./${chunks[0]}`;
    }
    for (const f of readdirSync(dist)) {
      if (!f.endsWith('.cjs') || f.endsWith('.bundle.cjs') || keep.has(f)) continue;
      const code = readFileSync(join(dist, f), 'utf8');
      // A file of a few re-exports compiles faster than a cache can be read and checked.
      if (code.length < minBytes) continue;
      if (/\bimport\(/.test(code)) throw new Error(`codeCache: ${f} holds a dynamic import(), which the vm.Script of runCached cannot resolve`);
      const bundle = f.replace(/\.cjs$/, '.bundle.cjs');
      renameSync(join(dist, f), join(dist, bundle));
      writeFileSync(
        join(dist, f),
        `"use strict";\n` +
          `// Runs ./${bundle} with a V8 code cache when a valid one exists (runCached in @mp/memory's code-cache.ts;\n` +
          `// codeCache in the repository's tsup.base.ts), else requires it.\n` +
          `if (!require(${JSON.stringify(from)}).runCached(module, require, __dirname + "/${bundle}")) {\n` +
          `  module.exports = require("./${bundle}");\n` +
          `}\n`,
      );
    }
  };
}
