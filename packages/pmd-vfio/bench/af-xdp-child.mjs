// One side of bench/af-xdp.bench.ts, run inside a network namespace:
//   mp  tx|rx <iface> <queues>  — a group of its own probing net_af_xdp on <iface>; tx allocates 64-byte
//                                 mbufs in bursts of 32 and sends them round-robin over the queues, rx
//                                 receives and frees
//   udp tx|rx <addr> <port>     — a Node dgram socket: tx sends 64-byte frames (22 bytes of UDP payload)
//                                 to addr:port, rx receives on addr:port
// Prints 'up' when ready, then (rx) {"pps": …} once per second. Ends when stdin closes.
import dgram from 'node:dgram';
import { eal, init } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
import { ethdev } from '@mp/pmd-vfio';

const [kind, side, a, b] = process.argv.slice(2);
const B = 32;
let n = 0;
let t0 = process.hrtime.bigint();
const report = () => {
  const t = process.hrtime.bigint();
  if (t - t0 >= 1_000_000_000n) {
    process.stdout.write(`${JSON.stringify({ pps: (n * 1e9) / Number(t - t0) })}\n`);
    n = 0;
    t0 = t;
  }
};

if (kind === 'mp') {
  const nq = Number(b);
  init([`--file-prefix=xdpb${process.pid}`, '--no-huge', '-m', '256']);
  const pool = pktmbufPoolCreate('bench', 16383, { cacheSize: 256 });
  const port = ethdev.probe(`net_af_xdp0,iface=${a},queue_count=${nq}`);
  port.configure(nq, nq);
  for (let q = 0; q < nq; q++) {
    port.rxQueueSetup(q, 2048, pool);
    port.txQueueSetup(q, 2048);
  }
  port.start();
  process.stdout.write('up\n');
  process.stdin.on('close', () => {
    port.close();
    eal().cleanup();
    process.exit(0);
  });
  process.stdin.resume();
  const h = new Uint32Array(B);
  const frame = new Uint8Array(64);
  frame.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xb5]);
  let q = 0;
  if (side === 'tx') {
    const loop = () => {
      for (let r = 0; r < 5_000; r++) {
        if (Mbuf.allocBulk(pool, h, B) !== B) continue;
        for (let i = 0; i < B; i++) Mbuf.bytes(h[i]).set(frame, Mbuf.append(h[i], 64));
        const sent = port.txBurst(q, h, B);
        if (sent < B) Mbuf.freeBulk(h.subarray(sent), B - sent);
        if (++q === nq) q = 0;
      }
      setImmediate(loop);
    };
    loop();
  } else {
    const loop = () => {
      for (let r = 0; r < 5_000; r++) {
        const k = port.rxBurst(q, h, B);
        if (k > 0) Mbuf.freeBulk(h, k);
        n += k;
        if (++q === nq) q = 0;
      }
      report();
      setImmediate(loop);
    };
    loop();
  }
} else {
  const s = dgram.createSocket('udp4');
  const port = Number(b);
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
  if (side === 'rx') {
    s.on('message', () => n++);
    s.bind(port, a, () => process.stdout.write('up\n'));
    setInterval(report, 100);
  } else {
    const payload = Buffer.alloc(22, 0x5a);
    let out = 0;
    const done = () => out--;
    s.connect(port, a, () => {
      process.stdout.write('up\n');
      const loop = () => {
        // Keep at most 256 sends in flight (each send is asynchronous in libuv).
        for (let i = 0; i < 4096 && out < 256; i++) {
          out++;
          s.send(payload, done);
        }
        setImmediate(loop);
      };
      loop();
    });
  }
}
