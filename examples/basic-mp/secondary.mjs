// The @mp demo, secondary side: attach to the primary's group, write a line into the board memzone, and
// send numbered items to the primary over the shared ring.
import { init, memzone } from '@mp/eal';
import { Ring } from '@mp/ring';

const [prefix, n, slotSize, items] = process.argv.slice(2);
const eal = init([`--file-prefix=${prefix}`, '--proc-type=secondary', '-l', n]);
const board = memzone.lookup('board');
const text = `hello from secondary ${n}, pid ${process.pid}, ${new Date().toISOString()}`;
Buffer.from(board.buffer).write(text, Number(n) * Number(slotSize));
if (n === '2') {
  const note = memzone.reserve('note-2', 64);
  Buffer.from(note.buffer).write(`reserved by pid ${process.pid}`);
}

const ring = Ring.lookup('items');
const total = Number(items);
const buf = new Uint32Array(64);
for (let seq = 0; seq < total; ) {
  const k = Math.min(buf.length, total - seq);
  for (let i = 0; i < k; i++) buf[i] = ((Number(n) << 24) | (seq + i)) >>> 0;
  seq += ring.enqueueBurst(buf, k, { timeoutMs: 10_000 }); // sleeps on a futex while the ring is full
}
console.log(`secondary ${n} (pid ${process.pid}): wrote into memzone 'board', sent ${total} items on ring 'items'`);
eal.cleanup();
