// The child side of @mp/test-utils' Agent (plain JS: fixtures run under bare `node`): answer JSON
// commands `{ id, op, ...params }` from stdin with `{ id, ok, value }` or `{ id, ok: false, code,
// message, name }` on stdout, by calling `ops[op](params)`; exit when stdin closes.
import { createInterface } from 'node:readline';

// Arm the @mp fault points in this process (see @mp/memory's fault.ts): MP_TEST_CRASH acts only in a
// process a test harness armed.
globalThis[Symbol.for('@mp/test-faults')] = true;

/** Write one JSON line to stdout (a reply, or an event `{ event, ... }`). */
export const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** A 1 ms interval timer's count and who waits on it (the `ticks` op; started by its first call). */
let ticker;

/**
 * Ops every agent answers: `exit` ({ code }) exits after replying, as a process that ends on its own;
 * `ticks` ({ count }) resolves once `count` more callbacks of a 1 ms interval timer have run in this
 * process — they run only while its event loop does (a test's proof that a process is not stalled) —
 * with the total so far.
 */
const builtins = {
  exit({ code = 0 }) {
    setImmediate(() => process.exit(code));
    return true;
  },
  ticks({ count }) {
    if (ticker === undefined) {
      ticker = { n: 0, waiters: [] };
      setInterval(() => {
        ticker.n++;
        ticker.waiters = ticker.waiters.filter((w) => (ticker.n >= w.at ? (w.resolve(ticker.n), false) : true));
      }, 1);
    }
    return new Promise((resolve) => ticker.waiters.push({ at: ticker.n + count, resolve }));
  },
};

/** Serve `ops` (plus the built-in `exit`) until stdin closes; `ready` announces `{ event: 'ready', pid }` first. */
export function serve(ops, { ready = false } = {}) {
  ops = { ...builtins, ...ops };
  createInterface({ input: process.stdin })
    .on('line', async (line) => {
      const cmd = JSON.parse(line);
      try {
        const fn = ops[cmd.op];
        if (!fn) throw Object.assign(new Error(`unknown op ${cmd.op}`), { code: 'EINVAL' });
        out({ id: cmd.id, ok: true, value: await fn(cmd) });
      } catch (err) {
        out({ id: cmd.id, ok: false, code: err.code, message: err.message, name: err.name });
      }
    })
    .on('close', () => process.exit(0));
  if (ready) out({ event: 'ready', pid: process.pid });
}
