import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MpError } from './errors.js';

/**
 * Load a package's native addon, as node-gyp-build would and in its order — a local `build/Release`
 * first, then the shipped `prebuilds/linux-<arch>/<pkg>.<libc>.node` (only that with `PREBUILDS_ONLY=1`) — but without
 * loading node-gyp-build and scanning directories on the common path, which costs milliseconds of every
 * process start. node-gyp-build stays the fallback for anything else (other libc or runtime tags).
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
  const req = createRequire(moduleUrl);
  const local = join(root, 'build', 'Release', `${target}.node`);
  // prebuildify --tag-libc names it `@mp+ipc.glibc.node`; node-gyp-build's libc rule: musl on Alpine.
  const libc = process.env.LIBC ?? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  const shipped = join(root, 'prebuilds', `linux-${process.arch}`, `${pkg.replace('/', '+')}.${libc}.node`);
  for (const file of process.env.PREBUILDS_ONLY ? [shipped] : [local, shipped]) {
    try {
      return req(file) as T;
    } catch (err) {
      if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  try {
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
