// One side of the memif bench, a process of its own: `tx` sends 64-byte frames in bursts of 32 as
// fast as the ring takes them; `rx` receives and prints its rate (frames/s) once per second as JSON.
// argv: role(server|client) side(tx|rx) socket
import { MemifInterface } from '@mp/pmd-vfio';

const [role, side, socket] = process.argv.slice(2);
const itf = MemifInterface.create({ role, socket, reconnectMs: 20 });
itf.start();
await itf.waitUp(30_000);
process.stdout.write('up\n');
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();

const B = 32;
const LEN = 64;
const buf = new Uint8Array(B * 2048);
const offsets = Uint32Array.from({ length: B }, (_, i) => i * 2048);
const lens = new Uint32Array(B).fill(LEN);
for (let i = 0; i < B; i++) buf.fill(0xab, offsets[i], offsets[i] + LEN);

if (side === 'tx') {
  const q = itf.tx[0];
  const loop = () => {
    for (let r = 0; r < 20_000; r++) q.txBurst(buf, offsets, lens, B);
    setImmediate(loop);
  };
  loop();
} else {
  const q = itf.rx[0];
  let n = 0;
  let t0 = process.hrtime.bigint();
  const loop = () => {
    for (let r = 0; r < 20_000; r++) n += q.rxBurst(buf, offsets, 2048, lens, B);
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
