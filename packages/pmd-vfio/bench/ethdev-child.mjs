// One side of the memif-through-ethdev row of bench/memif.bench.ts, a group of its own: the process
// probes a net_memif port (so it holds the control channel) and polls it through ethdev — `tx`
// allocates 64-byte mbufs in bursts of 32 and transmits them (the driver copies and frees), `rx`
// receives and frees, printing its rate (frames/s) once per second as JSON.
// argv: role(server|client) side(tx|rx) socket
import { eal, init } from '@mp/eal';
import { Mbuf, pktmbufPoolCreate } from '@mp/mempool';
import { ethdev } from '@mp/pmd-vfio';

const [role, side, socket] = process.argv.slice(2);
init([`--file-prefix=ethmb${process.pid}`, '--no-huge', '-m', '128']);
const pool = pktmbufPoolCreate('bench', 8191, { cacheSize: 256 });
const port = ethdev.probe(`net_memif0,role=${role},socket=${socket},socket-abstract=no`);
port.configure(1, 1);
port.rxQueueSetup(0, 1024, pool);
port.txQueueSetup(0, 1024);
const up = new Promise((resolve) => eal().on('link-up', resolve));
port.start();
await up;
process.stdout.write('up\n');
process.stdin.on('close', () => {
  port.close();
  eal().cleanup();
  process.exit(0);
});
process.stdin.resume();

const B = 32;
const LEN = 64;
const h = new Uint32Array(B);
if (side === 'tx') {
  const loop = () => {
    for (let r = 0; r < 20_000; r++) {
      if (Mbuf.allocBulk(pool, h, B) !== B) continue;
      for (let i = 0; i < B; i++) Mbuf.append(h[i], LEN);
      const sent = port.txBurst(0, h, B);
      for (let i = sent; i < B; i++) Mbuf.free(h[i]);
    }
    setImmediate(loop);
  };
  loop();
} else {
  let n = 0;
  let t0 = process.hrtime.bigint();
  const loop = () => {
    for (let r = 0; r < 20_000; r++) {
      const k = port.rxBurst(0, h, B);
      if (k > 0) Mbuf.freeBulk(h, k);
      n += k;
    }
    const t = process.hrtime.bigint();
    if (t - t0 >= 1_000_000_000n) {
      process.stdout.write(`${JSON.stringify({ pps: (n * 1e9) / Number(t - t0) })}\n`);
      n = 0;
      t0 = t;
    }
    setImmediate(loop);
  };
  loop();
}
