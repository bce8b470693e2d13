import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MpError } from './errors.js';
import { processSlot } from './slot.js';

/** The addons loaded in this process, by file: each is opened once, whichever copy asks (DESIGN §12). */
const loaded = (): Map<string, unknown> => processSlot('@mp/memory/addons', '@mp/memory', 1, () => new Map<string, unknown>());

/**
 * Load a package's native addon, as node-gyp-build would and in its order — a local `build/Release`
 * first, then the shipped `prebuilds/linux-<arch>/<pkg>.<libc>.node` (only that with `PREBUILDS_ONLY=1`) — but without
 * loading node-gyp-build and scanning directories on the common path, which costs milliseconds of every
 * process start. node-gyp-build stays the fallback for anything else (other libc or runtime tags).
 * The first two are opened with `process.dlopen` (what `require` of a `.node` file ends in) after an
 * existence check: a `require` would resolve the path and walk its realpath first (≈ 0.3 ms of every
 * secondary's attach, packages/eal/README.md).
 * Packages have no install script (pnpm >= 11 fails installs on unapproved ones): nothing compiles at
 * install time; a platform without a prebuild builds once with node-gyp, into `build/Release`.
 *
 * @param moduleUrl `import.meta.url` of a module one directory below the package root (src/ or dist/)
 * @param pkg the package name, e.g. `@mp/ipc` (prebuildify names the file `@mp+ipc.node`)
 * @param target the `target_name` in binding.gyp
 * @throws {MpError} ENOTSUP — no addon found; the message says where it looked and how to build one
 */
export function loadAddon<T>(moduleUrl: string, pkg: string, target: string): T {
  const root = join(dirname(fileURLToPath(moduleUrl)), '..');
  const local = join(root, 'build', 'Release', `${target}.node`);
  const shipped = (): string => {
    // prebuildify --tag-libc names it `@mp+ipc.glibc.node`; node-gyp-build's libc rule: musl on Alpine.
    const libc = process.env.LIBC ?? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
    return join(root, 'prebuilds', `linux-${process.arch}`, `${pkg.replace('/', '+')}.${libc}.node`);
  };
  const file = !process.env.PREBUILDS_ONLY && existsSync(local) ? local : shipped();
  if (file === local || existsSync(file)) {
    const addons = loaded();
    let addon = addons.get(file);
    if (addon === undefined) {
      const m = { exports: {} };
      process.dlopen(m, file);
      addons.set(file, (addon = m.exports));
    }
    return addon as T;
  }
  try {
    // The CommonJS build's own require (node:module is not loaded at the top: ≈ 0.6 ms of a CommonJS start).
    const req = typeof require === 'function' ? require : process.getBuiltinModule('module').createRequire(moduleUrl);
    const nodeGypBuild = req('node-gyp-build') as (dir: string) => unknown;
    return nodeGypBuild(root) as T;
  } catch (err) {
    throw new MpError(
      'ENOTSUP',
      `cannot load the ${pkg} native addon: looked in ${join(root, 'build/Release')} and ` +
        `${join(root, 'prebuilds', `linux-${process.arch}`)} (no prebuild matches this platform); build it from ` +
        `source with 'npx node-gyp rebuild --directory ${root}' (needs python3, make and a C++17 compiler; ` +
        `in this repository: 'pnpm --filter ${pkg} build:native')`,
      { cause: err },
    );
  }
}
