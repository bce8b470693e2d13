/**
 * The names a package entry exports, two ways: at run time (what `import` and `require` of its built files
 * give) and in its declaration files (the value exports of the `.d.ts` / `.d.cts` the same condition
 * names). A consumer's type checker sees only the second, so the two must be one set.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

const run = promisify(execFile);

/** One `exports` subpath of a package: its files per condition. */
export interface Entry {
  /** e.g. `.` or `./internal` */
  subpath: string;
  import: { types: string; default: string };
  require: { types: string; default: string };
}

/** Every entry of a package's `exports` map except `./package.json`, as absolute paths. */
export function entriesOf(dir: string): Entry[] {
  const m = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  return Object.entries(m.exports)
    .filter(([subpath]) => subpath !== './package.json')
    .map(([subpath, v]) => {
      const c = v as Entry['import'] extends infer T ? { import: T; require: T } : never;
      const abs = (x: { types: string; default: string }) => ({ types: join(dir, x.types), default: join(dir, x.default) });
      return { subpath, import: abs(c.import), require: abs(c.require) };
    });
}

/** The names `import()` and `require()` of an entry's built files export, each sorted (a child process: plain Node, no test runner's loader). */
export async function runtimeNames(entry: Entry): Promise<{ import: string[]; require: string[] }> {
  const script =
    `import { createRequire } from 'node:module';\n` +
    `import { pathToFileURL } from 'node:url';\n` +
    `const [esm, cjs] = process.argv.slice(1);\n` +
    `const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort();\n` +
    `const i = names(await import(pathToFileURL(esm).href));\n` +
    `const r = names(createRequire(import.meta.url)(cjs));\n` +
    `process.stdout.write(JSON.stringify({ import: i, require: r }));\n`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, entry.import.default, entry.require.default], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as { import: string[]; require: string[] };
}

/** The value exports (not types or interfaces) a declaration file declares, sorted. */
export function declaredNames(dts: string): string[] {
  const program = ts.createProgram([dts], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(dts);
  if (file === undefined) throw new Error(`declaredNames: TypeScript did not load ${dts}`);
  const mod = checker.getSymbolAtLocation(file);
  if (mod === undefined) throw new Error(`declaredNames: ${dts} is not a module`);
  return checker
    .getExportsOfModule(mod)
    .filter((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return (target.flags & ts.SymbolFlags.Value) !== 0;
    })
    .map((s) => s.getName())
    .filter((n) => n !== 'default')
    .sort();
}
