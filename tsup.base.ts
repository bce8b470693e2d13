import { readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
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
