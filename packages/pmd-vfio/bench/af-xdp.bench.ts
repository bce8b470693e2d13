/**
 * net_af_xdp benchmark: 64-byte frames per second over a veth pair (va in one namespace, vb in another,
 * made here and deleted at the end), 1 and 2 queues, in the same run:
 *   @mp net_af_xdp (sender on va, receiver on vb: two node processes, each a group of its own)
 *   DPDK testpmd --vdev=net_af_xdp0,iface=… (txonly on va → rxonly on vb), the reference
 *   a Node dgram UDP pair (sender in va's namespace → receiver in vb's), one socket each
 * Senders send as fast as they can; the rate is what the receiver counts (testpmd's own Rx-pps with
 * --stats-period=1). Sender pinned to core 0, receiver to core 1 (testpmd: its forwarding lcores).
 * Medians of per-second rates after a warm-up, paths taking turns ROUNDS times. Never asserts.
 * Needs root and AF_XDP; the testpmd rows need dpdk-testpmd (Debian package `dpdk`).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { median, pinningNote, rounds, spawnPeer, startBench } from '@mp/bench-utils';
import type { Peer } from '@mp/bench-utils';
import { afXdpUnavailable } from '../src/internal.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WARMUP = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = import.meta.dirname;
const which = (cmd: string): string | undefined => {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
};
const TESTPMD = which('dpdk-testpmd');
const STDBUF = which('stdbuf');
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

/** A process in namespace `ns`, pinned to `cpu` when taskset exists; its stdout as lines, stderr kept for errors. */
const proc = (ns: string, cpu: number | undefined, argv: string[]): Peer => spawnPeer(argv, { netns: ns, cpu, stderr: 'pipe' });
const end = (p: Peer): Promise<unknown> => p.end();

async function rxRates(next: () => Promise<string>): Promise<number[]> {
  const rates: number[] = [];
  while (rates.length < WARMUP + SECONDS) {
    const l = await next();
    if (l.startsWith('{')) rates.push((JSON.parse(l) as { pps: number }).pps);
  }
  return rates.slice(WARMUP);
}

const CHILD = [process.execPath, join(here, 'af-xdp-child.mjs')];

async function pair(nsA: string, nsB: string, txArgs: string[], rxArgs: string[]): Promise<number> {
  const rx = proc(nsB, 1, [...CHILD, ...rxArgs]);
  try {
    expect(await rx.next(), 'up');
    const tx = proc(nsA, 0, [...CHILD, ...txArgs]);
    try {
      expect(await tx.next(), 'up');
      rx.skip();
      return median(await rxRates(rx.next));
    } finally {
      await end(tx);
    }
  } finally {
    await end(rx);
  }
}

function expect(got: string, want: string): void {
  if (got !== want) throw new Error(`bench child said '${got}', expected '${want}'`);
}

function testpmd(ns: string, prefix: string, iface: string, nq: number, forward: string, mainLcore: number): Peer {
  const eal = ['--no-pci', '--no-huge', '-m', '512', `--file-prefix=${prefix}`, `--vdev=net_af_xdp0,iface=${iface},start_queue=0,queue_count=${nq}`, '-l', '0,1', `--main-lcore=${mainLcore}`];
  const app = [`--forward-mode=${forward}`, '--auto-start', '--total-num-mbufs=16384', `--rxq=${nq}`, `--txq=${nq}`, '--txpkts=64', '--stats-period=1'];
  const argv = [...(STDBUF !== undefined ? [STDBUF, '-o0', '-e0'] : []), TESTPMD!, ...eal, '--', ...app];
  return proc(ns, undefined, argv);
}

async function testpmdPair(nsA: string, nsB: string, nq: number): Promise<number> {
  const tag = `${process.pid}_${randomBytes(2).toString('hex')}`;
  const rx = testpmd(nsB, `xdprx${tag}`, 'vb', nq, 'rxonly', 0);
  try {
    const t0 = Date.now();
    while (!rx.lines.some((l) => /Press enter to exit|Port 0: /.test(l))) {
      if (Date.now() - t0 > 30_000 || rx.child.exitCode !== null) throw new Error(`testpmd rxonly did not start:\n${rx.lines.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const tx = testpmd(nsA, `xdptx${tag}`, 'va', nq, 'txonly', 1);
    try {
      const rates: number[] = [];
      let seen = rx.lines.length;
      while (rates.length < WARMUP + SECONDS) {
        if (Date.now() - t0 > 90_000) throw new Error(`testpmd: no traffic:\n${rx.lines.slice(-20).join('\n')}\n${tx.lines.slice(-20).join('\n')}`);
        for (; seen < rx.lines.length; seen++) {
          const m = /Rx-pps:\s+(\d+)/.exec(rx.lines[seen]!);
          if (m && Number(m[1]) > 0) rates.push(Number(m[1]));
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      return median(rates.slice(WARMUP));
    } finally {
      await end(tx);
    }
  } finally {
    await end(rx);
    // A testpmd that did not get to its own cleanup leaves libxdp's program on the link.
    for (const [ns, dev] of [[nsA, 'va'], [nsB, 'vb']] as const) {
      try {
        ip('-n', ns, 'link', 'set', 'dev', dev, 'xdp', 'off');
      } catch {
        // none
      }
    }
  }
}

const bench = startBench({
  package: '@mp/pmd-vfio',
  what: 'net_af_xdp: 64-byte frames per second over a veth pair, beside testpmd net_af_xdp and Node dgram',
  memory: 'UMEM in a memzone, /dev/shm 4 KiB pages (--no-huge); testpmd --no-huge',
  pinning: pinningNote('sender core 0, receiver core 1; testpmd its forwarding lcores'),
  params: `${ROUNDS} rounds × ${SECONDS} s after ${WARMUP} s warm-up (medians of per-second rates at the receiver), paths in turn`,
});
const why = afXdpUnavailable();
if (why !== undefined) {
  bench.note(`net_af_xdp bench skipped: ${why}`);
  process.exit(0);
}
const tag = `${process.pid}${randomBytes(2).toString('hex')}`;
const nsA = `mpxa${tag}`;
const nsB = `mpxb${tag}`;
ip('netns', 'add', nsA);
ip('netns', 'add', nsB);
try {
  ip('-n', nsA, 'link', 'add', 'va', 'numrxqueues', '2', 'numtxqueues', '2', 'type', 'veth', 'peer', 'name', 'vb', 'numrxqueues', '2', 'numtxqueues', '2', 'netns', nsB);
  ip('-n', nsA, 'addr', 'add', '10.99.0.1/24', 'dev', 'va');
  ip('-n', nsB, 'addr', 'add', '10.99.0.2/24', 'dev', 'vb');
  for (const [ns, dev] of [[nsA, 'va'], [nsB, 'vb']] as const) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
  const paths: Array<[string, () => Promise<number>]> = [];
  for (const nq of [1, 2]) {
    paths.push([`@mp net_af_xdp, ${nq} queue(s)`, () => pair(nsA, nsB, ['mp', 'tx', 'va', String(nq)], ['mp', 'rx', 'vb', String(nq)])]);
  }
  // DPDK 22.11's net_af_xdp takes its queue limit from ETHTOOL_GCHANNELS' combined count, which veth
  // reports as 0 (veth has rx and tx channels, no combined ones): testpmd refuses a second queue on a
  // veth ("rxq 2 invalid"). Its 1-queue row is the reference for both @mp rows.
  if (TESTPMD !== undefined) paths.push(['testpmd net_af_xdp, 1 queue(s) (reference)', () => testpmdPair(nsA, nsB, 1)]);
  paths.push(['Node dgram UDP pair (reference)', () => pair(nsA, nsB, ['udp', 'tx', '10.99.0.2', '9000'], ['udp', 'rx', '10.99.0.2', '9000'])]);
  if (TESTPMD === undefined) bench.note('dpdk-testpmd not installed: testpmd rows skipped (apt-get install dpdk)');
  const got = await rounds(
    { rounds: ROUNDS },
    paths.map(([name, run]) => [name, async () => {
      try {
        return await run();
      } catch (err) {
        bench.note(`${name}: ${(err as Error).message}`);
        return undefined; // a failed run is left out of the median
      }
    }] as const),
  );
  const REF = 'testpmd net_af_xdp, 1 queue(s) (reference)';
  const UDP = 'Node dgram UDP pair (reference)';
  const PMD = 'testpmd af_xdp (1 queue)';
  bench.table(
    { title: `net_af_xdp over a veth pair, 64-byte frames, bursts of 32, ${ROUNDS} rounds × ${SECONDS} s after ${WARMUP} s warm-up (medians of per-second rates at the receiver)`, ours: 'frames/s', unit: 'Mpps', refs: [PMD, 'dgram'], digits: 3, rounds: true },
    paths.map(([name]) => ({
      op: name,
      ours: got.median(name) / 1e6,
      refs: { ...(name.includes('queue') ? { [PMD]: got.median(REF) / 1e6 } : {}), dgram: got.median(UDP) / 1e6 },
      samples: got.all(name).map((x) => x / 1e6),
    })),
  );
  bench.note('goals: @mp ≥ 0.8× testpmd af_xdp; @mp ≥ 5× dgram. testpmd has no 2-queue row: DPDK 22.11 af_xdp reads the combined channel count, 0 on veth, and refuses a second queue.');
} finally {
  for (const ns of [nsA, nsB]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // gone
    }
  }
}
bench.end();
