// @mp/ring cross-process benchmark (`pnpm --filter @mp/ring bench`). Producer and consumer are separate
// `node` processes pinned with taskset to cores 0 and 1; SP/SC and MP/MC rings of 4096 slots, 4- and
// 8-byte elements, bursts 1/8/32/128, median of REPS runs (after a warm-up run), each checksum-verified.
// In the same run: (a) a plain SharedArrayBuffer ring between two worker threads (sab.mjs), (b) where
// libdpdk is installed and we are root, DPDK's rte_ring across a primary and a secondary (dpdk/*.c, built
// here). Prints absolute Melem/s and the ratios the issue names; benches never assert.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, memzone } from '@mp/eal';
import { Ring } from '@mp/ring'; // the built package, as the peers load it

const here = import.meta.dirname;
const REPS = Number(process.env.RING_BENCH_REPS ?? 3);
// Elements per run for burst 1, burst 8, bursts 32 and 128.
const NS = (process.env.RING_BENCH_N ?? '3000000,10000000,20000000').split(',').map(Number);
const KEYS = ['spsc', 'mpmc'].flatMap((m) => [4, 8].flatMap((e) => [1, 8, 32, 128].map((b) => `${m} ${e} ${b}`)));
// ../shared/bench/ANCHORS.md: DPDK C, cross-process rte_ring, 8-byte elements, median of 9.
const ANCHOR: Record<string, number> = {
  'spsc 8 1': 37, 'spsc 8 8': 162, 'spsc 8 32': 460, 'spsc 8 128': 856,
  'mpmc 8 1': 5.3, 'mpmc 8 8': 29, 'mpmc 8 32': 222, 'mpmc 8 128': 431,
};

type Results = Map<string, number[]>;

/** Run a command, collect "<tag> mode esize burst rep melem ok" lines; rep -1 is the warm-up. */
function collect(out: string, into: Results, bad: string[]): void {
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 7 || !['js', 'sab', 'sabc', 'dpdk'].includes(f[0]!)) continue;
    const key = `${f[1]} ${f[2]} ${f[3]}`;
    if (f[6] !== '1') bad.push(`${f[0]} ${key} rep ${f[4]}: checksum mismatch`);
    if (Number(f[4]) < 0) continue;
    const arr = into.get(key) ?? [];
    arr.push(Number(f[5]));
    into.set(key, arr);
  }
}

function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ out, err, code });
    });
  });
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
const pin = (cpus: string, args: string[]): [string, string[]] => (hasTaskset ? ['taskset', ['-c', cpus, ...args]] : [args[0]!, args.slice(1)]);
const nArgs = ['1', ...NS.map(String)];
const bad: string[] = [];

// ---- @mp/ring, two processes ------------------------------------------------------------------------
let jsGroup: { prefix: string; ctl: Int32Array } | undefined;
async function benchJs(into: Results, impl?: string): Promise<void> {
  if (jsGroup === undefined) {
    const prefix = `rbench${process.pid}`;
    init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '64']);
    const ctl = new Int32Array(memzone.reserve('rb_ctl', 64).buffer);
    for (let i = 0; i < 4; i++) Ring.create(`rb_${i}`, 4096, { elemSize: i % 2 ? 8 : 4, ...(i < 2 ? { producer: 'single', consumer: 'single' } : {}) });
    jsGroup = { prefix, ctl };
  }
  jsGroup.ctl.fill(0);
  const peer = join(here, 'peer.mjs');
  const [pc, pa] = pin('0', [process.execPath, peer, 'prod', jsGroup.prefix, ...nArgs]);
  const [cc, ca] = pin('1', [process.execPath, peer, 'cons', jsGroup.prefix, ...nArgs]);
  const env = impl === undefined ? {} : { RING_BENCH_IMPL: impl };
  const [p, c] = await Promise.all([run(pc, pa, { env }), run(cc, ca, { env })]);
  if (p.code !== 0 || c.code !== 0) throw new Error(`peers failed: ${p.err}\n${c.err}`);
  collect(c.out, into, bad);
}

// ---- SharedArrayBuffer ring between worker threads ----------------------------------------------------
async function benchSab(into: Results, cached = false): Promise<void> {
  const [cmd, args] = pin('0,1', [process.execPath, join(here, 'sab.mjs'), ...nArgs]);
  const r = await run(cmd, args, { env: cached ? { SAB_CACHED: '1' } : {} });
  if (r.code !== 0) throw new Error(`sab.mjs failed: ${r.err}`);
  collect(r.out, into, bad);
}

// ---- DPDK C reference ------------------------------------------------------------------------------------
async function benchDpdk(rounds: number, between: () => Promise<void>): Promise<{ res?: Results; skipped?: string; version?: string }> {
  let version: string;
  try {
    version = execFileSync('pkg-config', ['--modversion', 'libdpdk']).toString().trim();
  } catch {
    return { skipped: 'libdpdk not found by pkg-config (install libdpdk-dev)' };
  }
  if (process.getuid?.() !== 0) return { skipped: 'not root: DPDK needs hugepages and a hugetlbfs mount' };
  const dir = mkdtempSync(join(tmpdir(), 'mp-ring-dpdk-'));
  const bin = join(dir, 'ring_xproc');
  const huge = join(dir, 'huge');
  let mounted = false;
  let restoreNr: number | undefined;
  const prefix = `mprb${process.pid}`;
  try {
    const cflags = execFileSync('pkg-config', ['--cflags', 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
    const libs = execFileSync('pkg-config', ['--libs', 'libdpdk']).toString().trim().split(/\s+/).filter(Boolean);
    execFileSync('gcc', ['-O3', ...cflags, join(here, 'dpdk/ring_xproc.c'), '-o', bin, ...libs], { stdio: 'pipe' });
    // Hugepages: raise the pool if fewer than 48 are free (put back afterwards), mount a private hugetlbfs.
    const nrPath = '/proc/sys/vm/nr_hugepages';
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    const free = Number(/HugePages_Free:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
    const nr = Number(readFileSync(nrPath, 'utf8').trim());
    if (free < 48) {
      writeFileSync(nrPath, String(nr + (48 - free)));
      restoreNr = nr;
    }
    execFileSync('mkdir', ['-p', huge]);
    execFileSync('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'nodev', huge]);
    mounted = true;
    const eal = [`--file-prefix=${prefix}`, `--huge-dir=${huge}`, '--no-pci', '--no-telemetry', '--log-level=error'];
    const res: Results = new Map();
    for (let round = 0; round < rounds; round++) {
      await between();
      const [pc, pa] = pin('0', [bin, '-l', '0', '--proc-type=primary', '-m', '32', ...eal, '--', 'prod', ...nArgs]);
      const prim = run(pc, pa);
      await new Promise((r) => setTimeout(r, 1500));
      const [cc, ca] = pin('1', [bin, '-l', '1', '--proc-type=secondary', ...eal, '--', 'cons', ...nArgs]);
      const [c, p] = await Promise.all([run(cc, ca), prim]);
      if (c.code !== 0) return { skipped: `DPDK secondary failed (${c.code}): ${c.err.slice(0, 300)}`, version };
      if (p.code !== 0) console.log(`note: DPDK primary exited ${p.code}: ${p.err.slice(0, 200)}`);
      collect(c.out, res, bad);
    }
    return { res, version };
  } catch (err) {
    return { skipped: `DPDK run failed: ${(err as Error).message.slice(0, 300)}`, version };
  } finally {
    if (mounted) {
      try {
        execFileSync('umount', [huge]);
      } catch {
        // busy: leave it for the next boot
      }
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(join('/var/run/dpdk', prefix), { recursive: true, force: true });
    if (restoreNr !== undefined) writeFileSync('/proc/sys/vm/nr_hugepages', String(restoreNr));
  }
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

/** ns per cache-line round trip between cores 0 and 1 (dpdk/xcore_pingpong.c, plain C), or NaN. */
function crossCoreNs(): number {
  const dir = mkdtempSync(join(tmpdir(), 'mp-ring-xcore-'));
  try {
    const bin = join(dir, 'xcore');
    execFileSync('gcc', ['-O2', '-pthread', join(here, 'dpdk/xcore_pingpong.c'), '-o', bin], { stdio: 'pipe' });
    return Number(execFileSync(bin, ['100000'], { timeout: 120_000 }).toString());
  } catch {
    return NaN;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(here, '../dist/index.js'))) throw new Error('build first: pnpm turbo run build --filter @mp/ring...');
  console.log(`@mp/ring bench: node ${process.version}, ${REPS} rounds (SAB, @mp/ring, DPDK interleaved; +1 warm-up run each), n = ${NS.join('/')} for burst 1/8/32+, ` +
    `taskset ${hasTaskset ? 'cores 0 and 1' : 'unavailable (unpinned)'}`);
  // Rounds interleave the three so that load from other work on the machine hits them alike; each round
  // runs every cell once (after a warm-up run); the table shows the median over rounds.
  const sab: Results = new Map();
  const sabTuned: Results = new Map();
  const js: Results = new Map();
  let rounds = 0;
  // RING_BENCH_SAB=0 leaves the SharedArrayBuffer references out (a loaded machine: the DPDK C reference
  // is the one the goals name).
  const withSab = process.env.RING_BENCH_SAB !== '0';
  // RING_BENCH_BUILDS=label=<dist dir>,… also runs those builds of @mp/ring (same layout version) in every
  // round, for comparing a change with its predecessor in one invocation.
  const builds = (process.env.RING_BENCH_BUILDS ?? '').split(',').filter(Boolean).map((b) => {
    const [label, dir] = b.split('=');
    return { label: label!, dir: dir!, res: new Map() as Results };
  });
  const between = async (): Promise<void> => {
    rounds++;
    if (withSab) {
      await benchSab(sab);
      await benchSab(sabTuned, true);
    }
    await benchJs(js);
    for (const b of builds) await benchJs(b.res, b.dir);
  };
  const dpdk = await benchDpdk(REPS, between);
  while (rounds < REPS) await between(); // DPDK skipped or failed part-way
  console.log(dpdk.res ? `DPDK ${dpdk.version}: rte_ring across a primary (core 0) and a secondary (core 1)` : `DPDK C reference skipped: ${dpdk.skipped}`);
  // Bare metal: ~100-200 ns. Far above that, the host does not run both cores at once and every
  // cross-process figure here measures its scheduling more than either ring.
  console.log(`cache-line round trip between cores 0 and 1 (C threads, this run): ${fmt(crossCoreNs())} ns`);
  console.log('');
  console.log('| mode | elem | burst | @mp/ring Melem/s | SAB workers | SAB tuned | DPDK C | ring/SAB | ring/SAB tuned | ring/DPDK | DPDK anchor (ANCHORS.md) | ring/anchor |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const key of KEYS) {
    const [m, e, b] = key.split(' ');
    const j = median(js.get(key));
    const s = median(sab.get(key));
    const st = median(sabTuned.get(key));
    const d = median(dpdk.res?.get(key));
    const a = ANCHOR[key];
    console.log(
      `| ${m === 'spsc' ? 'SP/SC' : 'MP/MC'} | ${e} B | ${b} | ${fmt(j)} | ${fmt(s)} | ${m === 'spsc' ? fmt(st) : '—'} | ${fmt(d)} | ${fmt(j / s, 2)}× | ` +
        `${m === 'spsc' ? `${fmt(j / st, 2)}×` : '—'} | ${fmt(j / d, 2)}× | ` +
        `${a === undefined ? '—' : a} | ${a === undefined ? '—' : `${fmt(j / a, 2)}×`} |`,
    );
  }
  console.log('');
  if (builds.length > 0) {
    console.log(`| cell | this build | ${builds.map((b) => b.label).join(' | ')} | DPDK C | this/DPDK | ${builds.map((b) => `${b.label}/DPDK`).join(' | ')} |`);
    console.log(`|---|---|${builds.map(() => '---|').join('')}---|---|${builds.map(() => '---|').join('')}`);
    for (const key of KEYS.filter((k) => / 8 (32|128)$/.test(k))) {
      const d = median(dpdk.res?.get(key));
      const j = median(js.get(key));
      const bs = builds.map((b) => median(b.res.get(key)));
      console.log(`| ${key} | ${fmt(j)} | ${bs.map((x) => fmt(x)).join(' | ')} | ${fmt(d)} | ${fmt(j / d, 2)}× | ${bs.map((x) => `${fmt(x / d, 2)}×`).join(' | ')} |`);
    }
    console.log('');
  }
  const g = (k: string, r: Results | undefined): number => median(r?.get(k));
  const goals: Array<[string, number, number]> = [
    ['burst 32 SP/SC ≥ 0.5× DPDK C (8 B)', g('spsc 8 32', js) / g('spsc 8 32', dpdk.res), 0.5],
    ['burst 32 SP/SC ≥ 1.5× SAB ring (8 B)', g('spsc 8 32', js) / g('spsc 8 32', sab), 1.5],
    ['burst 32 SP/SC ≥ 1.5× the tuned SAB ring (8 B; stricter than the issue asks)', g('spsc 8 32', js) / g('spsc 8 32', sabTuned), 1.5],
    ['burst 1 SP/SC ≥ 1.0× DPDK C (8 B)', g('spsc 8 1', js) / g('spsc 8 1', dpdk.res), 1.0],
    ['burst 32 MP/MC ≥ 0.5× DPDK C (8 B)', g('mpmc 8 32', js) / g('mpmc 8 32', dpdk.res), 0.5],
  ];
  for (const [label, ratio, goal] of goals) {
    console.log(`goal ${label}: ${fmt(ratio, 2)}× ${Number.isFinite(ratio) ? (ratio >= goal ? 'met' : 'NOT met') : '(no reference)'}`);
  }
  console.log('ANCHORS.md fallback (DPDK C, 8 B, SP/SC | MP/MC Melem/s): burst 1: 37 | 5.3, 8: 162 | 29, 32: 460 | 222, 128: 856 | 431; ' +
    'SAB SPSC workers: 28 / 96 / 141 / 162');
  if (bad.length > 0) {
    console.log(`CHECKSUM FAILURES:\n${bad.join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('all runs checksum-verified');
  }
}

await main();
