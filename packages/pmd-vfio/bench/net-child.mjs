// One side of bench/net.bench.ts, a group of its own inside a network namespace:
//   mp-tx <devargs> <queues>   probe the port, send 64-byte IPv4/UDP frames (a new UDP source port per
//                              frame, so PACKET_FANOUT / the TAP spread them) on every queue in turn
//   mp-rx <devargs> <queues>   probe the port, poll every queue in turn, print {"pps"} once per second
//   dgram-tx <addr> <port>     a Node dgram socket sending 22-byte payloads (64-byte frames) flat out
//   dgram-rx <addr> <port>     a Node dgram socket counting datagrams, {"pps"} once per second
// Prints "up" when ready; exits when stdin closes.
import dgram from 'node:dgram';
import { eal, init } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
import { ethdev } from '@mp/pmd-vfio';

const [mode, a1, a2] = process.argv.slice(2);
const B = 32;
const LEN = 64;
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();

function rate() {
  let n = 0;
  let t0 = process.hrtime.bigint();
  return (k) => {
    n += k;
    const t = process.hrtime.bigint();
    if (t - t0 >= 1_000_000_000n) {
      process.stdout.write(`${JSON.stringify({ pps: (n * 1e9) / Number(t - t0) })}\n`);
      n = 0;
      t0 = t;
    }
  };
}

if (mode === 'mp-tx' || mode === 'mp-rx') {
  const nq = Number(a2);
  init([`--file-prefix=netb${process.pid}`, '--no-huge', '-m', '128']);
  const pool = pktmbufPoolCreate('bench', 8191, { cacheSize: 256 });
  const port = ethdev.probe(a1);
  port.configure(nq, nq);
  for (let q = 0; q < nq; q++) {
    port.rxQueueSetup(q, 1024, pool);
    port.txQueueSetup(q, 1024);
  }
  port.start();
  process.stdin.on('close', () => {
    port.close();
    eal().cleanup();
  });
  const h = new Uint32Array(B);
  if (mode === 'mp-tx') {
    // A template frame: IPv4/UDP 10.0.0.1:src → 10.0.0.2:12345, 64 bytes; src varies per frame.
    const tpl = new Uint8Array(LEN);
    tpl.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 0, 0x30, 0x39, 0, 30, 0, 0]);
    // The IPv4 header checksum (bridges with br_netfilter drop a wrong one).
    let cs = 0;
    for (let i = 14; i < 34; i += 2) cs += (tpl[i] << 8) | tpl[i + 1];
    while (cs > 0xffff) cs = (cs & 0xffff) + (cs >>> 16);
    cs = ~cs & 0xffff;
    tpl[24] = cs >> 8;
    tpl[25] = cs & 0xff;
    let src = 0;
    let q = 0;
    const loop = () => {
      for (let r = 0; r < 2000; r++) {
        if (Mbuf.allocBulk(pool, h, B) !== B) break;
        for (let i = 0; i < B; i++) {
          const m = h[i];
          const o = Mbuf.append(m, LEN);
          const b = Mbuf.bytes(m);
          b.set(tpl, o);
          src = (src + 1) & 0x3fff;
          b[o + 34] = 0x40 | (src >> 8);
          b[o + 35] = src & 0xff;
        }
        const sent = port.txBurst(q, h, B);
        if (sent < B) Mbuf.freeBulk(h.subarray(sent), B - sent);
        q = q + 1 === nq ? 0 : q + 1;
      }
      setImmediate(loop);
    };
    process.stdout.write('up\n');
    loop();
  } else {
    const tick = rate();
    let q = 0;
    const loop = () => {
      for (let r = 0; r < 5000; r++) {
        const k = port.rxBurst(q, h, B);
        if (k > 0) Mbuf.freeBulk(h, k);
        tick(k);
        q = q + 1 === nq ? 0 : q + 1;
      }
      setImmediate(loop);
    };
    process.stdout.write('up\n');
    loop();
  }
} else if (mode === 'dgram-tx') {
  const s = dgram.createSocket('udp4');
  const payload = Buffer.alloc(LEN - 42);
  let inflight = 0;
  const done = () => inflight--;
  const loop = () => {
    while (inflight < 1024) {
      inflight++;
      s.send(payload, Number(a2), a1, done);
    }
    setImmediate(loop);
  };
  process.stdout.write('up\n');
  loop();
} else if (mode === 'dgram-rx') {
  const s = dgram.createSocket('udp4');
  const tick = rate();
  s.on('message', () => tick(1));
  setInterval(() => tick(0), 200);
  s.bind(Number(a2), a1, () => process.stdout.write('up\n'));
} else {
  throw new Error(`unknown mode ${mode}`);
}
