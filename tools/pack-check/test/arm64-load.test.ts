/**
 * The linux-arm64 prebuilds load and work on arm64: Debian's arm64 `node` runs under qemu-user
 * (`qemu-aarch64 -L <sysroot>`, the sysroot unpacked by tools/arm64-node.sh), requires each prebuild from
 * its packed tarball through node-gyp-build, and calls one function of each. The same script runs under
 * this machine's x64 node on the x64 prebuilds, and both must answer alike (hash values included: arm64
 * takes the table-driven crc32c, x64 the SSE4.2 one). Skipped, with the reason in its name, without
 * qemu-aarch64, the sysroot, or the aarch64 cross compiler that builds the prebuilds.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { TARGETS, missing, onPath } from '../../prebuild-targets.mjs';
import { ROOT, pack, packDir, publishedDirs, type Packed } from '../src/pack.js';

const run = promisify(execFile);
const nativeDirs = publishedDirs().filter((d) => readdirSync(d).includes('binding.gyp'));
const nodeGypBuild = createRequire(join(ROOT, 'packages', 'memory', 'package.json')).resolve('node-gyp-build');
const SYSROOT = process.env.MP_ARM64_SYSROOT ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mp', 'arm64-node');
const arm64 = TARGETS.find((t) => t.arch === 'arm64')!;
const why = !onPath('qemu-aarch64')
  ? 'qemu-aarch64 not on PATH (apt-get install qemu-user)'
  : !existsSync(join(SYSROOT, 'usr', 'bin', 'node'))
    ? `no arm64 node in ${SYSROOT} (run tools/arm64-node.sh)`
    : missing(arm64);

/**
 * Load each package's prebuild through node-gyp-build and call one function: memory's futexWake (no
 * waiter: 0), ipc's probe of a missing socket (-ENOENT), hash's crc32c and jhash of two keys through a
 * bound table, pmd-vfio's if_nametoindex('lo'). Prints `{ arch, <pkg>: { file, value } }` as JSON.
 */
const SCRIPT = `
const ngb = require(process.argv[1]);
const dirs = JSON.parse(process.argv[2]);
const out = { arch: process.arch };
for (const [name, dir] of Object.entries(dirs)) {
  const b = ngb(dir);
  let value;
  if (name === 'memory') value = [b.futexWake(new ArrayBuffer(8), 4, 1), b.pageSize];
  else if (name === 'ipc') value = b.probe('/nonexistent-mp-dir/sock');
  else if (name === 'hash') {
    value = [b.layout.fnCrc32c, b.layout.fnJhash].map((fn) => {
      const keyLen = 12, slotSize = Math.ceil((b.layout.slotKeyOff + keyLen) / 8) * 8;
      const t = b.bind(new ArrayBuffer(4096), new Uint32Array([keyLen, fn, 0x9e3779b9, 1, 0, 1, slotSize, 256, 1024]));
      const keys = Uint8Array.from({ length: 2 * keyLen }, (_, i) => (i * 37 + 11) & 255), h = new Uint32Array(2);
      b.hashBulk(t, keys, h);
      return [...h];
    });
  } else if (name === 'pmd-vfio') value = b.xdpIfindex('lo');
  out[name] = { file: ngb.resolve(dir).split('/prebuilds/')[1], value };
}
console.log(JSON.stringify(out));
`;

let packed: Packed[];
beforeAll(async () => {
  if (why !== undefined) return;
  const dest = packDir('arm64-load');
  packed = await Promise.all(nativeDirs.map((d) => pack(d, dest)));
});

describe('linux-arm64 prebuilds', () => {
  it.skipIf(why !== undefined)(
    `load under qemu-aarch64 with Debian's arm64 node through node-gyp-build, and answer as the x64 ones do${why ? ` (skipped: ${why})` : ''}`,
    async () => {
      const dirs = JSON.stringify(Object.fromEntries(packed.map((p) => [p.dir.split('/').pop()!, p.unpacked])));
      const [x64, a64] = await Promise.all([
        run(process.execPath, ['-e', SCRIPT, nodeGypBuild, dirs]),
        run('qemu-aarch64', ['-L', SYSROOT, join(SYSROOT, 'usr', 'bin', 'node'), '-e', SCRIPT, nodeGypBuild, dirs], { timeout: 300_000 }),
      ]);
      const host = JSON.parse(x64.stdout) as Record<string, { file: string; value: unknown } | string>;
      const arm = JSON.parse(a64.stdout) as Record<string, { file: string; value: unknown } | string>;
      expect(host.arch).toBe('x64');
      expect(arm.arch).toBe('arm64');
      for (const p of packed) {
        const name = p.dir.split('/').pop()!;
        const file = `${p.name.replace('/', '+')}.glibc.node`;
        expect(arm[name]).toEqual({ file: `linux-arm64/${file}`, value: (host[name] as { value: unknown }).value });
        expect(host[name]).toMatchObject({ file: `linux-x64/${file}` });
      }
      expect((host.memory as { value: unknown }).value).toEqual([0, 4096]);
      expect((host.ipc as { value: unknown }).value).toBe(-2);
      expect((host['pmd-vfio'] as { value: unknown }).value).toBe(1);
    },
    300_000,
  );
});
