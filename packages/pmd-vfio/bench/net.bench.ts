// Kernel-interface drivers benchmark (`pnpm --filter @mp/pmd-vfio bench`, root only): 64-byte frames per
// second received, sender pinned to core 0 and receiver to core 1, in two network namespaces this bench
// makes and deletes:
//   veth  nsA:va ↔ nsB:vb     @mp net_af_packet → @mp net_af_packet; dpdk-testpmd af_packet txonly →
//                             testpmd af_packet rxonly (the reference for af_packet); Node dgram UDP
//   bridge nsT: tapA, tapB    @mp net_tap → @mp net_tap; testpmd net_tap txonly → testpmd net_tap rxonly
// 1 and 2 queues (the @mp sender spreads flows over its queues; the receiver polls all its queues in
// one process, as testpmd's one forwarding core does). Each figure: the median of the receiver's
// per-second rates after a warm-up second, over ROUNDS rounds taken in turn. Benches never assert.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, median, pinningNote, rounds, spawnPeer, startBench } from '@mp/bench-utils';
import type { Peer, Row as TableRow } from '@mp/bench-utils';

const ROUNDS = Number(process.env.NET_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.NET_BENCH_SECONDS ?? 5);
const CHILD = join(import.meta.dirname, 'net-child.mjs');
const tag = `${process.pid}`;

const bench = startBench({
  package: '@mp/pmd-vfio',
  what: 'net_af_packet and net_tap: 64-byte frames per second over a veth pair / a bridge, beside testpmd and Node dgram',
  memory: '/dev/shm, 4 KiB pages (--no-huge), testpmd too',
  pinning: pinningNote('sender core 0, receiver core 1'),
  params: `${SECONDS} s per run, ${ROUNDS} rounds in turn; the median of the receiver's per-second rates after a warm-up second`,
});
if (process.getuid?.() !== 0 || !hasCommand('ip')) {
  bench.note('net.bench: skipped (needs root and iproute2 to make network namespaces)');
  process.exit(0);
}
const TESTPMD = hasCommand('dpdk-testpmd');

const ip = (...a: string[]): string => execFileSync('ip', a, { encoding: 'utf8' });
const nsA = `mpbA${tag}`;
const nsB = `mpbB${tag}`;
const nsT = `mpbT${tag}`;
let cleaned = false;
const cleanup = (): void => {
  if (cleaned) return;
  cleaned = true;
  for (const ns of [nsA, nsB, nsT]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not made
    }
  }
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

for (const ns of [nsA, nsB, nsT]) {
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}
ip('-n', nsA, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nsB);
ip('-n', nsA, 'addr', 'add', '10.9.0.1/24', 'dev', 'va');
ip('-n', nsB, 'addr', 'add', '10.9.0.2/24', 'dev', 'vb');
ip('-n', nsA, 'link', 'set', 'va', 'up');
ip('-n', nsB, 'link', 'set', 'vb', 'up');
ip('-n', nsT, 'link', 'add', 'br0', 'type', 'bridge');
for (const t of ['tapA', 'tapB']) {
  ip('-n', nsT, 'tuntap', 'add', 'mode', 'tap', 'multi_queue', 'name', t);
  ip('-n', nsT, 'link', 'set', t, 'master', 'br0');
  // testpmd's tap port sends with the interface's own MAC as source; a learning bridge would take it for its own.
  ip('-n', nsT, 'link', 'set', t, 'type', 'bridge_slave', 'learning', 'off');
}
ip('-n', nsT, 'link', 'set', 'br0', 'up');
// Frames cross the bridge as frames (no br_netfilter: it would run them through iptables and checks).
execFileSync('ip', ['netns', 'exec', nsT, 'sysctl', '-qw', 'net.bridge.bridge-nf-call-iptables=0', 'net.bridge.bridge-nf-call-ip6tables=0', 'net.bridge.bridge-nf-call-arptables=0']);

/** A process in `ns` pinned to `core`. */
const run = (ns: string, core: number, argv: string[]): Peer => spawnPeer(argv, { netns: ns, cpu: core, stderr: 'pipe' });
const stop = (p: Peer): Promise<unknown> => p.end({ signal: 'SIGINT', ms: 3000 });

/** Start the receiver, then the sender; the receiver's per-second rates (the first dropped). */
async function measure(rx: { ns: string; argv: string[]; parse: (l: string) => number | undefined; ready: RegExp }, tx: { ns: string; argv: string[]; ready: RegExp }): Promise<number> {
  const r = run(rx.ns, 1, rx.argv);
  const rates: number[] = [];
  r.onLine((l) => {
    const v = rx.parse(l);
    if (v !== undefined) rates.push(v);
  });
  let s: Peer | undefined;
  try {
    await r.waitFor(rx.ready, 20_000);
    s = run(tx.ns, 0, tx.argv);
    await s.waitFor(tx.ready, 20_000);
    const from = rates.length;
    await new Promise((res) => setTimeout(res, (SECONDS + 1) * 1000));
    const after = rates.slice(from + 1);
    return after.length === 0 ? 0 : median(after);
  } finally {
    if (s) await stop(s);
    await stop(r);
  }
}

const mpParse = (l: string): number | undefined => (l.startsWith('{') ? (JSON.parse(l) as { pps: number }).pps : undefined);
const node = (mode: string, a1: string, a2: string): string[] => [process.execPath, CHILD, mode, a1, a2];

function testpmd(prefix: string, vdev: string, fwd: string, q: number, mainCore: number): string[] {
  return [
    'dpdk-testpmd', '--no-pci', '--no-huge', '-m', '512', `--file-prefix=${prefix}`, '-l', '0,1', `--main-lcore=${mainCore}`, `--vdev=${vdev}`, '--',
    `--forward-mode=${fwd}`, '--auto-start', '--stats-period=1', `--rxq=${q}`, `--txq=${q}`, '--nb-cores=1', '--txpkts=64', '--txonly-multi-flow', '--total-num-mbufs=16384',
  ];
}
let pmdRun = 0;
const pmdParse = (l: string): number | undefined => {
  const m = /Rx-pps:\s+(\d+)/.exec(l);
  return m ? Number(m[1]) : undefined;
};
async function testpmdPair(rxVdev: string, txVdev: string, rxNs: string, txNs: string, q: number): Promise<number> {
  const pr = `mpbr${tag}_${pmdRun}`;
  const pt = `mpbt${tag}_${pmdRun++}`;
  try {
    return await measure(
      { ns: rxNs, argv: testpmd(pr, rxVdev, 'rxonly', q, 0), parse: pmdParse, ready: /Port 0: link state change event|Checking link statuses|Press enter to exit|Rx-pps/ },
      { ns: txNs, argv: testpmd(pt, txVdev, 'txonly', q, 1), ready: /Press enter to exit|Checking link statuses|Tx-pps|Start automatic|txonly/i },
    );
  } finally {
    for (const p of [pr, pt]) rmSync(`/var/run/dpdk/${p}`, { recursive: true, force: true });
  }
}

interface Row {
  name: string;
  q: number;
  run: () => Promise<number>;
  ref?: string;
}
const rows: Row[] = [];
for (const q of [1, 2]) {
  rows.push({ name: '@mp net_af_packet → @mp net_af_packet', q, ref: 'testpmd af_packet', run: () => measure({ ns: nsB, argv: node('mp-rx', `net_af_packet0,iface=vb,qpairs=${q}`, String(q)), parse: mpParse, ready: /^up$/ }, { ns: nsA, argv: node('mp-tx', `net_af_packet0,iface=va,qpairs=${q}`, String(q)), ready: /^up$/ }) });
  if (TESTPMD) rows.push({ name: 'testpmd af_packet txonly → testpmd af_packet rxonly', q, run: () => testpmdPair(`net_af_packet0,iface=vb,qpairs=${q}`, `net_af_packet0,iface=va,qpairs=${q}`, nsB, nsA, q) });
  rows.push({ name: '@mp net_tap → bridge → @mp net_tap', q, ref: 'testpmd tap', run: () => measure({ ns: nsT, argv: node('mp-rx', `net_tap0,iface=tapB,queues=${q}`, String(q)), parse: mpParse, ready: /^up$/ }, { ns: nsT, argv: node('mp-tx', `net_tap0,iface=tapA,queues=${q}`, String(q)), ready: /^up$/ }) });
  if (TESTPMD) rows.push({ name: 'testpmd tap txonly → bridge → testpmd tap rxonly', q, run: () => testpmdPair(`net_tap0,iface=tapB`, `net_tap0,iface=tapA`, nsT, nsT, q) });
}
rows.push({ name: 'Node dgram UDP → Node dgram UDP', q: 1, run: () => measure({ ns: nsB, argv: node('dgram-rx', '10.9.0.2', '9999'), parse: mpParse, ready: /^up$/ }, { ns: nsA, argv: node('dgram-tx', '10.9.0.2', '9999'), ready: /^up$/ }) });

const got = await rounds(
  { rounds: ROUNDS },
  rows.map((row) => [`${row.name} ${row.q}`, async () => {
    try {
      return await row.run();
    } catch (err) {
      bench.note(`  ${row.name} (${row.q}q): failed: ${(err as Error).message}`);
      return 0;
    }
  }] as const),
);
const med = (name: string, q: number): number => {
  for (const row of rows) if (row.name.startsWith(name) && row.q === q) return got.median(`${row.name} ${row.q}`);
  return 0;
};
const dgram = med('Node dgram', 1);
const SAME = 'testpmd, same driver';
const DGRAM = 'Node dgram';
bench.table(
  { title: `veth / bridge in network namespaces, 64-byte frames, ${SECONDS} s per run, ${ROUNDS} rounds in turn${TESTPMD ? '' : ' (dpdk-testpmd missing: no testpmd rows)'}`, ours: 'frames/s (median)', unit: 'Mpps', refs: [SAME, DGRAM], digits: 3, rounds: true },
  rows.map((row): TableRow => {
    const v = got.all(`${row.name} ${row.q}`);
    const m = median(v);
    const ref = row.ref === undefined ? 0 : med(row.ref.startsWith('testpmd af') ? 'testpmd af_packet' : 'testpmd tap', row.q);
    return {
      op: `${row.name}, ${row.q} queue(s)`,
      ours: m / 1e6,
      refs: { ...(row.ref && ref > 0 ? { [SAME]: ref / 1e6 } : {}), ...(dgram > 0 ? { [DGRAM]: dgram / 1e6 } : {}) },
      samples: v.map((y) => y / 1e6),
      note: row.ref ? `goal ≥ 0.8× testpmd ${ref > 0 && m / ref >= 0.8 ? '✔' : '✘'}` : '',
    };
  }),
);
cleanup();
bench.end();
