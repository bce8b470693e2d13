// One cell of bench/hotpath.mjs (run by it with --allow-natives-syntax): one build, one mode, one burst.
// The producer loop and the consumer loop are separate optimised functions, as in the cross-process
// peers (peer.mjs: each process's loop holds one side, and V8's inlining budget is per function); a driver
// that V8 never optimises alternates them, `K` bursts each. Prints ns of CPU time per enqueue+dequeue pair.
//   node --allow-natives-syntax hotpath-cell.mjs <dist dir> <mode> <burst> <elements>
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { init } from '@mp/eal';

const [dir, mode, burstArg, elemsArg] = process.argv.slice(2);
const { Ring } = await import(pathToFileURL(resolve(dir, 'index.js')).href);
init([`--file-prefix=hp${process.pid}`, '--no-huge', '-m', '64']);
const r = Ring.create('hp', 4096, { elemSize: 8, producer: mode, consumer: mode });
const burst = Number(burstArg);
const K = Math.max(1, Math.floor(2048 / burst)); // bursts per turn: the ring (4095) never fills
const buf = new Uint32Array(256);
const out = new Uint32Array(256);

function produce(ring, src, b, k) {
  for (let i = 0; i < k; i++) ring.enqueueBurst(src, b);
}
function consume(ring, dst, b, k) {
  let got = 0;
  for (let i = 0; i < k; i++) got += ring.dequeueBurst(dst, b);
  return got;
}
function drive(turns) {
  let got = 0;
  for (let t = 0; t < turns; t++) {
    produce(r, buf, burst, K);
    got += consume(r, out, burst, K);
  }
  return got;
}
%NeverOptimizeFunction(drive);

const turns = Math.ceil(Number(elemsArg) / burst / K);
drive(Math.ceil(turns / 4)); // warm-up: optimised code before the clock starts
const u0 = process.cpuUsage();
const got = drive(turns);
const u = process.cpuUsage(u0);
if (got !== turns * K * burst) throw new Error(`moved ${got}, expected ${turns * K * burst}`);
console.log(((u.user + u.system) * 1000) / (turns * K));
r.free();
process.exit(0);
