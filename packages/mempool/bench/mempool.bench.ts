// @mp/mempool benchmark (`pnpm --filter @mp/mempool bench`): getBulk/putBulk of 32 with a cache of 256
// and without cache, and mbuf allocBulk/freeBulk of 32, per-object CPU time, beside DPDK's
// rte_mempool_get_bulk/put_bulk and rte_pktmbuf_alloc_bulk/free_bulk doing the same loops in C
// (dpdk/mempool_bulk.c, built here against Debian's libdpdk; never committed as a binary). Both run as
// single processes pinned to the same core, in alternating rounds (REPS, median shown), so load from
// other work on the machine hits them alike; CPU time (not wall time) is measured for the same reason.
// Also (JS only): three ways to reach a packet's bytes. Prints ratios; benches never assert.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = import.meta.dirname;
const REPS = Number(process.env.MEMPOOL_BENCH_REPS ?? 5);
const ITERS = Number(process.env.MEMPOOL_BENCH_ITERS ?? 1_000_000);
const N = 8192;
const CACHE = 256;
const CASES: Array<[string, string]> = [
  ['bulk-cache', `getBulk + putBulk of 32, cache ${CACHE}`],
  ['bulk-nocache', 'getBulk + putBulk of 32, no cache'],
  ['mbuf-cache', `mbuf allocBulk + freeBulk of 32, cache ${CACHE}`],
];
const ACCESS: Array<[string, string]> = [
  ['data-view', 'Mbuf.data(h): a view per packet'],
  ['data-offset', 'Mbuf.bytes + Mbuf.dataOffset: no view'],
  ['obj-view', 'pool.obj(h): cached view per object'],
];

type Results = Map<string, number[]>;

function run(cmd: string, args: string[], timeoutMs = 600_000): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ out, err, code });
    });
  });
}

/** Collect "<tag> <case> <ns>" lines. */
function collect(out: string, tag: string, into: Results): void {
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || f[0] !== tag || f[1] === 'warm') continue;
    const arr = into.get(f[1]!) ?? [];
    arr.push(Number(f[2]));
    into.set(f[1]!, arr);
  }
}

const median = (a: number[] | undefined): number => {
  if (!a || a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
};

const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();
const pin = (args: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', '0', ...args]] : [args[0]!, args.slice(1)]);

/** Build the C peer in a temp dir; undefined + reason when it cannot run here. */
function buildDpdk(dir: string): { bin?: string; version?: string; skipped?: string } {
  let version: string;
  try {
    version = execFileSync('pkg-config', ['--modversion', 'libdpdk']).toString().trim();
  } catch {
    return { skipped: 'libdpdk not found by pkg-config (install libdpdk-dev)' };
  }
  if (process.getuid?.() !== 0) return { skipped: 'not root: DPDK EAL init needs root here', version };
  const bin = join(dir, 'mempool_bulk');
  try {
    const cflags = execFileSync('pkg-config', ['--cflags', 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
    const libs = execFileSync('pkg-config', ['--libs', 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
    execFileSync('gcc', ['-O3', '-Wall', '-Wextra', ...cflags, join(here, 'dpdk/mempool_bulk.c'), '-o', bin, ...libs], { stdio: 'pipe' });
  } catch (err) {
    return { skipped: `building dpdk/mempool_bulk.c failed: ${(err as Error).message.slice(0, 300)}`, version };
  }
  return { bin, version };
}

const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

async function main(): Promise<void> {
  if (!existsSync(join(here, '../dist/index.js'))) throw new Error('build first: pnpm turbo run build --filter @mp/mempool...');
  console.log(
    `@mp/mempool bench: node ${process.version}, ${REPS} alternating rounds of ${ITERS} iterations (${N} objects), ` +
      `CPU time per object, taskset ${hasTaskset ? 'core 0 for both' : 'unavailable (unpinned)'}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'mp-mempool-bench-'));
  const js: Results = new Map();
  const dpdk: Results = new Map();
  const built = buildDpdk(dir);
  let dpdkNote = built.skipped;
  try {
    for (let r = 0; r < REPS; r++) {
      if (built.bin !== undefined && dpdkNote === undefined) {
        const prefix = `mpmb${process.pid}_${r}`;
        const [cmd, args] = pin([
          built.bin,
          '-l', '0', '--no-huge', '-m', '512', '--no-pci', '--no-telemetry', '--no-shconf', '--log-level=error', `--file-prefix=${prefix}`,
          '--', String(ITERS), String(N), String(CACHE),
        ]);
        const c = await run(cmd, args);
        rmSync(join('/var/run/dpdk', prefix), { recursive: true, force: true });
        if (c.code !== 0) dpdkNote = `DPDK run failed (${c.code}): ${c.err.slice(0, 300)}`;
        else collect(c.out, 'dpdk', dpdk);
      }
      const [cmd, args] = pin([process.execPath, join(here, 'js.mjs'), `mpmbj${process.pid}_${r}`, String(ITERS), String(N), String(CACHE)]);
      const j = await run(cmd, args);
      if (j.code !== 0) throw new Error(`js.mjs failed: ${j.err}`);
      collect(j.out, 'js', js);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(dpdkNote === undefined ? `DPDK ${built.version}: rte_mempool / rte_mbuf, one lcore, --no-huge (as @mp here)` : `DPDK C reference skipped: ${dpdkNote}`);
  console.log('');
  console.log('| case | @mp/mempool ns/object | DPDK C ns/object | @mp speed vs DPDK |');
  console.log('|---|---|---|---|');
  for (const [key, label] of CASES) {
    const j = median(js.get(key));
    const d = median(dpdk.get(key));
    console.log(`| ${label} | ${fmt(j)} | ${fmt(d)} | ${fmt(d / j)}× |`);
  }
  console.log('');
  console.log('| reaching a packet\'s first and last byte (JS only) | ns/packet | vs data-offset |');
  console.log('|---|---|---|');
  const base = median(js.get('data-offset'));
  for (const [key, label] of ACCESS) {
    const j = median(js.get(key));
    console.log(`| ${label} | ${fmt(j)} | ${fmt(j / base)}× |`);
  }
}

await main();
