/**
 * The release as consumers get it (issue 14 #3, #7): every package is packed as `pnpm release` packs it,
 * published to a local verdaccio (127.0.0.1, storage in a temp dir, stopped after), and installed into
 * empty projects with npm, pnpm 10, pnpm 12 and yarn 1, PATH holding only node, that package manager
 * and sh (no compiler, make or python). Each project installs one package and @mp/eal, exactly as its
 * README's Install line says, then an ES-module primary makes the package's object and a CommonJS
 * secondary (another process) finds it through the installed tarballs.
 *
 * Default matrix (about 3 minutes here): npm × every package with a probe (ring, hash, ipc, mempool,
 * pmd-vfio), pnpm 10 and pnpm 12 × ring, hash and ipc, yarn 1 × ring. MP_REGISTRY_MATRIX=full: every
 * manager × every package. Installs run two at a time (they wait on the network, not the CPU).
 *
 * Then each runnable example of the package's README (tools/pack-check/src/examples.ts; with npm × ring,
 * also @mp/eal's and @mp/memory's) runs from the installed tarball as a primary and a secondary process.
 *
 * Also two nested versions of @mp/memory in one process (npm puts the one @mp/eal asks for under it):
 * the same state layout → one group for both copies; another layout → EPROTO naming both copies.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packAll, type Packed } from '../src/pack.js';
import { startRegistry, type LocalRegistry } from '../src/registry.js';
import { exampleProgram, runnableBlocks } from '../src/examples.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const run = promisify(execFile);
const FULL = process.env.MP_REGISTRY_MATRIX === 'full';
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'consumer');
/** This package's node_modules: pnpm 10 and yarn 1 are its devDependencies (aliases pnpm10, yarn1). */
const PKG_MODULES = join(import.meta.dirname, '..', 'node_modules');

let work: string;
let registry: LocalRegistry | undefined;
let packed: Packed[];
let seq = 0;

interface Manager {
  name: string;
  /** The command in the project's PATH and how it runs. */
  exe: string;
  script?: string;
  add: (pkgs: string[]) => string[];
}
const managers: Manager[] = [
  { name: 'npm', exe: 'npm', add: (p) => ['install', '--no-audit', '--no-fund', ...p] },
  { name: 'pnpm10', exe: 'pnpm', script: join(PKG_MODULES, 'pnpm10', 'bin', 'pnpm.cjs'), add: (p) => ['add', ...p] },
  { name: 'pnpm12', exe: 'pnpm', add: (p) => ['add', ...p] },
  // yarn 1 gives every package with a binding.gyp an implicit `node-gyp rebuild` install script (it ignores
  // `gypfile: false`), which fails without a compiler: yarn 1 users add --ignore-scripts (the READMEs say so).
  { name: 'yarn1', exe: 'yarn', script: join(PKG_MODULES, 'yarn1', 'bin', 'yarn.js'), add: (p) => ['add', '--non-interactive', '--no-progress', '--ignore-scripts', ...p] },
];
const expected: Record<string, unknown> = {
  ring: { n: 2, first: 42 },
  hash: { data: 42 },
  ipc: { reply: 42 },
  mempool: { alloc: true },
  'pmd-vfio': { port: 'net_ring0' },
};
const cases = managers.flatMap((m) =>
  Object.keys(expected)
    .filter((pkg) => FULL || m.name === 'npm' || (m.name === 'yarn1' ? pkg === 'ring' : ['ring', 'hash', 'ipc'].includes(pkg)))
    .map((pkg) => ({ manager: m.name, pkg })),
);

async function which(cmd: string): Promise<string> {
  const r = await run('sh', ['-c', `command -v ${cmd}`]);
  return realpathSync(r.stdout.trim());
}

/** A directory with node, sh and this manager only, for PATH (made once per manager). */
const bins = new Map<string, Promise<string>>();
function binFor(m: Manager): Promise<string> {
  let bin = bins.get(m.name);
  if (bin === undefined) {
    bin = (async (): Promise<string> => {
      const dir = join(work, `bin-${m.name}`);
      mkdirSync(dir);
      const node = await which('node');
      symlinkSync(node, join(dir, 'node'));
      symlinkSync(await which('sh'), join(dir, 'sh'));
      if (m.script) writeFileSync(join(dir, m.exe), `#!${join(dir, 'sh')}\nexec ${node} ${m.script} "$@"\n`, { mode: 0o755 });
      else symlinkSync(await which(m.exe), join(dir, m.exe));
      return dir;
    })();
    bins.set(m.name, bin);
  }
  return bin;
}

/** An empty project whose `@mp` scope comes from the local registry. */
function project(label: string): string {
  const dir = mkdtempSync(join(work, `${label}-`));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  writeFileSync(join(dir, '.npmrc'), `@mp:registry=${registry!.url}\n`);
  return dir;
}

async function install(m: Manager, dir: string, pkgs: string[]): Promise<{ code: number; out: string; env: NodeJS.ProcessEnv }> {
  const bin = await binFor(m);
  const env: NodeJS.ProcessEnv = {
    PATH: bin,
    HOME: process.env.HOME ?? dir,
    npm_config_update_notifier: 'false',
    YARN_CACHE_FOLDER: join(work, 'yarn-cache'), // yarn 1 caches by name@version: never a stale @mp tarball
  };
  for (const tool of ['gcc', 'cc', 'c++', 'make', 'python3']) {
    await expect(run(join(bin, 'sh'), ['-c', `command -v ${tool}`], { env }), `${tool} must not be on PATH`).rejects.toBeDefined();
  }
  return run(join(bin, m.exe), m.add(pkgs), { cwd: dir, env, maxBuffer: 32 << 20 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr, env }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: Number(err.code ?? -1), out: `${err.stdout}${err.stderr}`, env }),
  );
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'mp-registry-'));
  [registry, packed] = await Promise.all([startRegistry(join(work)), packAll()]);
  for (const p of packed) await registry.publish(p.tarball);
  // Two more versions of @mp/memory for the nested-copies case: 0.2.0 (same state layout) and 0.3.0 (layout 2).
  const memory = packed.find((p) => p.name === '@mp/memory')!;
  for (const [version, layout] of [['0.2.0', 1], ['0.3.0', 2]] as const) {
    const dir = join(work, `memory-${version}`);
    cpSync(memory.unpacked, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
    manifest.version = version;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    // The version is compiled into the bundle (tsup.base.ts `define`): a build of that version has it there.
    const built = JSON.stringify(String(memory.manifest.version));
    for (const f of readdirSync(join(dir, 'dist')).filter((n) => /\.(c?js)$/.test(n))) {
      const file = join(dir, 'dist', f);
      writeFileSync(file, readFileSync(file, 'utf8').replace(/MEMORY_STATE_LAYOUT = 1;/, `MEMORY_STATE_LAYOUT = ${layout};`).replaceAll(built, JSON.stringify(version)));
    }
    await registry.publish(dir);
  }
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.concurrent('installed from a registry: one package + @mp/eal, no compiler; ESM primary ↔ CJS secondary', () => {
  it.for(cases)('$manager: @mp/$pkg', async ({ manager, pkg }, { expect }) => {
    const m = managers.find((x) => x.name === manager)!;
    const dir = project(`${manager}-${pkg}`);
    const res = await install(m, dir, [`@mp/${pkg}`, '@mp/eal']);
    expect(res.out).not.toContain('ERR_PNPM_IGNORED_BUILDS');
    expect(res.code, res.out).toBe(0);
    expect(existsSync(join(dir, 'node_modules', '@mp', pkg, 'build')), 'nothing compiled').toBe(false);
    cpSync(FIXTURES, dir, { recursive: true });
    const prefix = `pc${process.pid}x${seq++}`;
    const { stdout } = await run(join(await binFor(m), 'node'), ['primary.mjs', pkg, prefix], { cwd: dir, env: res.env });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(expected[pkg]);
    // The README's runnable examples, from the installed tarball, as a primary and then a secondary.
    const node = join(await binFor(m), 'node');
    for (const shown of manager === 'npm' && pkg === 'ring' ? [pkg, 'eal', 'memory'] : [pkg]) {
      const blocks = runnableBlocks(readFileSync(join(dir, 'node_modules', '@mp', shown, 'README.md'), 'utf8'));
      if (shown !== 'pmd-vfio') expect(blocks.length, `runnable examples in @mp/${shown}'s README`).toBeGreaterThan(0);
      for (const [i, block] of blocks.entries()) {
        const prefix = `pc${process.pid}e${seq++}`;
        const file = join(dir, `example-${shown}-${i}.mjs`);
        writeFileSync(file, exampleProgram(block, prefix));
        const argv = [file, '--proc-type=auto', `--file-prefix=${prefix}`, '--no-huge', '--'];
        const primary = spawn(node, [...argv, '--hold'], { cwd: dir, env: res.env, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        primary.stdout.on('data', (d: Buffer) => (out += d.toString()));
        primary.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const exited = once(primary, 'exit');
        // The primary announces itself once its part ran; then the secondary runs to its end.
        await new Promise<void>((ready, fail) => {
          primary.stdout.on('data', () => out.includes('proc-type ') && ready());
          void exited.then(() => fail(new Error(`@mp/${shown} example ${i} exited before its secondary ran:\n${out}`)));
        });
        expect(out, `@mp/${shown} example ${i}`).toContain('proc-type primary');
        const secondary = await run(node, argv, { cwd: dir, env: res.env }).then(
          (r) => r.stdout + r.stderr,
          (err: { stdout?: string; stderr?: string }) => `failed: ${err.stdout}${err.stderr}`,
        );
        primary.stdin.end('exit\n');
        const [code] = await exited;
        expect(secondary, `@mp/${shown} example ${i} (secondary)`).toContain('proc-type secondary');
        expect(code, `@mp/${shown} example ${i} (primary):\n${out}`).toBe(0);
      }
    }
  });
});

describe('two nested versions of @mp/memory in one process (npm)', () => {
  const nested = async (memoryVersion: string): Promise<{ dir: string; out: string; env: NodeJS.ProcessEnv }> => {
    const dir = project(`nested-${memoryVersion}`);
    const res = await install(managers[0]!, dir, ['@mp/eal@0.1.0', `@mp/memory@${memoryVersion}`]);
    expect(res.code, res.out).toBe(0);
    const version = (p: string): string => (JSON.parse(readFileSync(join(dir, p, 'package.json'), 'utf8')) as { version: string }).version;
    // The copy the application imports and the copy @mp/eal uses are two installs.
    expect(version('node_modules/@mp/memory')).toBe(memoryVersion);
    expect(version('node_modules/@mp/eal/node_modules/@mp/memory')).toBe('0.1.0');
    const script = `
      const { init } = await import('@mp/eal');
      const e = init(['--file-prefix=pc${process.pid}n${seq++}', '--no-huge', '--no-telemetry']);
      let out;
      try { const { memzone } = await import('@mp/memory'); memzone.reserve('shared', 64); out = 'one group: ' + memzone.list().map((z) => z.name).join(','); }
      catch (err) { out = err.code + ' ' + err.message; }
      e.cleanup();
      console.log(out);`;
    const r = await run(join(await binFor(managers[0]!), 'node'), ['--input-type=module', '-e', script], { cwd: dir, env: res.env });
    return { dir, out: r.stdout.trim(), env: res.env };
  };

  it('same state layout (0.1.0 under @mp/eal, 0.2.0 on top): both copies use the one group', async () => {
    expect((await nested('0.2.0')).out).toMatch(/^one group: .*shared/);
  });

  it('another state layout (0.3.0 on top): EPROTO naming both copies', async () => {
    expect((await nested('0.3.0')).out).toMatch(/^EPROTO .*@mp\/memory@0\.3\.0 cannot share .*@mp\/memory@0\.1\.0 holds it with layout version 1/);
  });
});
