/**
 * The prebuilds as shipped (read from the packed tarballs), for every target of tools/prebuild-targets.mjs
 * (linux-x64 and linux-arm64, glibc): each is an ELF for its machine (`readelf -h`) that loads on glibc 2.28
 * and later — it needs no library beyond libc, libstdc++ and libgcc_s (`readelf -d`) and references no
 * symbol version above GLIBC_2.28, GLIBCXX_3.4.25 or CXXABI_1.3.11 (GCC 8's, as glibc-2.28 distributions
 * ship; `objdump -T`) — and it is tagged by libc and placed by arch the way node-gyp-build reads them, so
 * node-gyp-build picks it on its arch with glibc and refuses it on musl. A target whose cross compiler is
 * not installed here is skipped, and the test name says so.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { TARGETS, missing } from '../../prebuild-targets.mjs';
import { ROOT, pack, packDir, publishedDirs, type Packed } from '../src/pack.js';

const run = promisify(execFile);
const nativeDirs = publishedDirs().filter((d) => readdirSync(d).includes('binding.gyp'));
const ALLOWED_NEEDED = ['libc.so.6', 'libgcc_s.so.1', 'libstdc++.so.6'];
const CEILING: Record<string, number[]> = { GLIBC: [2, 28], GLIBCXX: [3, 4, 25], CXXABI: [1, 3, 11] };
/** `readelf -h`'s Machine line for each arch. */
const MACHINE: Record<string, string> = { x64: 'Advanced Micro Devices X86-64', arm64: 'AArch64' };
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

/** node-gyp-build's choice in a package directory for `arch` and `libc` (its npm_config_arch and LIBC overrides). */
async function chosen(dir: string, arch: string, libc: string): Promise<string> {
  const resolve = `console.log(require(${JSON.stringify(nodeGypBuild)}).resolve(${JSON.stringify(dir)}))`;
  return run(process.execPath, ['-e', resolve], { env: { ...process.env, npm_config_arch: arch, LIBC: libc } }).then(
    (r) => r.stdout.trim(),
    (err: { stderr?: string }) => err.stderr ?? '',
  );
}

describe.each(nativeDirs.map((d) => [d.split('/').pop()!, d]))('%s prebuild', (_name, dir) => {
  describe.each(TARGETS.map((t) => [`${t.dir} ${t.libc}`, t] as const))('%s', (_target, t) => {
    const why = missing(t);
    const skip = why === undefined ? '' : ` (skipped: ${why})`;
    const files = (): string[] => {
      const base = join(packed.get(dir)!.unpacked, 'prebuilds', t.dir);
      return readdirSync(base).map((f) => join(base, f));
    };

    it.skipIf(why !== undefined)(`is tagged ${t.libc}: node-gyp-build picks it on ${t.arch} with ${t.libc} and finds none on musl${skip}`, async () => {
      expect(files().map((f) => f.split('/').pop())).toEqual([expect.stringMatching(new RegExp(`^@mp\\+[a-z-]+\\.${t.libc}\\.node$`))]);
      expect(await chosen(packed.get(dir)!.unpacked, t.arch, t.libc)).toBe(files()[0]);
      expect(await chosen(packed.get(dir)!.unpacked, t.arch, 'musl')).toContain('No native build was found');
    });

    it.skipIf(why !== undefined)(`is an ELF for ${MACHINE[t.arch]} (readelf -h)${skip}`, async () => {
      for (const f of files()) {
        const { stdout } = await run('readelf', ['-h', f]);
        expect(/Machine:\s+(.+)/.exec(stdout)?.[1]?.trim(), f).toBe(MACHINE[t.arch]);
      }
    });

    it.skipIf(why !== undefined)(`needs only libc, libstdc++ and libgcc_s (readelf -d)${skip}`, async () => {
      for (const f of files()) {
        const { stdout } = await run('readelf', ['-d', f]);
        const needed = [...stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).sort();
        expect(needed.length).toBeGreaterThan(0);
        expect(needed.filter((n) => !ALLOWED_NEEDED.includes(n!)), f).toEqual([]);
      }
    });

    it.skipIf(why !== undefined)(`references no symbol version above GLIBC_2.28, GLIBCXX_3.4.25, CXXABI_1.3.11 (objdump -T)${skip}`, async () => {
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
