/** The shipped prebuild (prebuilds/linux-<arch>/<pkg>.glibc.node, made by `pnpm prebuildify`) loads by itself and passes the layout check. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const pkgDir = join(import.meta.dirname, '..');
const prebuild = join(pkgDir, 'prebuilds', `linux-${process.arch}`, '@mp+pmd-vfio.glibc.node');
const built = existsSync(join(pkgDir, 'dist', 'internal.js'));

describe('prebuild', () => {
  it.skipIf(!existsSync(prebuild) || !built)(`PREBUILDS_ONLY=1 loads ${existsSync(prebuild) ? 'the prebuild' : '(skipped: no prebuild — run pnpm prebuildify)'}`, () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(pkgDir, 'dist', 'internal.js'))}); const fd = m.binding.eventfd(); console.log(JSON.stringify({ fd: fd > 2, msg: m.binding.layout.msgSize }));`],
      { env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' },
    );
    expect(JSON.parse(out)).toEqual({ fd: true, msg: 128 });
  });
});
