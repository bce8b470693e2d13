/**
 * watchInterval (src/sys.ts, the addon's intervalWatch: a timerfd under the poll watch of watch.h), which
 * @mp/eal's process-table watch uses instead of a Node timer: it ticks until closed, and by default does
 * not keep a process alive.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MpError } from '../dist/index.js';
import { watchInterval } from '../dist/internal.js';

const internal = JSON.stringify(join(import.meta.dirname, '..', 'dist', 'internal.cjs'));

/** Resolves after `n` more ticks of a counter that calls `onTick`. */
function ticks(): { count: () => number; after: (n: number) => Promise<void>; tick: () => void } {
  let count = 0;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  return {
    count: () => count,
    after: (n) => new Promise((resolve) => waiters.push({ at: count + n, resolve })),
    tick: () => {
      count++;
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (count >= waiters[i]!.at) waiters.splice(i, 1)[0]!.resolve();
      }
    },
  };
}

describe('watchInterval', () => {
  it('calls back every interval until closed, and never after', async () => {
    const a = ticks();
    const b = ticks();
    const ha = watchInterval(5, a.tick);
    const hb = watchInterval(5, b.tick, true);
    await a.after(3);
    ha.close();
    ha.close(); // idempotent
    const closedAt = a.count();
    await b.after(5); // 25 ms more of another timer of the same period: the closed one stayed silent
    hb.close();
    expect(closedAt).toBeGreaterThanOrEqual(3);
    expect(a.count()).toBe(closedAt);
  });

  it('does not keep the process alive unless asked (ref)', () => {
    // Unref'd: the child's loop has nothing else, so it ends at once (execFileSync throws on a hang's timeout).
    execFileSync(process.execPath, ['-e', `require(${internal}).watchInterval(5, () => {})`], { timeout: 20_000 });
    // Ref'd: the loop lives until the third tick exits with 7.
    const r = spawnSync(process.execPath, ['-e', `let n = 0; require(${internal}).watchInterval(5, () => { if (++n === 3) process.exit(7); }, true)`], { timeout: 20_000 });
    expect(r.status).toBe(7);
  });

  it.each([0, 1.5, -5, 2 ** 32])('an interval of %s ms is EINVAL', (ms) => {
    expect(() => watchInterval(ms, () => undefined)).toThrow(MpError);
    expect(() => watchInterval(ms, () => undefined)).toThrow(/EINVAL/);
  });
});
