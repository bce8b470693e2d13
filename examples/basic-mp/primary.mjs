// The @mp demo, primary side: create a group, reserve a memzone and a ring, start two secondaries that
// each write a line into the memzone and send numbered items over the ring, then print what each wrote,
// check every item arrived exactly once, and print the group's memzone table.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { init, memzone } from '@mp/eal';
import { Ring } from '@mp/ring';

const SLOT = 256; // bytes per secondary in the board
const ITEMS = 100_000; // items each secondary sends
const prefix = `basic-mp-${process.pid}`;
const eal = init([`--file-prefix=${prefix}`, '--proc-type=primary', '-l', '0']);
console.log(`primary ${process.pid}: group '${prefix}' up, memory in ${eal.memory.segDir}`);

const board = memzone.reserve('board', 4 * SLOT);
const ring = Ring.create('items', 4096, { elemSize: 4 }); // multi-producer: both secondaries enqueue

const secondary = fileURLToPath(new URL('./secondary.mjs', import.meta.url));
const children = [1, 2].map((n) =>
  spawn(process.execPath, [secondary, prefix, String(n), String(SLOT), String(ITEMS)], { stdio: 'inherit' }),
);
const exited = Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));

// Drain the ring while the secondaries fill it: item = secondary << 24 | sequence number.
const seen = [new Uint8Array(ITEMS), new Uint8Array(ITEMS)];
const buf = new Uint32Array(256);
let got = 0;
let dup = 0;
while (got + dup < 2 * ITEMS) {
  const k = await ring.dequeueBurstAsync(buf, buf.length, { timeoutMs: 10_000 });
  if (k === 0) break;
  for (let i = 0; i < k; i++) {
    const who = (buf[i] >>> 24) - 1;
    const seq = buf[i] & 0xffffff;
    if (seen[who][seq]++) dup++;
    else got++;
  }
}
const codes = await exited;
if (codes.some((c) => c !== 0)) {
  console.error(`a secondary failed: exit codes ${codes}`);
  process.exit(1);
}

const bytes = new Uint8Array(board.buffer);
for (const n of [1, 2]) {
  const slot = bytes.subarray(n * SLOT, (n + 1) * SLOT);
  console.log(`primary: board slot ${n} holds "${Buffer.from(slot.subarray(0, slot.indexOf(0))).toString()}"`);
}
const note = Buffer.from(memzone.lookup('note-2').buffer).toString().replace(/\0+$/, '');
console.log(`primary: secondary 2 reserved a memzone of its own: "${note}"`);
console.log(`primary: ring 'items' delivered ${got} of ${2 * ITEMS} items, ${dup} duplicates, ${2 * ITEMS - got} missing`);
console.log(`\n${memzone.dump()}\n`);
ring.free();
eal.cleanup();
console.log('primary: group closed, files removed');
if (got !== 2 * ITEMS || dup !== 0) process.exit(1);
