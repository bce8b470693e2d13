import { readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, defineConfig } from 'tsup';
import type { Options } from 'tsup';


/** The one tsup setup of every package: ESM + CJS + .d.ts from src/index.ts, for Node 20. */
const base = {
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  shims: true,
  // The package's version as a constant (read at run time it cost a resolve + read + parse of package.json
  // in every process start); code run from source falls back to reading package.json.
  define: { __MP_VERSION__: JSON.stringify((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version) },
} satisfies Options;
export default defineConfig(base);

/**
 * `code` with every non-ASCII character escaped (`\\uXXXX`; UTF-16 units, so a pair for astral ones):
 * the same program — in strings, regular expressions, templates and identifiers the escape means the
 * character, in comments it is text — but pure ASCII, which the addon's `readCached` makes into a
 * one-byte string by a copy (a UTF-8 decode into a two-byte string cost ≈ 0.6 ms of every attach for a
 * 70 KB bundle; esbuild escapes strings already, the JSDoc comments it keeps were the rest).
 */
export function ascii(code: string): string {
  return code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * An esbuild CommonJS bundle whose exports are plain properties, set at its end: esbuild writes
 * `__export(x_exports, { a: () => a, … })` and `module.exports = __toCommonJS(x_exports)` at the top, a
 * getter per name defined twice over (≈ 0.5 ms of a bundle's top level for 70 names, and a getter call at
 * every use of an import from another bundle). A bundle of ours never reads its own exports, reassigns
 * none (no exported `let`) and is required by nobody while it runs, so the values at its end are the
 * values. Throws when the bundle does not have that shape.
 */
export function plainExports(code: string, file: string): string {
  const m = /^var (\w+) = \{\};\n__export\(\1, \{\n(.*?)\n\}\);\nmodule\.exports = __toCommonJS\(\1\);\n/ms.exec(code);
  if (m === null) throw new Error(`plainExports: ${file} does not export through one __export/__toCommonJS`);
  const pairs = m[2]!.split('\n').map((line) => {
    const p = /^\s*(\w+): \(\) => ([\w.]+),?$/.exec(line);
    if (p === null) throw new Error(`plainExports: ${file}: unexpected export line ${JSON.stringify(line)}`);
    return `  ${p[1]}: ${p[2]}`;
  });
  return `${code.slice(0, m.index)}${code.slice(m.index + m[0].length).trimEnd()}\n// The exports, as plain properties (plainExports in the repository's tsup.base.ts).\nmodule.exports = __defProp({\n${pairs.join(',\n')}\n}, "__esModule", { value: true });\n`;
}

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
 * process-wide slots of DESIGN §12 stay for nested versions). The .d.ts files are unchanged. It takes
 * `createRequire` from a static `import 'node:module'`. `process.getBuiltinModule` would save ≈ 0.7 ms
 * (Node builds an ES facade of the builtin) but exists only from Node 20.16, and a fallback for older
 * Nodes needs a top-level await, which breaks consumers that bundle this entry to CommonJS (esbuild
 * refuses it). `import cjs from './x.cjs'` cost far more (Node's CommonJS-in-ESM translator and its
 * export lexer; packages/eal/README.md).
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
 * @param loader what a stub requires for `runCached`: `@mp/memory/internal` (@mp/memory itself builds
 *   with {@link cachedBundle})
 */
export function codeCache(loader: string, dist = 'dist', minBytes = 20_000): () => Promise<void> {
  return async () => {
    for (const f of readdirSync(dist)) {
      if (!f.endsWith('.cjs') || f.endsWith('.bundle.cjs')) continue;
      const code = readFileSync(join(dist, f), 'utf8');
      if (code.length < minBytes) continue;
      writeStub(dist, f, code, loader);
    }
  };
}

/** Move `dist/<f>` (its text `code`) to `<name>.bundle.cjs` and write the stub of {@link codeCache} as `<f>`. */
function writeStub(dist: string, f: string, code: string, loader: string): void {
  if (/\bimport\(/.test(code)) throw new Error(`codeCache: ${f} holds a dynamic import(), which the vm.Script of runCached cannot resolve`);
  const bundle = f.replace(/\.cjs$/, '.bundle.cjs');
  writeFileSync(join(dist, bundle), ascii(plainExports(code, f)));
  unlinkSync(join(dist, f));
  writeFileSync(
    join(dist, f),
    `"use strict";\n` +
      `// Runs ./${bundle} with a V8 code cache when a valid one exists (runCached in @mp/memory's code-cache.ts;\n` +
      `// codeCache in the repository's tsup.base.ts), else requires it.\n` +
      `if (!require(${JSON.stringify(loader)}).runCached(module, require, __dirname + "/${bundle}")) {\n` +
      `  module.exports = require("./${bundle}");\n` +
      `}\n`,
  );
}

/**
 * An `onSuccess` step for tsup: in the CommonJS files, `require("pkg")` becomes `require("pkg/internal")`,
 * whose entry exports the public API too (packages/memory/src/internal.ts): a process that loads this package
 * then loads one entry file of `pkg`, not two (each costs a resolution, a read and a compile: ≈ 0.3–0.5
 * ms); and that require happens once per file. The .d.ts files keep importing `pkg`. (A rewrite of the
 * output: tsup resolves dependencies as external before esbuild's `alias` or a plugin sees them.)
 */
export function viaInternal(pkg: string, dist = 'dist'): () => Promise<void> {
  return async () => {
    const spec = JSON.stringify(`${pkg}/internal`);
    for (const f of readdirSync(dist)) {
      if (!f.endsWith('.cjs')) continue;
      let code = readFileSync(join(dist, f), 'utf8').split(`require(${JSON.stringify(pkg)})`).join(`require(${spec})`);
      if (!code.includes(`require(${spec})`)) continue;
      // One require for the whole file: esbuild writes one per source module, and a require of a package
      // that another module loaded first is resolved again each time (≈ 0.3 ms: Node caches the
      // resolution per parent only when that parent loaded it).
      const head = /^(?:#!.*\n)?(?:"use strict";\n)?/.exec(code)![0];
      code = `${head}var __mpInternal = require(${spec});\n${code.slice(head.length).split(`require(${spec})`).join('__mpInternal')}`;
      writeFileSync(join(dist, f), code);
    }
  };
}

/**
 * An `onSuccess` step for tsup, @mp/memory's: replace tsup's split CommonJS output (entries and chunks)
 * by one bundle and a bootstrap, so a process compiles without the code cache only a few lines of the
 * package:
 * - `<main>.cjs`: `boot`, a plain CommonJS file copied as it is (src/boot.cjs): it runs the bundle through
 *   the code cache, with the addon doing the reading and checking, and so exports every name of every
 *   entry;
 * - `<main>.bundle.cjs`: `bundle` (a source file re-exporting every entry), all of the package;
 * - for each other entry, `<name>.cjs`: requires `<main>.cjs` and exports its own names (read from tsup's
 *   ESM build of that entry), nothing more.
 * Run it before {@link esmWrapper}, which reads the same ESM files.
 */
export function cachedBundle(opts: { boot: string; bundle: string; main: string; others: string[] }, dist = 'dist'): () => Promise<void> {
  return async () => {
    const names = Object.fromEntries(opts.others.map((e) => [e, exportedNames(readFileSync(join(dist, `${e}.js`), 'utf8'), `${e}.js`)]));
    for (const f of readdirSync(dist)) if (f.endsWith('.cjs')) unlinkSync(join(dist, f));
    const main = `./${opts.main}.cjs`;
    const common: Options = { config: false, format: ['cjs'], target: base.target, shims: true, define: base.define, dts: false, clean: false, silent: true, outDir: dist, splitting: false };
    await build({ ...common, entry: { [`${opts.main}.bundle`]: opts.bundle } });
    const bundle = join(dist, `${opts.main}.bundle.cjs`);
    writeFileSync(bundle, ascii(plainExports(readFileSync(bundle, 'utf8'), bundle)));
    const boot = readFileSync(opts.boot, 'utf8');
    if (!boot.includes(`"${opts.main}.bundle.cjs"`)) throw new Error(`cachedBundle: ${opts.boot} does not run ${opts.main}.bundle.cjs`);
    writeFileSync(join(dist, `${opts.main}.cjs`), boot);
    for (const e of opts.others) {
      writeFileSync(
        join(dist, `${e}.cjs`),
        `"use strict";\n// This entry's names of ${main}, which holds the whole package (cachedBundle in the repository's tsup.base.ts).\n` +
          `const all = require(${JSON.stringify(main)});\n` +
          names[e]!.map((n) => `exports.${n} = all.${n};\n`).join(''),
      );
    }
  };
}
