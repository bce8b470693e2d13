// DPDK's client_server_mp on @mp: a server (primary) distributes numbered work items round-robin over
// one ring per client to N client secondaries; each client counts them and checksums them, then reports
// over a shared results ring; the server verifies every client's count and checksum.
//   pnpm --filter client-server-mp start            (4 clients, 2,000,000 items)
//   node main.mjs [clients] [items]
// The server starts its clients itself (`node main.mjs client <id> <prefix>`).
import { spawn } from 'node:child_process';
import { init } from '@mp/eal';
import { Ring } from '@mp/ring';

const BURST = 32;
const STOP = 0xffffffff;
const ringName = (id) => `client_ring_${id}`;

if (process.argv[2] === 'client') {
  // ---- client (secondary) ---------------------------------------------------------------------------
  const id = Number(process.argv[3]);
  const eal = init([`--file-prefix=${process.argv[4]}`, '--proc-type=secondary', '--no-huge']);
  const rx = Ring.lookup(ringName(id));
  const results = Ring.lookup('results');
  const buf = new Uint32Array(BURST * 2);
  let count = 0;
  let sum = 0;
  let done = false;
  while (!done) {
    // Blocks on a futex while the server has nothing for us (no spinning).
    const n = rx.dequeueBurst(buf, BURST, { timeoutMs: 10_000 });
    if (n === 0) throw new Error(`client ${id}: no work for 10 s`);
    for (let i = 0; i < n; i++) {
      const item = buf[2 * i];
      if (item === STOP) {
        done = true;
        break;
      }
      if (buf[2 * i + 1] !== (item ^ 0x5bd1e995) >>> 0) throw new Error(`client ${id}: item ${item} corrupt`);
      count++;
      sum = (sum + item) >>> 0;
    }
  }
  results.enqueueBulk(new Uint32Array([id, count, sum, process.pid]), 1, { timeoutMs: 10_000 });
  eal.cleanup();
  process.exit(0);
}

// ---- server (primary) -----------------------------------------------------------------------------------
const clients = Number(process.argv[2] ?? 4);
const items = Number(process.argv[3] ?? 2_000_000);
const prefix = `client_server_mp_${process.pid}`;
const eal = init([`--file-prefix=${prefix}`, '--proc-type=primary', '--no-huge', '-m', '32']);
// One SP/SC ring per client (the server is the only producer, the client the only consumer), 8-byte items.
const rings = Array.from({ length: clients }, (_, id) =>
  Ring.create(ringName(id), 2048, { elemSize: 8, producer: 'single', consumer: 'single' }),
);
// Clients report here: many producers, one consumer; 16-byte records {id, count, sum, pid}.
const results = Ring.create('results', 64, { elemSize: 16, consumer: 'single' });
console.log(`server ${process.pid}: ${clients} clients, ${items} items, rings: ${rings.map((r) => r.name).join(', ')}`);
const children = Array.from({ length: clients }, (_, id) =>
  spawn(process.execPath, [process.argv[1], 'client', String(id), prefix], { stdio: 'inherit' }),
);
const exits = children.map((c) => new Promise((r) => c.once('exit', (code) => r(code))));

// Distribute round-robin, a burst per client per turn (as the DPDK server does per port queue).
const t0 = performance.now();
const want = Array.from({ length: clients }, () => ({ count: 0, sum: 0 }));
const bufs = rings.map(() => new Uint32Array(BURST * 2));
const fill = new Array(clients).fill(0);
for (let item = 0; item < items; item++) {
  const c = item % clients;
  const b = bufs[c];
  b[2 * fill[c]] = item;
  b[2 * fill[c] + 1] = (item ^ 0x5bd1e995) >>> 0;
  want[c].count++;
  want[c].sum = (want[c].sum + item) >>> 0;
  if (++fill[c] === BURST || item >= items - clients) {
    // Bulk with a timeout: waits (futex) while the client's ring is full.
    if (rings[c].enqueueBulk(b, fill[c], { timeoutMs: 10_000 }) === 0) throw new Error(`client ${c} stopped taking work`);
    fill[c] = 0;
  }
}
for (const r of rings) r.enqueueBulk(new Uint32Array([STOP, 0]), 1, { timeoutMs: 10_000 });

let ok = true;
const rec = new Uint32Array(4);
for (let k = 0; k < clients; k++) {
  if (!(await results.dequeueBulkAsync(rec, 1, { timeoutMs: 20_000 }))) throw new Error('a client did not report');
  const [id, count, sum, pid] = rec;
  const good = count === want[id].count && sum === want[id].sum;
  ok &&= good;
  console.log(`client ${id} (pid ${pid}): ${count} items, checksum ${sum.toString(16)} — ${good ? 'verified' : `EXPECTED ${want[id].count} / ${want[id].sum.toString(16)}`}`);
}
const codes = await Promise.all(exits);
const s = (performance.now() - t0) / 1000;
console.log(`server: ${items} items in ${s.toFixed(2)} s (${(items / s / 1e6).toFixed(1)} M items/s); ${ok && codes.every((c) => c === 0) ? 'all verified' : 'FAILED'}`);
eal.cleanup();
process.exit(ok ? 0 : 1);
