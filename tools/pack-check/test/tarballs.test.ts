/**
 * What a consumer downloads: every published package is packed as a release packs it, and the tarball
 * (not the workspace) is checked — publint (manifest and files), @arethetypeswrong/cli (types resolve for
 * CommonJS and ESM consumers under node10, node16 and bundler resolution). Any message fails the test,
 * suggestions included, and the failure shows the tool's own report.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeLinks } from '../src/links.js';
import { packAll, publishedDirs, type Packed } from '../src/pack.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const attwBin = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist', 'index.js');

const names = publishedDirs().map((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name as string);
let packed: Map<string, Packed>;

beforeAll(async () => {
  packed = new Map((await packAll()).map((p) => [p.name, p]));
});

describe.each(names)('%s tarball', (name) => {
  it('publint reports nothing (suggestions included)', async () => {
    const p = packed.get(name)!;
    const tarball = readFileSync(p.tarball);
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`)).toEqual([]);
  });

  it('@arethetypeswrong/cli finds no problem for CJS or ESM consumers', async () => {
    const p = packed.get(name)!;
    const r = await run(process.execPath, [attwBin, p.tarball, '--format', 'json'], { maxBuffer: 64 << 20 }).then(
      (ok) => ({ code: 0, out: ok.stdout }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout}${err.stderr}` }),
    );
    const report = JSON.parse(r.out.slice(r.out.indexOf('{'))) as { problems?: Record<string, unknown> | unknown[] };
    // attw's JSON: `problems` is an object (or array) of problem records; the kinds name what is wrong.
    const problems = Object.values(report.problems ?? {}).flat() as { kind?: string; entrypoint?: string; resolutionKind?: string }[];
    expect(problems.map((q) => `${q.kind} ${q.entrypoint ?? ''} ${q.resolutionKind ?? ''}`.trim())).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('every relative link of its README resolves to a file inside the tarball (others are absolute URLs)', () => {
    const p = packed.get(name)!;
    const readme = join(p.unpacked, 'README.md');
    expect(existsSync(readme)).toBe(true);
    const broken = relativeLinks(readFileSync(readme, 'utf8')).filter((target) => {
      const at = resolve(p.unpacked, target);
      if (relative(p.unpacked, at).startsWith('..')) return true; // leaves the package: dead on npmjs.com
      return !existsSync(at) || relative(p.unpacked, realpathSync(at)).startsWith('..');
    });
    expect(broken).toEqual([]);
  });

  it('ships LICENSE and README.md, and CHANGELOG.md once a version was cut', () => {
    const p = packed.get(name)!;
    expect(existsSync(join(p.unpacked, 'LICENSE'))).toBe(true);
    expect(existsSync(join(p.unpacked, 'README.md'))).toBe(true);
    // CHANGELOG.md comes from `changeset version`; every released version has its section.
    const changelog = join(p.unpacked, 'CHANGELOG.md');
    expect(existsSync(changelog), 'CHANGELOG.md (run `pnpm changeset version`)').toBe(true);
    expect(readFileSync(changelog, 'utf8')).toContain(`## ${String(p.manifest.version)}\n`);
  });
});
