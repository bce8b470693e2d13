// @mp/mempool benchmark (`pnpm --filter @mp/mempool bench`): getBulk/putBulk of 32 with a cache of 256
// and without cache, and mbuf allocBulk/freeBulk of 32, per-object CPU time, beside DPDK's
// rte_mempool_get_bulk/put_bulk and rte_pktmbuf_alloc_bulk/free_bulk doing the same loops in C
// (dpdk/mempool_bulk.c, built here against Debian's libdpdk; never committed as a binary). Both run as
// single processes pinned to the same core, in alternating rounds (REPS, median shown), so load from
// other work on the machine hits them alike; CPU time (not wall time) is measured for the same reason.
// Also (JS only): three ways to reach a packet's bytes. Prints ratios; benches never assert.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Samples, buildDpdkC, pinningNote, rounds, runPeer, startBench } from '@mp/bench-utils';

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

/** Collect "<tag> <case> <ns>" lines. */
function collect(out: string, tag: string, into: Samples): void {
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || f[0] !== tag || f[1] === 'warm') continue;
    into.add(f[1]!, Number(f[2]));
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(here, '../dist/index.js'))) throw new Error('build first: pnpm turbo run build --filter @mp/mempool...');
  const bench = startBench({
    package: '@mp/mempool',
    what: 'bulk get/put and mbuf alloc/free, CPU time per object, beside DPDK rte_mempool/rte_mbuf',
    memory: '/dev/shm, 4 KiB pages (--no-huge), DPDK too',
    pinning: pinningNote('core 0 for both'),
    params: `${REPS} alternating rounds of ${ITERS} iterations (${N} objects)`,
  });
  const dir = mkdtempSync(join(tmpdir(), 'mp-mempool-bench-'));
  const js = new Samples();
  const dpdk = new Samples();
  const built = buildDpdkC(join(here, 'dpdk/mempool_bulk.c'), dir, { needRoot: 'DPDK EAL init needs root here' });
  let dpdkNote = built.skipped;
  try {
    await rounds({ rounds: REPS }, [
      ['dpdk', async (_rec, r) => {
        if (built.bin === undefined || dpdkNote !== undefined) return;
        const prefix = `mpmb${process.pid}_${r}`;
        const c = await runPeer(
          [
            built.bin,
            '-l', '0', '--no-huge', '-m', '512', '--no-pci', '--no-telemetry', '--no-shconf', '--log-level=error', `--file-prefix=${prefix}`,
            '--', String(ITERS), String(N), String(CACHE),
          ],
          { cpu: 0 },
        );
        rmSync(join('/var/run/dpdk', prefix), { recursive: true, force: true });
        if (c.code !== 0) dpdkNote = `DPDK run failed (${c.code}): ${c.err.slice(0, 300)}`;
        else collect(c.out, 'dpdk', dpdk);
      }],
      ['js', async (_rec, r) => {
        const j = await runPeer([process.execPath, join(here, 'js.mjs'), `mpmbj${process.pid}_${r}`, String(ITERS), String(N), String(CACHE)], { cpu: 0 });
        if (j.code !== 0) throw new Error(`js.mjs failed: ${j.err}`);
        collect(j.out, 'js', js);
      }],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  bench.note(dpdkNote === undefined ? `DPDK ${built.version}: rte_mempool / rte_mbuf, one lcore, --no-huge (as @mp here)` : `DPDK C reference skipped: ${dpdkNote}`);
  bench.table(
    { title: `@mp/mempool, CPU time per object, median of ${REPS} rounds`, ours: '@mp/mempool', unit: 'ns/object', refs: ['DPDK C'], ratio: 'ref/ours' },
    CASES.map(([key, label]) => ({ op: label, ours: js.median(key), refs: { 'DPDK C': dpdk.median(key) } })),
  );
  bench.table(
    { title: "reaching a packet's first and last byte (JS only)", ours: '@mp/mempool', unit: 'ns/packet', refs: ['data-offset'] },
    ACCESS.map(([key, label]) => ({ op: label, ours: js.median(key), refs: { 'data-offset': js.median('data-offset') } })),
  );
  bench.end();
}

await main();
