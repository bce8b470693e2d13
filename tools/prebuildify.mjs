#!/usr/bin/env node
// The `prebuildify` script of every native package (run with the package directory as cwd, under
// with-nodedir.mjs): build prebuilds/<platform>-<arch>/@mp+<name>.<libc>.node for each target of
// prebuild-targets.mjs this run selects. prebuilds/ is rebuilt from scratch, so a target skipped now never
// ships a stale file from an earlier run. Workspace-only (published manifests carry no scripts).
//
// The host target builds in place, as `prebuildify --napi --strip --tag-libc` always did. A cross target
// builds in build/cross-<target>/ (a copy of binding.gyp whose native/ links to the package's), so the
// host's objects in build/ are left alone; node-gyp gets --arch and the toolchain through CC/CXX/LINK/AR.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { TARGETS, missing, selected } from './prebuild-targets.mjs';

const pkgDir = process.cwd();
const name = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).name;
const bin = createRequire(join(pkgDir, 'package.json')).resolve('prebuildify/bin.js');

/** Run prebuildify with `args` in `cwd`; exit with its status on failure. */
function prebuildify(cwd, args, env = process.env) {
  const r = spawnSync(process.execPath, [bin, '--napi', '--strip', '--tag-libc', ...args], { cwd, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`prebuildify: ${name}: ${args.join(' ') || 'host build'} failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(r.status || 1);
  }
}

const targets = selected();
// Run directly in a package (no MP_PREBUILD_TARGETS from the root command): say what is skipped here.
if (process.env.MP_PREBUILD_TARGETS === undefined) {
  for (const t of TARGETS.filter((x) => !targets.includes(x))) console.log(`prebuildify: ${t.name} skipped: ${missing(t)}`);
}
rmSync(join(pkgDir, 'prebuilds'), { recursive: true, force: true });
for (const t of targets) {
  if (!t.prefix) {
    prebuildify(pkgDir, ['--libc', t.libc]);
    continue;
  }
  const work = join(pkgDir, 'build', `cross-${t.name}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    copyFileSync(join(pkgDir, 'binding.gyp'), join(work, 'binding.gyp'));
    copyFileSync(join(pkgDir, 'package.json'), join(work, 'package.json'));
    symlinkSync(join(pkgDir, 'native'), join(work, 'native'));
    const env = {
      ...process.env,
      CC: `${t.prefix}gcc`,
      CXX: `${t.prefix}g++`,
      LINK: `${t.prefix}g++`,
      AR: `${t.prefix}ar`,
    };
    prebuildify(work, ['--arch', t.arch, '--libc', t.libc, '--strip-bin', `${t.prefix}strip`, '--out', resolve(pkgDir)], env);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
