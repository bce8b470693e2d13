// The @mp demo, secondary side: attach to the primary's group, find the board memzone, write a line.
import { init, memzone } from '@mp/eal';

const [prefix, n, slotSize] = process.argv.slice(2);
const eal = init([`--file-prefix=${prefix}`, '--proc-type=secondary', '-l', n]);
const board = memzone.lookup('board');
const text = `hello from secondary ${n}, pid ${process.pid}, ${new Date().toISOString()}`;
Buffer.from(board.buffer).write(text, Number(n) * Number(slotSize));
if (n === '2') {
  const note = memzone.reserve('note-2', 64);
  Buffer.from(note.buffer).write(`reserved by pid ${process.pid}`);
}
console.log(`secondary ${n} (pid ${process.pid}): wrote into memzone 'board' at offset ${Number(n) * Number(slotSize)}`);
eal.cleanup();
