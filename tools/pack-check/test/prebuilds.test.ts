/**
 * The prebuilds as shipped (read from the packed tarballs): each loads on glibc 2.28 and later — it needs
 * no library beyond libc, libstdc++ and libgcc_s (`readelf -d`) and references no symbol version above
 * GLIBC_2.28, GLIBCXX_3.4.25 or CXXABI_1.3.11 (GCC 8's, as glibc-2.28 distributions ship; `objdump -T`) —
 * and it is tagged by libc the way node-gyp-build reads tags, so node-gyp-build picks it on glibc and
 * refuses it on musl.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, pack, packDir, publishedDirs, type Packed } from '../src/pack.js';

const run = promisify(execFile);
const nativeDirs = publishedDirs().filter((d) => readdirSync(d).includes('binding.gyp'));
const ALLOWED_NEEDED = ['libc.so.6', 'libgcc_s.so.1', 'libstdc++.so.6'];
const CEILING: Record<string, number[]> = { GLIBC: [2, 28], GLIBCXX: [3, 4, 25], CXXABI: [1, 3, 11] };
const nodeGypBuild = createRequire(join(ROOT, 'packages', 'memory', 'package.json')).resolve('node-gyp-build');
let packed: Map<string, Packed>;

beforeAll(async () => {
  const dest = packDir('prebuilds');
  packed = new Map((await Promise.all(nativeDirs.map((d) => pack(d, dest)))).map((p) => [p.dir, p]));
});

/** a > b for dotted versions. */
function above(a: number[], b: number[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}

describe.each(nativeDirs.map((d) => [d.split('/').pop()!, d]))('%s prebuild', (_name, dir) => {
  const files = (): string[] => {
    const base = join(packed.get(dir)!.unpacked, 'prebuilds', `linux-${process.arch}`);
    return readdirSync(base).map((f) => join(base, f));
  };

  it('is tagged glibc: node-gyp-build picks it on glibc and finds none on musl', async () => {
    expect(files().map((f) => f.split('/').pop())).toEqual([expect.stringMatching(/^@mp\+[a-z-]+\.glibc\.node$/)]);
    const resolve = `console.log(require(${JSON.stringify(nodeGypBuild)}).resolve(${JSON.stringify(packed.get(dir)!.unpacked)}))`;
    const glibc = await run(process.execPath, ['-e', resolve], { env: { ...process.env, LIBC: 'glibc' } });
    expect(glibc.stdout.trim()).toBe(files()[0]);
    const musl = await run(process.execPath, ['-e', resolve], { env: { ...process.env, LIBC: 'musl' } }).then(
      () => 'loaded',
      (err: { stderr?: string }) => err.stderr ?? '',
    );
    expect(musl).toContain('No native build was found');
  });

  it('needs only libc, libstdc++ and libgcc_s (readelf -d)', async () => {
    for (const f of files()) {
      const { stdout } = await run('readelf', ['-d', f]);
      const needed = [...stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).sort();
      expect(needed.length).toBeGreaterThan(0);
      expect(needed.filter((n) => !ALLOWED_NEEDED.includes(n)), f).toEqual([]);
    }
  });

  it('references no symbol version above GLIBC_2.28, GLIBCXX_3.4.25, CXXABI_1.3.11 (objdump -T)', async () => {
    for (const f of files()) {
      const { stdout } = await run('objdump', ['-T', f], { maxBuffer: 16 << 20 });
      const versions = [...stdout.matchAll(/\((GLIBC|GLIBCXX|CXXABI)_([0-9.]+)\)\s+(\S+)/g)];
      expect(versions.some((m) => m[1] === 'GLIBC')).toBe(true);
      const tooNew = versions
        .filter((m) => above(m[2]!.split('.').map(Number), CEILING[m[1]!]!))
        .map((m) => `${m[3]}@${m[1]}_${m[2]}`);
      expect(tooNew, f).toEqual([]);
    }
  });
});

describe('errno_name.h', () => {
  it('is the same file in every native package (each builds alone from its tarball)', () => {
    const copies = nativeDirs.map((d) => readFileSync(join(d, 'native', 'errno_name.h'), 'utf8'));
    expect(copies.length).toBeGreaterThanOrEqual(3);
    for (const c of copies) expect(c).toBe(copies[0]);
  });
});

// Shared native helpers, one copy per package (each package builds alone from its tarball), and the
// packages that must carry one: a package that drops its copy for a local variant fails here too.
describe.each([
  ['args.h', ['memory', 'ipc', 'pmd-vfio']],
  ['watch.h', ['memory', 'ipc', 'pmd-vfio']],
  ['fds.h', ['ipc', 'pmd-vfio']],
] as const)('%s', (header, users) => {
  it(`is in ${users.join(', ')}, and every copy is the same file`, () => {
    const holders = nativeDirs.filter((d) => existsSync(join(d, 'native', header)));
    expect(holders.map((d) => d.split('/').pop()).sort()).toEqual(expect.arrayContaining([...users].sort()));
    const copies = holders.map((d) => readFileSync(join(d, 'native', header), 'utf8'));
    for (const c of copies) expect(c).toBe(copies[0]);
  });
});
