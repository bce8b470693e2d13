// @mp/ring cross-process benchmark (`pnpm --filter @mp/ring bench`). Producer and consumer are separate
// `node` processes pinned with taskset to cores 0 and 1; SP/SC and MP/MC rings of 4096 slots, 4- and
// 8-byte elements, bursts 1/8/32/128, median of REPS runs (after a warm-up run), each checksum-verified.
// In the same run: (a) a plain SharedArrayBuffer ring between two worker threads (sab.mjs), (b) where
// libdpdk is installed and we are root, DPDK's rte_ring across a primary and a secondary (dpdk/*.c, built
// here). Prints absolute Melem/s and the ratios the issue names; benches never assert.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Samples, buildDpdkC, pinningNote, rounds, runPeer, startBench } from '@mp/bench-utils';
import type { Row } from '@mp/bench-utils';
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

/** Collect "<tag> mode esize burst rep melem ok" lines; rep -1 is the warm-up run inside the peers. */
function collect(out: string, into: Samples, bad: string[]): void {
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 7 || !['js', 'sab', 'sabc', 'dpdk'].includes(f[0]!)) continue;
    const key = `${f[1]} ${f[2]} ${f[3]}`;
    if (f[6] !== '1') bad.push(`${f[0]} ${key} rep ${f[4]}: checksum mismatch`);
    if (Number(f[4]) < 0) continue;
    into.add(key, Number(f[5]));
  }
}

const nArgs = ['1', ...NS.map(String)];
const bad: string[] = [];

// ---- @mp/ring, two processes ------------------------------------------------------------------------
let jsGroup: { prefix: string; ctl: Int32Array } | undefined;
async function benchJs(into: Samples, impl?: string): Promise<void> {
  if (jsGroup === undefined) {
    const prefix = `rbench${process.pid}`;
    init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '64']);
    const ctl = new Int32Array(memzone.reserve('rb_ctl', 64).buffer);
    for (let i = 0; i < 4; i++) Ring.create(`rb_${i}`, 4096, { elemSize: i % 2 ? 8 : 4, ...(i < 2 ? { producer: 'single', consumer: 'single' } : {}) });
    jsGroup = { prefix, ctl };
  }
  jsGroup.ctl.fill(0);
  const peer = join(here, 'peer.mjs');
  // RING_BENCH_IMPL makes the peers load another build of @mp/ring (see RING_BENCH_BUILDS).
  const env = impl === undefined ? undefined : { RING_BENCH_IMPL: impl };
  const [p, c] = await Promise.all([
    runPeer([process.execPath, peer, 'prod', jsGroup.prefix, ...nArgs], { cpu: 0, env }),
    runPeer([process.execPath, peer, 'cons', jsGroup.prefix, ...nArgs], { cpu: 1, env }),
  ]);
  if (p.code !== 0 || c.code !== 0) throw new Error(`peers failed: ${p.err}\n${c.err}`);
  collect(c.out, into, bad);
}

// ---- SharedArrayBuffer ring between worker threads ----------------------------------------------------
async function benchSab(into: Samples, cached = false): Promise<void> {
  const r = await runPeer([process.execPath, join(here, 'sab.mjs'), ...nArgs], { cpu: '0,1', env: cached ? { SAB_CACHED: '1' } : {} });
  if (r.code !== 0) throw new Error(`sab.mjs failed: ${r.err}`);
  collect(r.out, into, bad);
}

// ---- DPDK C reference ------------------------------------------------------------------------------------
interface Dpdk {
  version?: string;
  skipped?: string;
  /** One round: a primary producer (core 0), then a secondary consumer (core 1); false if it failed. */
  round?: (into: Samples) => Promise<boolean>;
  teardown(): void;
}

/** Build the C peer, make hugepages and a private hugetlbfs mount; `skipped` says why not. */
function setupDpdk(): Dpdk {
  const none = (): void => {};
  const dir = mkdtempSync(join(tmpdir(), 'mp-ring-dpdk-'));
  const built = buildDpdkC(join(here, 'dpdk/ring_xproc.c'), dir, { needRoot: 'DPDK needs hugepages and a hugetlbfs mount' });
  const { bin, version } = built;
  if (bin === undefined) {
    rmSync(dir, { recursive: true, force: true });
    return { skipped: built.skipped, version, teardown: none };
  }
  const huge = join(dir, 'huge');
  let mounted = false;
  let restoreNr: number | undefined;
  const prefix = `mprb${process.pid}`;
  const teardown = (): void => {
    if (mounted) {
      try {
        execFileSync('umount', [huge]);
      } catch {
        // Busy while a peer that just exited still has its pages mapped: detach it now, the kernel
        // frees it when the last mapping goes (a plain umount left mounts behind after a run).
        try {
          execFileSync('umount', ['-l', huge]);
        } catch {
          // not mounted any more
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(join('/var/run/dpdk', prefix), { recursive: true, force: true });
    if (restoreNr !== undefined) writeFileSync('/proc/sys/vm/nr_hugepages', String(restoreNr));
  };
  try {
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
  } catch (err) {
    teardown();
    return { skipped: `DPDK run failed: ${(err as Error).message.slice(0, 300)}`, version, teardown: none };
  }
  const eal = [`--file-prefix=${prefix}`, `--huge-dir=${huge}`, '--no-pci', '--no-telemetry', '--log-level=error'];
  const d: Dpdk = { version, teardown };
  d.round = async (into) => {
    const prim = runPeer([bin, '-l', '0', '--proc-type=primary', '-m', '32', ...eal, '--', 'prod', ...nArgs], { cpu: 0 });
    await new Promise((r) => setTimeout(r, 1500));
    const [c, p] = await Promise.all([runPeer([bin, '-l', '1', '--proc-type=secondary', ...eal, '--', 'cons', ...nArgs], { cpu: 1 }), prim]);
    if (c.code !== 0) {
      d.skipped = `DPDK secondary failed (${c.code}): ${c.err.slice(0, 300)}`;
      return false;
    }
    if (p.code !== 0) console.log(`note: DPDK primary exited ${p.code}: ${p.err.slice(0, 200)}`);
    collect(c.out, into, bad);
    return true;
  };
  return d;
}

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
  const bench = startBench({
    package: '@mp/ring',
    what: 'cross-process throughput beside a SharedArrayBuffer ring (worker threads) and DPDK rte_ring',
    memory: '@mp: /dev/shm, 4 KiB pages (--no-huge); DPDK: a private hugetlbfs mount (2 MiB pages)',
    pinning: pinningNote('producer core 0, consumer core 1; SAB workers cores 0-1'),
    params: `${REPS} interleaved rounds (SAB, SAB tuned, @mp/ring, DPDK; +1 warm-up run each inside the peers), n = ${NS.join('/')} for burst 1/8/32+`,
  });
  // Rounds interleave the references and @mp/ring so that load from other work on the machine hits them
  // alike; each round runs every cell once (after a warm-up run); the table shows the median over rounds.
  const sab = new Samples();
  const sabTuned = new Samples();
  const js = new Samples();
  const dres = new Samples();
  // RING_BENCH_SAB=0 leaves the SharedArrayBuffer references out (a loaded machine: the DPDK C reference
  // is the one the goals name).
  const withSab = process.env.RING_BENCH_SAB !== '0';
  // RING_BENCH_BUILDS=label=<dist dir>,… also runs those builds of @mp/ring (same layout version) in every
  // round, for comparing a change with its predecessor in one invocation.
  const builds = (process.env.RING_BENCH_BUILDS ?? '').split(',').filter(Boolean).map((b) => {
    const [label, dir] = b.split('=');
    return { label: label!, dir: dir!, res: new Samples() };
  });
  const dpdk = setupDpdk();
  try {
    await rounds({ rounds: REPS }, [
      ['sab', () => (withSab ? benchSab(sab) : undefined)],
      ['sab tuned', () => (withSab ? benchSab(sabTuned, true) : undefined)],
      ['@mp/ring', () => benchJs(js)],
      ...builds.map((b): [string, () => Promise<void>] => [b.label, () => benchJs(b.res, b.dir)]),
      ['dpdk', async () => {
        if (dpdk.round !== undefined && dpdk.skipped === undefined) await dpdk.round(dres);
      }],
    ]);
  } finally {
    dpdk.teardown();
  }
  const haveDpdk = dpdk.skipped === undefined && dres.keys().length > 0;
  bench.note(haveDpdk ? `DPDK ${dpdk.version}: rte_ring across a primary (core 0) and a secondary (core 1)` : `DPDK C reference skipped: ${dpdk.skipped}`);
  const rows: Row[] = KEYS.map((key) => {
    const [m, e, b] = key.split(' ');
    const spsc = m === 'spsc';
    return {
      op: `${spsc ? 'SP/SC' : 'MP/MC'}, ${e} B, burst ${b}`,
      ours: js.median(key),
      refs: { 'SAB workers': sab.median(key), ...(spsc ? { 'SAB tuned': sabTuned.median(key) } : {}), 'DPDK C': dres.median(key) },
      anchors: { 'DPDK C rte_ring': ANCHOR[key] },
    };
  });
  bench.table({ title: `@mp/ring across two processes, median of ${REPS} rounds`, ours: '@mp/ring', unit: 'Melem/s', refs: ['SAB workers', 'SAB tuned', 'DPDK C'], anchors: ['DPDK C rte_ring'], digits: 1 }, rows);
  if (builds.length > 0) {
    const cells = KEYS.filter((k) => / 8 (32|128)$/.test(k));
    bench.table(
      { title: 'saved builds of @mp/ring in the same rounds (RING_BENCH_BUILDS)', ours: 'this build', unit: 'Melem/s', refs: [...builds.map((b) => b.label), 'DPDK C'], digits: 1 },
      cells.map((key) => ({ op: key, ours: js.median(key), refs: { ...Object.fromEntries(builds.map((b) => [b.label, b.res.median(key)])), 'DPDK C': dres.median(key) } })),
    );
  }
  // Bare metal: ~100-200 ns. Far above that, the host does not run both cores at once and every
  // cross-process figure here measures its scheduling more than either ring.
  bench.note(`cache-line round trip between cores 0 and 1 (C threads, this run): ${crossCoreNs().toFixed(1)} ns`);
  const g = (k: string, r: Samples): number => r.median(k);
  const goals: Array<[string, number, number]> = [
    ['burst 32 SP/SC ≥ 0.5× DPDK C (8 B)', g('spsc 8 32', js) / g('spsc 8 32', dres), 0.5],
    ['burst 32 SP/SC ≥ 1.5× SAB ring (8 B)', g('spsc 8 32', js) / g('spsc 8 32', sab), 1.5],
    ['burst 32 SP/SC ≥ 1.5× the tuned SAB ring (8 B; stricter than the issue asks)', g('spsc 8 32', js) / g('spsc 8 32', sabTuned), 1.5],
    ['burst 1 SP/SC ≥ 1.0× DPDK C (8 B)', g('spsc 8 1', js) / g('spsc 8 1', dres), 1.0],
    ['burst 32 MP/MC ≥ 0.5× DPDK C (8 B)', g('mpmc 8 32', js) / g('mpmc 8 32', dres), 0.5],
    ['burst 128 SP/SC ≥ 0.6× DPDK C (8 B; issue 18)', g('spsc 8 128', js) / g('spsc 8 128', dres), 0.6],
  ];
  for (const [label, ratio, goal] of goals) {
    bench.note(`goal ${label}: ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}× ${ratio >= goal ? 'met' : 'NOT met'}` : '—× (no reference)'}`);
  }
  bench.note('ANCHORS.md SAB SPSC workers: 28 / 96 / 141 / 162 Melem/s at burst 1 / 8 / 32 / 128');
  if (bad.length > 0) {
    bench.note(`CHECKSUM FAILURES:\n${bad.join('\n')}`);
    process.exitCode = 1;
  } else {
    bench.note('all runs checksum-verified');
  }
  bench.end();
}

await main();
