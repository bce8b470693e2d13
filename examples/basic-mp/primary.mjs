// The @mp demo, primary side: create a group, reserve a memzone, start two secondaries that each write
// into it, then print what each wrote and the group's memzone table.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { init, memzone } from '@mp/eal';

const SLOT = 256; // bytes per secondary in the board
const prefix = `basic-mp-${process.pid}`;
const eal = init([`--file-prefix=${prefix}`, '--proc-type=primary', '-l', '0']);
console.log(`primary ${process.pid}: group '${prefix}' up, memory in ${eal.memory.segDir}`);

const board = memzone.reserve('board', 4 * SLOT);

const secondary = fileURLToPath(new URL('./secondary.mjs', import.meta.url));
const children = [1, 2].map((n) =>
  spawn(process.execPath, [secondary, prefix, String(n), String(SLOT)], { stdio: 'inherit' }),
);
const codes = await Promise.all(children.map(async (c) => (await once(c, 'exit'))[0]));
if (codes.some((c) => c !== 0)) {
  console.error(`a secondary failed: exit codes ${codes}`);
  process.exit(1);
}

const bytes = new Uint8Array(board.buffer);
for (const n of [1, 2]) {
  const slot = bytes.subarray(n * SLOT, (n + 1) * SLOT);
  const text = Buffer.from(slot.subarray(0, slot.indexOf(0))).toString();
  console.log(`primary: slot ${n} holds "${text}"`);
}
console.log(`primary: secondary 2 reserved its own memzone: "${Buffer.from(memzone.lookup('note-2').buffer).toString().replace(/\0+$/, '')}"`);
console.log(`\n${memzone.dump()}\n`);
eal.cleanup();
console.log('primary: group closed, files removed');
