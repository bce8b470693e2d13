/**
 * Published manifests and tarball contents (DESIGN §12), checked on the packed tarballs: what a consumer
 * gets has a LICENSE, README, dist, and — for native packages — sources, binding.gyp and a prebuild; the
 * manifest has engines, os, cpu, libc, repository/homepage/bugs, publishConfig.access public, and no
 * scripts, repo-internal paths, workspace ranges or private packages. And a pack without a prebuild is
 * refused.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { TARGETS, missing } from '../../prebuild-targets.mjs';
import { ROOT, packAll, publishedDirs, type Packed } from '../src/pack.js';

const run = promisify(execFile);
const REPO = 'https://github.com/mp-dpdk/mp';
const dirs = publishedDirs();
const names = dirs.map((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).name as string);
const privateNames = new Set(
  ['tools', 'examples'].flatMap((base) =>
    readdirSync(join(ROOT, base))
      .map((d) => join(ROOT, base, d, 'package.json'))
      .filter((f) => existsSync(f))
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { name: string; private?: boolean })
      .filter((m) => m.private === true)
      .map((m) => m.name),
  ),
);
let packed: Map<string, Packed>;

beforeAll(async () => {
  packed = new Map((await packAll()).map((p) => [p.name, p]));
});

/** Every file of a directory tree, relative to it. */
function files(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe.each(names)('%s published manifest and files', (name) => {
  it('ships dist, README.md, LICENSE (BSD-3-Clause, with the copyright line), and native sources plus a prebuild when native', () => {
    const p = packed.get(name)!;
    const shipped = files(p.unpacked);
    expect(shipped).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']));
    const license = readFileSync(join(p.unpacked, 'LICENSE'), 'utf8');
    expect(license).toContain('BSD 3-Clause License');
    expect(license).toContain('Copyright (c) 2026 the @mp authors');
    expect(p.manifest.license).toBe('BSD-3-Clause');
    if (existsSync(join(p.dir, 'binding.gyp'))) {
      expect(shipped).toContain('binding.gyp');
      expect(shipped.some((f) => /^native\/.+\.cc$/.test(f))).toBe(true);
      expect(shipped.some((f) => /^prebuilds\/linux-x64\/.+\.node$/.test(f))).toBe(true);
    }
    // Nothing from the workspace that a consumer has no use for.
    expect(shipped.filter((f) => /^(src|test|bench|build|node_modules)\//.test(f) || f.endsWith('.tgz'))).toEqual([]);
  });

  it('declares engines, os, cpu, libc (native), repository, homepage, bugs and public access', () => {
    const m = packed.get(name)!.manifest as Record<string, any>;
    const dir = packed.get(name)!.dir.split('/').pop();
    expect(m.engines).toEqual({ node: '>=20' });
    expect(m.os).toEqual(['linux']);
    expect(m.cpu).toEqual(['x64', 'arm64']);
    if (m.gypfile !== undefined) expect(m.libc).toEqual(['glibc']);
    expect(m.repository).toEqual({ type: 'git', url: `git+${REPO}.git`, directory: `packages/${dir}` });
    expect(m.homepage).toBe(`${REPO}/tree/main/packages/${dir}#readme`);
    expect(m.bugs).toEqual({ url: `${REPO}/issues` });
    expect(m.publishConfig).toEqual({ access: 'public' });
  });

  it('has no scripts, no repo-internal paths, no workspace ranges, no private packages, gypfile off', () => {
    const m = packed.get(name)!.manifest as Record<string, any>;
    expect(m.scripts).toBeUndefined();
    expect(m.devDependencies).toBeUndefined();
    const text = JSON.stringify(m);
    expect(text).not.toMatch(/\.\.\//);
    expect(text).not.toContain('workspace:');
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const dep of Object.keys(m[field] ?? {})) expect(privateNames.has(dep), `${field} ${dep}`).toBe(false);
    }
    if (m.gypfile !== undefined) expect(m.gypfile).toBe(false);
  });
});

describe('@mp ranges as published', () => {
  it('every @mp dependency and peer dependency publishes as ^<the version in the workspace> (workspace:^; the rule is src/ranges.ts)', () => {
    const version = new Map([...packed.values()].map((p) => [p.name, String(p.manifest.version)]));
    const ranges = [...packed.values()].flatMap((p) =>
      (['dependencies', 'peerDependencies'] as const).flatMap((field) =>
        Object.entries((p.manifest[field] ?? {}) as Record<string, string>)
          .filter(([dep]) => dep.startsWith('@mp/'))
          .map(([dep, range]) => ({ at: `${p.name} ${field} ${dep}`, range, want: `^${version.get(dep)}` })),
      ),
    );
    expect(ranges.length).toBeGreaterThan(10);
    expect(ranges.filter((r) => r.range !== r.want)).toEqual([]);
  });
});

describe('prepack of a native package', () => {
  const native = dirs.filter((d) => existsSync(join(d, 'binding.gyp')));

  it.each(native)('refuses a pack of %s without its prebuilds (linux-arm64 too, where its cross compiler is installed), and accepts the one with them', async (dir) => {
    const script = join(ROOT, 'tools', 'require-prebuilds.mjs');
    await expect(run(process.execPath, [script], { cwd: dir })).resolves.toBeDefined();
    const bare = mkdtempSync(join(tmpdir(), 'mp-prepack-'));
    try {
      cpSync(join(dir, 'package.json'), join(bare, 'package.json'));
      cpSync(join(dir, 'binding.gyp'), join(bare, 'binding.gyp'));
      const refused = await run(process.execPath, [script], { cwd: bare }).then(
        () => undefined,
        (err: { code?: number; stderr?: string }) => err,
      );
      expect(refused?.code).toBe(1);
      expect(refused?.stderr).toContain('refusing to pack: no prebuild');
      // With the aarch64 cross compiler here, the linux-x64 prebuild alone is not enough either.
      if (missing(TARGETS.find((t) => t.arch === 'arm64')!) === undefined) {
        cpSync(join(dir, 'prebuilds', 'linux-x64'), join(bare, 'prebuilds', 'linux-x64'), { recursive: true });
        const noArm = await run(process.execPath, [script], { cwd: bare }).then(
          () => undefined,
          (err: { code?: number; stderr?: string }) => err,
        );
        expect(noArm?.code).toBe(1);
        expect(noArm?.stderr).toMatch(/refusing to pack: no prebuild in \S+\/prebuilds\/linux-arm64\. /);
        expect(noArm?.stderr).not.toContain('linux-x64');
      }
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
