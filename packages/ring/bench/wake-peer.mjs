// One side of bench/wake.bench.ts (spawned by it, pinned with taskset):
//   node wake-peer.mjs cons <prefix> <variant> <k> <fifo>   k wake-ups; prints "ready", then {"lat":[µs…]}
//   node wake-peer.mjs prod <prefix> <variant> <k> <fifo>   k stamped sends, each to a consumer asleep
//   node wake-peer.mjs idle <prefix> <variant> <ring> <fifo> blocks for good; prints "ready"
// variant: ring-sync (dequeueBurst with timeoutMs), ring-async (dequeueBurstAsync), futex-sync / futex-async
// (@mp/memory futexWait / futexWaitAsync on a word of a memzone: the ring's own sleep, without the ring),
// pipe-sync (a plain blocking read on a FIFO), pipe-async (the event loop reading the FIFO).
// A stamp is process.hrtime (CLOCK_MONOTONIC, one clock for all processes) taken right before the send;
// the consumer takes its own right after its call returns. Before each blocking call the consumer
// publishes the iteration it waits in; the producer sends only after seeing it plus GAP_MS, so every
// send finds the consumer asleep (for the ring also checked in its sleeper count).
import { constants, openSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { init, memzone } from '@mp/eal';
import { futexWait, futexWaitAsync, futexWake } from '@mp/memory';
import { Ring } from '@mp/ring';

const GAP_MS = 5;
const [role, prefix, variant, arg, fifo] = process.argv.slice(2);
init([`--file-prefix=${prefix}`, '--proc-type=secondary', '--no-huge']);
// Control words: WAITING = iteration the consumer waits in (1-based), SEQ = futex word, STAMP = 2 words.
const ctl = new Int32Array(memzone.lookup('wake_ctl').buffer, 0, 16);
const WAITING = 0;
const SEQ = 4;
const STAMP = 8;
const now = () => Number(process.hrtime.bigint());
const pause = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(pause, 0, 0, ms);

/** The k-th message for the consumer: ns stamp in a ring element / pipe message / the futex words. */
function sender() {
  if (variant.startsWith('ring')) {
    const ring = Ring.lookup('wake');
    const el = new Uint32Array(2);
    const asleep = () => Number(/sleeping consumers=(\d+)/.exec(ring.dump())[1]) > 0;
    return (k) => {
      while (!asleep()) sleep(1);
      const t = now();
      el[0] = t % 2 ** 32;
      el[1] = Math.floor(t / 2 ** 32);
      if (ring.enqueueBurst(el, 1) !== 1) throw new Error(`enqueue ${k} failed`);
    };
  }
  if (variant.startsWith('futex')) {
    return () => {
      const t = now();
      ctl[STAMP] = t % 2 ** 32;
      ctl[STAMP + 1] = Math.floor(t / 2 ** 32);
      Atomics.add(ctl, SEQ, 1);
      futexWake(ctl, SEQ);
    };
  }
  const fd = openSync(fifo, 'w');
  const b = Buffer.alloc(8);
  return () => {
    b.writeDoubleLE(now());
    writeSync(fd, b);
  };
}

/** A function that blocks (or awaits) until the next message and returns its stamp. */
function receiver(ringName = 'wake') {
  const el = new Uint32Array(2);
  const two = (lo, hi) => (hi >>> 0) * 2 ** 32 + (lo >>> 0);
  switch (variant) {
    case 'ring-sync': {
      const ring = Ring.lookup(ringName);
      return () => {
        if (ring.dequeueBurst(el, 1, { timeoutMs: 600_000 }) !== 1) throw new Error('timed out');
        return two(el[0], el[1]);
      };
    }
    case 'ring-async': {
      const ring = Ring.lookup(ringName);
      return async () => {
        if ((await ring.dequeueBurstAsync(el, 1, { timeoutMs: 600_000 })) !== 1) throw new Error('timed out');
        return two(el[0], el[1]);
      };
    }
    // The producer bumps SEQ once per message, and only after this side published its next wait.
    case 'futex-sync': {
      let seen = Atomics.load(ctl, SEQ);
      return () => {
        while (Atomics.load(ctl, SEQ) === seen) futexWait(ctl, SEQ, seen, 600_000);
        seen = Atomics.load(ctl, SEQ);
        return two(ctl[STAMP], ctl[STAMP + 1]);
      };
    }
    case 'futex-async': {
      let seen = Atomics.load(ctl, SEQ);
      return async () => {
        while (Atomics.load(ctl, SEQ) === seen) await futexWaitAsync(ctl, SEQ, seen, 600_000);
        seen = Atomics.load(ctl, SEQ);
        return two(ctl[STAMP], ctl[STAMP + 1]);
      };
    }
    case 'pipe-sync': {
      // O_RDWR: the open does not wait for a writer, and the read never sees end-of-file.
      const fd = openSync(fifo, constants.O_RDWR);
      const b = Buffer.alloc(8);
      return () => {
        if (readSync(fd, b, 0, 8, null) !== 8) throw new Error('short read');
        return b.readDoubleLE(0);
      };
    }
    case 'pipe-async': {
      const sock = new Socket({ fd: openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
      const got = [];
      const waiting = [];
      sock.on('data', (d) => {
        for (let i = 0; i + 8 <= d.length; i += 8) got.push(d.readDoubleLE(i));
        while (waiting.length > 0 && got.length > 0) waiting.shift()(got.shift());
      });
      return () => (got.length > 0 ? got.shift() : new Promise((r) => waiting.push(r)));
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

if (role === 'prod') {
  const send = sender();
  const k = Number(arg);
  for (let i = 1; i <= k; i++) {
    while (Atomics.load(ctl, WAITING) !== i) sleep(1);
    sleep(GAP_MS);
    send(i);
  }
  process.exit(0);
} else if (role === 'cons') {
  const recv = receiver();
  const k = Number(arg);
  const lat = [];
  console.log('ready');
  for (let i = 1; i <= k; i++) {
    Atomics.store(ctl, WAITING, i);
    const stamp = await recv();
    lat.push((now() - stamp) / 1000);
  }
  console.log(JSON.stringify({ lat }));
  Atomics.store(ctl, WAITING, 0);
  process.exit(0);
} else if (role === 'idle') {
  const recv = receiver(arg);
  console.log('ready');
  await recv(); // nothing ever comes: the bench measures this process's CPU time, then kills it
} else {
  throw new Error(`unknown role ${role}`);
}
