// DPDK's symmetric_mp with ports, on @mp: the primary probes two ports, port 0 and port 1, with one
// queue pair per forwarder, and starts N secondary forwarders; forwarder i polls rx queue i of each port
// and sends what it gets out of the other port's tx queue i (l2fwd: 0 → 1 and 1 → 0), swapping the MAC
// addresses. Every process prints its own counters.
//
// The wires are two more ports, played by the primary: `wire0` is back to back with port 0 and `wire1`
// with port 1. The primary sends numbered frames into both wires, the forwarders move them across, and
// the primary checks that every frame came out of the other wire once, in order per queue.
//
// Default: four net_ring ports. `--memif`: ports 0 and 1 are net_memif servers and the wires net_memif
// clients of them (one socket each) — the primary holds all four control channels and the forwarders,
// secondaries, map the memif rings of their own queues themselves.
// `--iface` (root): kernel interfaces. The process makes a network namespace with two veth pairs,
// p0 ↔ w0 and p1 ↔ w1, and runs itself inside it (deleting the namespace when it ends); ports 0 and 1
// are net_af_packet on p0 and p1 with one queue pair per forwarder (PACKET_FANOUT spreads flows over
// them), the wires net_af_packet on w0 and w1. Frames are IPv4/UDP, 8 flows per wire (one UDP source
// port each); each flow keeps to one queue on every hop, so order is checked per flow. The forwarders
// get the ports' sockets from the primary over @mp/ipc and map their rings themselves.
//   pnpm --filter l2fwd-mp start                    (2 forwarders, 200 000 frames each way, net_ring)
//   pnpm --filter l2fwd-mp start:memif              (the same over memif)
//   pnpm --filter l2fwd-mp start:iface              (2 forwarders, 20 000 frames each way, veths; root)
//   node main.mjs [--memif | --iface] [forwarders] [frames]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eal, init } from '@mp/eal';
import { Mbuf, Mempool, pktmbufPoolCreate } from '@mp/mempool';
import { ethdev } from '@mp/pmd-vfio';

const BURST = 32;
const DST = Uint8Array.of(0x02, 0, 0, 0, 0, 0xff);
const SRC = [Uint8Array.of(0x02, 0, 0, 0, 0, 0x00), Uint8Array.of(0x02, 0, 0, 0, 0, 0x01)];
const memif = process.argv.includes('--memif');
const iface = process.argv.includes('--iface');
const inNs = process.argv.includes('--in-netns');
const argv = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const role = argv[0];
const isFwd = role === 'fwd';
const nFwd = Number(isFwd ? argv[2] : (argv[0] ?? 2));
const frames = Number(isFwd ? 0 : (argv[1] ?? (iface ? 20_000 : 200_000)));
const prefix = isFwd ? argv[1] : `l2fwd_mp_${process.pid}`;
const drv = memif ? 'net_memif' : iface ? 'net_af_packet' : 'net_ring';
if (iface && !isFwd && !inNs) process.exit(inNamespace());
init([`--file-prefix=${prefix}`, `--proc-type=${isFwd ? 'secondary' : 'primary'}`, '--no-huge', '-m', '128']);

if (isFwd) await forwarder(Number(argv[3]));
else await primary();

/** Forwarder q: rx q of port p → tx q of port 1-p, MACs swapped; stops when the primary says so. */
async function forwarder(q) {
  const pool = Mempool.lookup('l2fwd_pool');
  const ports = [ethdev.attach(`${drv}0`), ethdev.attach(`${drv}1`)];
  const h = new Uint32Array(BURST);
  const count = [0, 0];
  let idle = 0;
  process.stdout.write(`forwarder ${q} (pid ${process.pid}): polling rx queue ${q} of both ports\n`);
  try {
    for (;;) {
      let moved = 0;
      for (let p = 0; p < 2; p++) {
        const n = ports[p].rxBurst(q, h, BURST);
        if (n === 0) continue;
        for (let i = 0; i < n; i++) swapMacs(pool, h[i]);
        let sent = 0;
        while (sent < n) sent += ports[1 - p].txBurst(q, h.subarray(sent), n - sent);
        count[p] += n;
        moved += n;
      }
      if (moved > 0) {
        idle = 0;
        continue;
      }
      if (++idle % 1024 === 0) await new Promise((r) => setImmediate(r));
    }
  } catch (err) {
    // The primary stopped the ports (EINVAL: not started): the run is over.
    if (err.code !== 'EINVAL' && err.code !== 'ENODEV') throw err;
  }
  process.stdout.write(`forwarder ${q} (pid ${process.pid}): port 0 → 1: ${count[0]} frames, port 1 → 0: ${count[1]} frames\n`);
  eal().cleanup();
}

function swapMacs(pool, m) {
  const b = pool.bytes;
  const o = Mbuf.dataOffset(m);
  for (let i = 0; i < 6; i++) {
    const t = b[o + i];
    b[o + i] = b[o + 6 + i];
    b[o + 6 + i] = t;
  }
}

async function primary() {
  const pool = pktmbufPoolCreate('l2fwd_pool', 8191, { cacheSize: 256 });
  // The ports under test and the two wires the primary plays.
  const dir = memif ? mkdtempSync(join(tmpdir(), 'l2fwd-memif-')) : '';
  const sock = (i) => join(dir, `port${i}.sock`);
  const [port0, port1, wire0, wire1] = (memif
    ? [`net_memif0,role=server,socket=${sock(0)}`, `net_memif1,role=server,socket=${sock(1)}`, `net_memif2,role=client,socket=${sock(0)}`, `net_memif3,role=client,socket=${sock(1)}`]
    : iface
      ? [`net_af_packet0,iface=p0,qpairs=${nFwd}`, `net_af_packet1,iface=p1,qpairs=${nFwd}`, `net_af_packet2,iface=w0,qpairs=${nFwd}`, `net_af_packet3,iface=w1,qpairs=${nFwd}`]
      : ['net_ring0', 'net_ring1', 'net_ring2,peer=net_ring0', 'net_ring3,peer=net_ring1']
  ).map((d) => ethdev.probe(d));
  const allUp = new Promise((resolve) => {
    const check = () => {
      if (ethdev.list().every((p) => p.link.status === 'up')) {
        eal().off('link-up', check);
        resolve();
      }
    };
    eal().on('link-up', check);
    queueMicrotask(check);
  });
  for (const p of [port0, port1, wire0, wire1]) {
    p.configure(nFwd, nFwd);
    for (let q = 0; q < nFwd; q++) {
      p.rxQueueSetup(q, 1024, pool);
      p.txQueueSetup(q, 1024);
    }
    p.start();
  }
  await allUp;
  console.log(`primary (pid ${process.pid}): ports ${ethdev.list().map((p) => `${p.id} ${p.name} (${p.link.status}, ${p.link.speed} Mb/s)`).join(', ')}`);
  const kids = Array.from({ length: nFwd }, (_, q) =>
    spawn(process.execPath, [process.argv[1], 'fwd', prefix, String(nFwd), String(q), ...(memif ? ['--memif'] : iface ? ['--iface'] : [])], { stdio: 'inherit' }),
  );
  const exited = kids.map((k) => new Promise((r) => k.once('exit', r)));

  // Frame: dst MAC, src MAC, ethertype 0x88b5 (local experimental), then wire, lane, sequence (u32 each
  // at byte 16). --iface: an IPv4/UDP frame (the kernel hashes flows by it) whose UDP source port names
  // the wire and lane; wire, lane and sequence at byte 44. A lane is a queue (ring, memif) or a flow
  // (iface: 8 flows per wire, sent on queue lane % forwarders; the fanout picks the queues after).
  const h = new Uint32Array(BURST);
  const wires = [wire0, wire1];
  const lanes = iface ? 8 : nFwd;
  const txq = (lane) => (iface ? lane % nFwd : lane);
  const at = iface ? 11 : 4;
  const sent = [new Array(lanes).fill(0), new Array(lanes).fill(0)];
  const next = [new Array(lanes).fill(0), new Array(lanes).fill(0)];
  let bad = 0;
  let got = 0;
  let total = 0;
  const want = 2 * frames;
  const perLane = Math.ceil(frames / lanes);
  const WINDOW = iface ? 512 : Infinity; // frames in flight (a kernel path drops what overflows its rings)
  const t0 = performance.now();
  let lastProgress = Date.now();
  let spins = 0;
  while (got < want) {
    for (let w = 0; w < 2; w++) {
      for (let lane = 0; lane < lanes; lane++) {
        const left = Math.min(perLane, frames - lane * perLane) - sent[w][lane];
        if (left > 0 && total - got < WINDOW) {
          const n = Math.min(BURST, left);
          if (Mbuf.allocBulk(pool, h, n) === n) {
            for (let i = 0; i < n; i++) {
              const o = Mbuf.append(h[i], 64);
              pool.bytes.set(DST, o);
              pool.bytes.set(SRC[w], o + 6);
              if (iface) {
                const sport = 0x4000 | (w << 8) | lane;
                // IPv4 10.0.0.1 → 10.0.0.2, UDP sport → 9 (checksums left 0: nothing here routes them)
                pool.bytes.set([0x08, 0x00, 0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, sport >> 8, sport & 0xff, 0, 9, 0, 30, 0, 0], o + 12);
              } else {
                pool.bytes[o + 12] = 0x88;
                pool.bytes[o + 13] = 0xb5;
              }
              pool.words[(o >>> 2) + at] = w;
              pool.words[(o >>> 2) + at + 1] = lane;
              pool.words[(o >>> 2) + at + 2] = sent[w][lane] + i;
            }
            const k = wires[w].txBurst(txq(lane), h, n);
            for (let i = k; i < n; i++) Mbuf.free(h[i]);
            sent[w][lane] += k;
            total += k;
          }
        }
      }
      // What came out of the other wire.
      for (let q = 0; q < nFwd; q++) {
        const n = wires[1 - w].rxBurst(q, h, BURST);
        for (let i = 0; i < n; i++) {
          const o = Mbuf.dataOffset(h[i]);
          const from = pool.words[(o >>> 2) + at];
          const lane = pool.words[(o >>> 2) + at + 1];
          const seq = pool.words[(o >>> 2) + at + 2];
          // Forwarded: the MACs were swapped once.
          const swapped = pool.bytes[o + 5] === SRC[w][5] && pool.bytes[o + 11] === DST[5];
          if (from !== w || lane >= lanes || (!iface && lane !== q) || seq !== next[from][lane] || !swapped) bad++;
          else next[from][lane] = seq + 1;
          Mbuf.free(h[i]);
        }
        got += n;
        if (n > 0) lastProgress = Date.now();
      }
    }
    if (Date.now() - lastProgress > 30_000) {
      console.log(`primary: nothing came back for 30 s (${got} of ${want})`);
      break;
    }
    if (++spins % (iface ? 64 : 4096) === 0) await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  for (const p of [port0, port1]) p.stop(); // forwarders see it and leave
  await Promise.all(exited);
  const s0 = port0.stats();
  const s1 = port1.stats();
  console.log(`primary: port 0 rx ${s0.ipackets} tx ${s0.opackets}; port 1 rx ${s1.ipackets} tx ${s1.opackets}; per queue rx ${s0.qIpackets.join('/')} and ${s1.qIpackets.join('/')}`);
  console.log(`primary: ${got} of ${want} frames came back forwarded, ${bad} out of order or wrong, ${(got / ms / 1000).toFixed(2)} Mframes/s; pool ${pool.availCount} of ${pool.n} free`);
  if (bad === 0 && got === want && s0.ipackets === frames && s1.ipackets === frames && pool.availCount === pool.n) console.log('l2fwd verified: every frame forwarded once, in order, MACs swapped');
  else process.exitCode = 1;
  for (const p of [port0, port1, wire0, wire1]) p.close();
  if (memif) rmSync(dir, { recursive: true, force: true });
  eal().cleanup();
}

/**
 * `--iface`: make a network namespace with veths p0 ↔ w0 and p1 ↔ w1 (IPv6 off: no stray frames), run
 * this program inside it, delete the namespace afterwards (also when the run fails). Returns the exit code.
 */
function inNamespace() {
  if (process.getuid?.() !== 0) {
    console.error('l2fwd-mp --iface needs root: it makes a network namespace and veth pairs');
    return 1;
  }
  const ns = `l2fwd${process.pid}`;
  const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'inherit'] });
  ip('netns', 'add', ns);
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    for (const i of [0, 1]) {
      ip('-n', ns, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', `w${i}`);
      ip('-n', ns, 'link', 'set', `p${i}`, 'up');
      ip('-n', ns, 'link', 'set', `w${i}`, 'up');
    }
    console.log(`network namespace ${ns}: veths p0 <-> w0, p1 <-> w1`);
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, process.argv[1], '--iface', '--in-netns', ...argv], { stdio: 'inherit' });
    return r.status ?? 1;
  } finally {
    ip('netns', 'del', ns);
    console.log(`network namespace ${ns} deleted`);
  }
}
