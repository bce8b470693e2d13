/**
 * Installs as a consumer does them: @mp/memory's packed tarball (the native package every other depends
 * on) added to an empty project with the package managers on this machine — pnpm (12 here, which fails
 * an install with ERR_PNPM_IGNORED_BUILDS when a dependency has an unapproved install script) and npm
 * (which runs `node-gyp rebuild` for a package with binding.gyp unless `gypfile: false`) — with scripts
 * allowed and with PATH holding only node, the package manager and sh: no compiler, no make, no python.
 * The install must succeed, compile nothing (no build/ appears) and the prebuild must load from both
 * ESM and CommonJS.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, pack, type Packed } from '../src/pack.js';

const run = promisify(execFile);
let memory: Packed;
let work: string;
let bin: string;

/** Where a command lives on the full PATH (or undefined). */
async function which(cmd: string): Promise<string | undefined> {
  return run('sh', ['-c', `command -v ${cmd}`]).then(
    (r) => r.stdout.trim() || undefined,
    () => undefined,
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mp-installs-'));
  memory = await pack(join(ROOT, 'packages', 'memory'), work);
  // A PATH with node, the package managers and sh only.
  bin = join(work, 'bin');
  mkdirSync(bin);
  for (const cmd of ['node', 'npm', 'pnpm', 'sh']) {
    const at = await which(cmd);
    if (at) symlinkSync(realpathSync(at), join(bin, cmd));
  }
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const managers: { name: string; add: (tarball: string) => string[] }[] = [
  { name: 'pnpm', add: (t) => ['add', t] },
  { name: 'npm', add: (t) => ['install', '--no-audit', '--no-fund', t] },
];

describe.each(managers)('$name add @mp/memory from its tarball, no compiler on PATH', ({ name, add }) => {
  it('installs, compiles nothing, and the prebuild loads from ESM and CommonJS', async () => {
    const project = mkdtempSync(join(work, `${name}-`));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const env = { PATH: bin, HOME: process.env.HOME ?? project, npm_config_update_notifier: 'false' };
    for (const tool of ['gcc', 'g++', 'cc', 'c++', 'make', 'python3']) {
      await expect(run(join(bin, 'sh'), ['-c', `command -v ${tool}`], { env }), `${tool} must not be on PATH`).rejects.toBeDefined();
    }
    const installed = await run(join(bin, name), add(memory.tarball), { cwd: project, env, maxBuffer: 16 << 20 }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, out: `${err.stdout}${err.stderr}` }),
    );
    expect(installed.out).not.toContain('ERR_PNPM_IGNORED_BUILDS');
    expect(installed.code, installed.out).toBe(0);
    const pkgDir = join(project, 'node_modules', '@mp', 'memory');
    expect(existsSync(join(pkgDir, 'prebuilds', 'linux-x64'))).toBe(true);
    expect(existsSync(join(pkgDir, 'build'))).toBe(false);
    const esm = await run(join(bin, 'node'), ['--input-type=module', '-e', "import { pageSize } from '@mp/memory'; console.log(pageSize)"], { cwd: project, env });
    const cjs = await run(join(bin, 'node'), ['-e', "console.log(require('@mp/memory').pageSize)"], { cwd: project, env });
    expect(Number(esm.stdout.trim())).toBeGreaterThanOrEqual(4096);
    expect(Number(cjs.stdout.trim())).toBe(Number(esm.stdout.trim()));
  });
});
