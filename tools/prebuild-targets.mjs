#!/usr/bin/env node
// The prebuild targets of every native package, and which of them this machine can build. The host target
// (linux-x64 glibc) always builds with the system compiler; the others need a cross toolchain, found by the
// name of its C++ compiler on PATH. Workspace-only: published packages load their prebuilds.
//
// As a command (`node tools/prebuild-targets.mjs [--all] <cmd> [args…]`, the root `test`/`prebuildify`/
// `release` scripts): print one line per target this machine cannot build, then run <cmd> with
// MP_PREBUILD_TARGETS naming the ones it can. turbo hashes that variable (turbo.json), so installing a
// cross compiler later rebuilds the prebuilds instead of replaying a cached run that skipped them.
// `--all` (a release) refuses to run <cmd> unless every target can be built.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * No linux-x64 musl target: Debian's musl-tools has musl-gcc, C only, and no musl libstdc++, while the addons
 * are C++ (node-addon-api's napi.h includes <string>, <functional>, <mutex>). Debian's libstdc++ headers are
 * configured for glibc (os_defines.h tests __GLIBC_PREREQ, c++locale.h uses glibc's __locale_t: they do not
 * compile over musl's headers) and its libstdc++.a references glibc-only symbols (__libc_single_threaded,
 * __cxa_thread_atexit_impl), so neither a dynamic nor a static libstdc++ gives a musl build here. On musl,
 * node-gyp-build finds no prebuild and the package builds from its shipped sources (package READMEs).
 *
 * Every target: `dir` is node-gyp-build's `prebuilds/<dir>/`, `libc` its tag (`@mp+name.<libc>.node`);
 * a cross target names its binutils `prefix` and the Debian package that provides it.
 */
export const TARGETS = [
  { name: 'linux-x64-glibc', dir: 'linux-x64', arch: 'x64', libc: 'glibc' },
  { name: 'linux-arm64-glibc', dir: 'linux-arm64', arch: 'arm64', libc: 'glibc', prefix: 'aarch64-linux-gnu-', apt: 'g++-aarch64-linux-gnu' },
];

/** Is `cmd` an executable on PATH? */
export function onPath(cmd) {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return true;
    } catch {
      // next PATH entry
    }
  }
  return false;
}

/** Why this machine cannot build `t`, or undefined when it can. */
export function missing(t) {
  if (!t.prefix) return process.arch === t.arch ? undefined : `this is not a ${t.arch} host`;
  return onPath(`${t.prefix}g++`) ? undefined : `${t.prefix}g++ not on PATH (apt-get install ${t.apt})`;
}

/**
 * The targets to build: those MP_PREBUILD_TARGETS names when set (the root command sets it), else those
 * this machine can build.
 */
export function selected() {
  const want = process.env.MP_PREBUILD_TARGETS;
  if (want !== undefined) {
    const names = want.split(',').filter(Boolean);
    return TARGETS.filter((t) => names.includes(t.name));
  }
  return TARGETS.filter((t) => missing(t) === undefined);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let args = process.argv.slice(2);
  const all = args[0] === '--all';
  if (all) args = args.slice(1);
  if (args.length === 0) {
    console.error('usage: prebuild-targets.mjs [--all] <command> [args…]');
    process.exit(2);
  }
  const can = [];
  for (const t of TARGETS) {
    const why = missing(t);
    if (why === undefined) can.push(t.name);
    else console.log(`prebuildify: ${t.name} skipped: ${why}`);
  }
  if (all && can.length !== TARGETS.length) {
    console.error('prebuildify: a release ships every prebuild; install the missing toolchains first');
    process.exit(1);
  }
  const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit', env: { ...process.env, MP_PREBUILD_TARGETS: can.join(',') } });
  if (r.error) {
    console.error(`prebuild-targets: ${args[0]}: ${r.error.message}`);
    process.exit(127);
  }
  process.exit(r.status ?? 1);
}
