/**
 * A user without a toolchain can use @mp/memory: pack the package (with its prebuild), install the
 * tarball into a fresh project with PATH stripped of cc, c++, make and python3, and load it. If the
 * install tried to compile, it would fail; if the addon did not load from prebuilds/, the check fails.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pkgDir = join(import.meta.dirname, '..');

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

describe('install without a toolchain', () => {
  it('pnpm pack contains the prebuild, and npm installs and loads it with no cc/c++/make/python3 on PATH', () => {
    // `pnpm test` runs `turbo run prebuildify` first; building here would race the other test files,
    // which load the addon from build/ while node-gyp would be rewriting it.
    const prebuilds = join(pkgDir, 'prebuilds', `linux-${process.arch}`);
    expect(existsSync(prebuilds), `no ${prebuilds}: run 'pnpm prebuildify' first`).toBe(true);
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_/i.test(k)));
    const work = mkdtempSync(join(tmpdir(), 'mp-prebuild-'));
    try {
      execFileSync('pnpm', ['pack', '--pack-destination', work], { cwd: pkgDir, env, stdio: 'pipe' });
      const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
      const listing = execFileSync('tar', ['tzf', join(work, tgz)], { encoding: 'utf8' });
      expect(listing).toMatch(new RegExp(`package/prebuilds/linux-${process.arch}/.*\\.node`));
      expect(listing).not.toMatch(/package\/build\//);

      // A PATH with node, npm and a shell, and nothing that compiles.
      const bin = join(work, 'bin');
      mkdirSync(bin);
      for (const tool of ['node', 'npm', 'sh', 'env', 'uname']) {
        const p = which(tool);
        if (p) symlinkSync(p, join(bin, tool));
      }
      const app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
      const bare: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: bin, npm_config_nodedir: '/nonexistent' };
      for (const tool of ['cc', 'c++', 'gcc', 'g++', 'make', 'python3']) {
        expect(execFileSync(join(bin, 'sh'), ['-c', `command -v ${tool} || echo none`], { env: bare, encoding: 'utf8' }).trim()).toBe('none');
      }
      execFileSync('npm', ['install', '--no-audit', '--no-fund', join(work, tgz)], { cwd: app, env: bare, stdio: 'pipe' });
      expect(existsSync(join(app, 'node_modules/@mp/memory/build'))).toBe(false);
      const out = execFileSync(
        'node',
        [
          '-e',
          `const m = require('@mp/memory');
           const f = m.mapFile(require('path').join(${JSON.stringify(work)}, 'shm'), { size: 4096, create: true });
           new Int32Array(f.buffer)[0] = 42;
           console.log(JSON.stringify({ v: new Int32Array(f.buffer)[0], wake: m.futexWake(new Int32Array(f.buffer), 0), page: m.pageSize }));`,
        ],
        { cwd: app, env: { ...bare, PREBUILDS_ONLY: '1' }, encoding: 'utf8' },
      );
      expect(JSON.parse(out)).toEqual({ v: 42, wake: 0, page: 4096 });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
