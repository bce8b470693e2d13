// The Node floor of a default-mode round trip, beside bench/c/pingpong.c: the same addon @mp/ipc uses
// (uv_poll wake-up, recvmmsg into a record buffer, one callback into JS, sendmsg), no channel logic —
// no decoding, no inbox, no request matching. Both sides sleep in the event loop between messages.
//   node floor-child.mjs <dir> <n>   → prints {"p50":µs,"p99":µs,"cpu":µs} of n round trips (after n/10
//   warm-up); cpu: CPU time (user + system) of both processes per round trip over the measured ones
//   node floor-child.mjs <dir> <n> await   → the same, the reply handed to an awaiting loop through a
//   promise settled in the callback (what request()'s API adds to the floor by itself)
// The parent (this process) measures; it forks its echo peer (this file with 'echo').
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const b = require('node-gyp-build')(join(import.meta.dirname, '..'));
const [dir, arg, mode] = process.argv.slice(2);
const sockaddr = (p) => {
  const a = new Uint8Array(2 + Buffer.byteLength(p) + 1);
  a[0] = 1;
  a.set(Buffer.from(p), 2);
  return a;
};
const RECV_BYTES = 16 * 512 + 16 * 31 * 332;
const RECORD_SIZE = b.layout.recSize; // RECORD.len (the datagram's length) is a record's first word
const data = new Uint8Array(332);
const pa = join(dir, 'floor_a');
const pb = join(dir, 'floor_b');

if (arg === 'echo') {
  rmSync(pb, { force: true }); // a socket file left by the previous run
  const fd = b.open(pb, 0o600);
  const to = sockaddr(pa);
  // Its CPU time from the first measured round trip on (the parent says when: a 1-byte datagram).
  let cpu0 = 0;
  const recv = new ArrayBuffer(RECV_BYTES);
  const w = b.watch(fd, recv, (n) => {
    for (let i = 0; i < n; i++) {
      if (new DataView(recv).getInt32(i * RECORD_SIZE, true) === 1) {
        const u = process.cpuUsage();
        cpu0 = u.user + u.system;
        continue;
      }
      b.send(fd, to, data, null, false);
    }
    return 0;
  });
  w.ref();
  globalThis.keepWatch = w; // the handle's finalizer would close the watch once collected
  process.stdout.write('ready\n');
  process.stdin.on('end', () => {
    const u = process.cpuUsage();
    process.stdout.write(`${u.user + u.system - cpu0}\n`, () => process.exit(0));
  });
  process.stdin.resume();
} else {
  const n = Number(arg);
  const warm = Math.floor(n / 10);
  rmSync(pa, { force: true }); // a socket file left by the previous run
  const fd = b.open(pa, 0o600);
  const peer = spawn(process.execPath, [import.meta.filename, dir, 'echo'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((r) => peer.stdout.once('data', r));
  const to = sockaddr(pb);
  const t = new Float64Array(n);
  const mark = new Uint8Array(1);
  const cpuUs = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  let cpu0 = 0;
  if (mode === 'await') {
    // As request() hands its reply over: the callback settles a promise, the loop awaits it.
    let wake = null;
    const w = b.watch(fd, new ArrayBuffer(RECV_BYTES), (k) => {
      if (k > 0 && wake !== null) {
        const r = wake;
        wake = null;
        r();
      }
      return 0;
    });
    w.ref();
    for (let i = 0; i < warm + n; i++) {
      if (i === warm) {
        b.send(fd, to, mark, null, false);
        cpu0 = cpuUs();
      }
      const t0 = performance.now();
      b.send(fd, to, data, null, false);
      await new Promise((r) => (wake = r));
      if (i >= warm) t[i - warm] = performance.now() - t0;
    }
    w.close();
  } else {
    let i = 0;
    let t0 = 0;
    const done = new Promise((resolve) => {
      const w = b.watch(fd, new ArrayBuffer(RECV_BYTES), (k) => {
        if (k === 0) return 0;
        if (i >= warm) t[i - warm] = performance.now() - t0;
        if (++i === warm + n) {
          w.close();
          resolve();
          return 0;
        }
        if (i === warm) {
          b.send(fd, to, mark, null, false);
          cpu0 = cpuUs();
        }
        t0 = performance.now();
        b.send(fd, to, data, null, false);
        return 0;
      });
      w.ref();
    });
    t0 = performance.now();
    b.send(fd, to, data, null, false);
    await done;
  }
  const cpu = cpuUs() - cpu0;
  const peerCpu = new Promise((r) => peer.stdout.once('data', (l) => r(Number(String(l).trim()))));
  peer.stdin.end();
  const both = cpu + (await peerCpu);
  b.close(fd);
  rmSync(pa, { force: true });
  rmSync(pb, { force: true });
  t.sort();
  process.stdout.write(`${JSON.stringify({ p50: t[Math.floor(n / 2)] * 1000, p99: t[Math.floor(n * 0.99)] * 1000, cpu: both / n })}\n`);
  process.exit(0);
}
