/**
 * The addon checks every argument's type and range itself (native/args.h): a wrong one is a TypeError or
 * RangeError naming it, thrown before any system call — never a call that goes on with fd 0 because the
 * failed conversion read as 0.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../dist/internal.js';

type Fn = (...args: unknown[]) => unknown;
const addon = loadAddon<Record<string, Fn>>(new URL('../dist/index.js', import.meta.url).href, '@mp/memory', 'mp_memory');
const dir = mkdtempSync(join(tmpdir(), 'mp-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('native argument checks', () => {
  it.each([
    ['ofdLock', ['0', 0, 1, 'w', false], TypeError, /argument 0 \(fd\) must be a number/],
    ['ofdLock', [-1, 0, 1, 'w', false], RangeError, /argument 0 \(fd\) must be in range/],
    ['ofdLock', [3, 0.5, 1, 'w', false], RangeError, /argument 1 \(start\) must be an integer/],
    ['ofdLock', [3, 0, 1, 'x', false], RangeError, /argument 3 \(type\)/],
    ['ofdLock', [3, 0, 1, 'w', 'yes'], TypeError, /argument 4 \(wait\) must be a boolean/],
    ['ofdTest', [3, 0, 1, 'u'], RangeError, /argument 3 \(type\) must be 'r' or 'w'/],
    ['fallocate', [{}, 0, 1], TypeError, /argument 0 \(fd\)/],
    ['mapSegment', [3, '4096'], TypeError, /argument 1 \(len\)/],
    ['view', [{}, 0, 1], TypeError, /argument 0 \(seg\) must be a handle/],
    ['futexWake', [new Uint32Array(1), 0, 'all'], TypeError, /argument 2 \(count\)/],
    ['futexWait', [new Uint32Array(1), 0, 0, NaN], RangeError, /argument 3 \(timeoutMs\)/],
    ['seqpacketListen', [42, 0o600, 1], TypeError, /argument 0 \(path\) must be a string/],
    ['seqpacketSend', [3, 'text'], TypeError, /argument 1 \(buf\) must be a Uint8Array/],
    ['pidWatch', [process.pid, 'cb'], TypeError, /argument 1 \(cb\) must be a function/],
    ['intervalWatch', [10, 'cb'], TypeError, /argument 1 \(cb\) must be a function/],
    ['intervalWatch', [-1, () => undefined], RangeError, /argument 0 \(ms\)/],
    ['readCached', ['a', 'b', 'c', 'd', 1], TypeError, /strings expected/],
  ] as const)('%s(%j) → %s', (fn, args, type, msg) => {
    const f = addon[fn];
    expect(f, `addon exports ${fn}`).toBeTypeOf('function');
    let thrown: unknown;
    try {
      f!(...args);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(type);
    expect(String((thrown as Error).message)).toMatch(msg);
  });

  it('a bad argument never reaches fcntl: the lock a valid call takes afterwards is still free', () => {
    const fd = openSync(join(dir, 'f'), 'w+');
    try {
      expect(() => addon.ofdLock!(String(fd), 0, 1, 'w', false)).toThrow(TypeError);
      // Another open file description of the same file can take the lock: nothing was locked.
      const other = openSync(join(dir, 'f'), 'r+');
      try {
        expect(addon.ofdLock!(other, 0, 1, 'w', false)).toBe(true);
      } finally {
        closeSync(other);
      }
    } finally {
      closeSync(fd);
    }
  });
});
