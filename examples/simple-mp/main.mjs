// DPDK's simple_mp on @mp: a primary and a secondary, each with a prompt. `send <text>` puts the string on
// a ring; the other side prints it. `pnpm --filter simple-mp start` runs the primary, which starts the
// secondary itself; type `send hello` (primary), `sec send hi` (to make the secondary send), `quit`.
// Without a terminal (CI, pipes) it plays a short scripted session and exits.
//
// Two rings, as in DPDK: PRI_2_SEC and SEC_2_PRI, single producer / single consumer, 64-byte elements:
// word 0 = byte length, then up to 60 bytes of UTF-8.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { init } from '@mp/eal';
import { Ring } from '@mp/ring';

const ELEM = 64;
const role = process.argv[2] === 'secondary' ? 'secondary' : 'primary';
const prefix = process.argv[3] ?? `simple_mp_${process.pid}`;
const eal = init([`--file-prefix=${prefix}`, `--proc-type=${role}`, '--no-huge', '-m', '16']);
const me = `[${role} ${process.pid}]`;

let sendRing;
let recvRing;
if (role === 'primary') {
  sendRing = Ring.create('PRI_2_SEC', 64, { elemSize: ELEM, producer: 'single', consumer: 'single' });
  recvRing = Ring.create('SEC_2_PRI', 64, { elemSize: ELEM, producer: 'single', consumer: 'single' });
} else {
  sendRing = Ring.lookup('SEC_2_PRI');
  recvRing = Ring.lookup('PRI_2_SEC');
}

const enc = new TextEncoder();
const dec = new TextDecoder();
function send(text) {
  const elem = new Uint32Array(ELEM / 4);
  const bytes = enc.encode(text).subarray(0, ELEM - 4);
  elem[0] = bytes.length;
  new Uint8Array(elem.buffer).set(bytes, 4);
  if (!sendRing.enqueue(elem)) console.log(`${me} ring full, message dropped`);
}

let running = true;
async function receiveLoop() {
  const elem = new Uint32Array(ELEM / 4);
  while (running) {
    // Sleeps on a futex in the libuv pool: no CPU while nothing arrives.
    const n = await recvRing.dequeueBurstAsync(elem, 1, { timeoutMs: 500 });
    if (n === 1) {
      const text = dec.decode(new Uint8Array(elem.buffer, 4, elem[0]));
      console.log(`${me} received: ${text}`);
      if (text === '__quit__') running = false;
    }
  }
}
const receiving = receiveLoop();

if (role === 'secondary') {
  // Commands come from the primary's prompt (`sec send …`) over stdin.
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.startsWith('send ')) send(line.slice(5));
  });
  await receiving;
  eal.cleanup();
  process.exit(0);
}

// ---- primary ----------------------------------------------------------------------------------------
const child = spawn(process.execPath, [process.argv[1], 'secondary', prefix], { stdio: ['pipe', 'inherit', 'inherit'] });
const childExit = new Promise((r) => child.once('exit', r));
await new Promise((r) => setTimeout(r, 300));

async function quit() {
  send('__quit__');
  running = false;
  await receiving;
  await childExit;
  eal.cleanup();
  process.exit(0);
}

function command(line) {
  const t = line.trim();
  if (t.startsWith('send ')) send(t.slice(5));
  else if (t.startsWith('sec send ')) child.stdin.write(`${t.slice(4)}\n`);
  else if (t === 'quit') return quit();
  else if (t === 'help' || t) console.log('commands: send <text> | sec send <text> | quit');
}

if (process.stdin.isTTY) {
  console.log(`${me} simple_mp: 'send <text>' to the secondary, 'sec send <text>' from the secondary, 'quit'`);
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'simple_mp > ' });
  rl.prompt();
  rl.on('line', async (line) => {
    await command(line);
    rl.prompt();
  });
} else {
  for (const line of ['send hello from the primary', 'sec send hello from the secondary', 'send ring ok?', 'sec send ring ok.']) {
    console.log(`simple_mp > ${line}`);
    command(line);
    await new Promise((r) => setTimeout(r, 200));
  }
  await quit();
}
