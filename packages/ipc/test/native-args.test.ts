/**
 * The addon checks every argument's type and range itself (native/args.h, the same file as
 * @mp/memory's): a wrong one is a TypeError or RangeError naming it, thrown before any system call —
 * never a call that goes on with fd 0 (or any coerced number) because a failed conversion read as 0.
 */
import { fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binding } from '../src/binding.js';
import { RECORD, RECV_BUFFER_BYTES } from '../src/layout.js';
import { thrown } from '@mp/test-utils';

const dir = mkdtempSync(join(tmpdir(), 'mp-ipc-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
type Fn = (...a: unknown[]) => unknown;
const loose = binding as unknown as Record<string, Fn>;
const buf = new ArrayBuffer(RECV_BUFFER_BYTES);
const addr = new Uint8Array([1, 0, 0x2f, 0]);
const data = new Uint8Array(332);
const noop = (): number => 0;

/** sockaddr_un bytes of a path (AF_UNIX = 1, little-endian family). */
function sockaddr(path: string): Uint8Array {
  const p = Buffer.from(path);
  const a = new Uint8Array(2 + p.length + 1);
  a[0] = 1;
  a.set(p, 2);
  return a;
}

describe('native ipc arguments', () => {
  it.each([
    ['open', [42, 0o600], TypeError, /argument 0 \(path\) must be a string/],
    ['open', ['/tmp/x', 'rw'], TypeError, /argument 1 \(mode\) must be a number/],
    ['probe', [undefined], TypeError, /argument 0 \(path\) must be a string/],
    ['flock', [dir, 7], TypeError, /argument 1 \(op\) must be a string/],
    ['flock', [dir, 'un', 'zero'], TypeError, /argument 2 \(fd\) must be a number/],
    ['flock', [dir, 'sideways'], RangeError, /argument 1 \(op\) must be 'ex', 'sh' or 'un'/],
    ['send', ['3', addr, data, null, false], TypeError, /argument 0 \(fd\) must be a number/],
    ['send', [3.5, addr, data, null, false], RangeError, /argument 0 \(fd\) must be an integer/],
    ['send', [-1, addr, data, null, false], RangeError, /argument 0 \(fd\) must be in range/],
    ['send', [3, 'addr', data, null, false], TypeError, /argument 1 \(addr\) must be a typed array/],
    ['send', [3, new Uint8Array(1), data, null, false], RangeError, /argument 1 \(addr\) must be a sockaddr_un/],
    ['send', [3, addr, {}, null, false], TypeError, /argument 2 \(data\)/],
    ['send', [3, addr, data, [1, 2], false], TypeError, /argument 3 \(fds\) must be an Int32Array or null/],
    ['send', [3, addr, data, new Uint32Array(1), false], TypeError, /argument 3 \(fds\)/],
    ['send', [3, addr, data, null, 'yes'], TypeError, /argument 4 \(wait\) must be a boolean/],
    ['recv', [undefined, buf, 0], TypeError, /argument 0 \(fd\) must be a number/],
    ['recv', [3, 'buf', 0], TypeError, /argument 1 \(records\)/],
    ['recv', [3, buf, '10'], TypeError, /argument 2 \(timeoutMs\) must be a number/],
    ['recv', [3, buf, NaN], RangeError, /argument 2 \(timeoutMs\) must be a number, not NaN/],
    ['recv', [3, buf, 0, 'fast'], TypeError, /argument 3 \(spinUs\) must be a number/],
    ['recv', [3, buf, 0, 10, buf, 2, 0], RangeError, /argument 5 \(wordOffset\) must be a 4-aligned offset/],
    ['recv', [3, buf, 0, 10, buf, buf.byteLength, 0], RangeError, /argument 5 \(wordOffset\)/],
    ['recv', [3, buf, 0, 10, 'word', 0, 0], TypeError, /argument 4 \(buffer\) must be an ArrayBuffer/],
    ['recv', [3, buf, 0, 10, buf, 0, '0'], TypeError, /argument 6 \(expected\) must be a number/],
    ['close', ['3'], TypeError, /argument 0 \(fd\) must be a number/],
    ['close', [], TypeError, /argument 0 \(fd\) must be a number/],
    ['memfdCreate', [5], TypeError, /argument 0 \(name\) must be a string/],
    ['classify', ['buf', 1], TypeError, /argument 0 \(records\) must be a typed array or an ArrayBuffer/],
    ['classify', [buf, -1], RangeError, /argument 1 \(n\)/],
    ['classify', [new ArrayBuffer(1024), 3], RangeError, /argument 1 \(n\) must be at most the records in the buffer/],
    ['watch', ['3', buf, noop], TypeError, /argument 0 \(fd\) must be a number/],
    ['watch', [3, new Uint8Array(8), noop], TypeError, /argument 1 \(records\) must be an ArrayBuffer/],
    ['watch', [3, buf, 'cb'], TypeError, /argument 2 \(cb\) must be a function/],
  ] as const)('%s(%j) → %s', (fn, args, type, msg) => {
    const f = loose[fn];
    expect(f, `addon exports ${fn}`).toBeTypeOf('function');
    const err = thrown(() => f!(...args));
    expect(err).toBeInstanceOf(type);
    expect(String((err as Error).message)).toMatch(msg);
  });

  it('watch handle methods check theirs: busyPoll(us), inbox(buffer, pubOffset, pollOffset)', () => {
    const fd = binding.open(null, 0);
    const w = binding.watch(fd, buf, () => 0) as unknown as Record<string, Fn>;
    try {
      expect(thrown(() => w.busyPoll!('50'))).toBeInstanceOf(TypeError);
      expect(String(thrown(() => w.busyPoll!('50')))).toMatch(/argument 0 \(us\)/);
      expect(String(thrown(() => w.inbox!(new ArrayBuffer(64), 0, 6)))).toMatch(/RangeError: argument 2 \(pollOffset\)/);
      expect(String(thrown(() => w.inbox!({}, 0, 4)))).toMatch(/TypeError: argument 0 \(buffer\) must be an ArrayBuffer/);
    } finally {
      w.close!();
      binding.close(fd);
    }
  });

  it('a bad argument reaches no socket: nothing is sent, nothing is closed, no descriptor travels', () => {
    const path = join(dir, 'rx.sock');
    const rx = binding.open(path, 0o600);
    const tx = binding.open(null, 0);
    const memfd = binding.memfdCreate('mp-args');
    const records = new ArrayBuffer(RECV_BUFFER_BYTES);
    try {
      const to = sockaddr(path);
      // The fd as a string (would have been coerced to 0 or NaN → 0), the fds as a plain array, wait
      // as a string: each throws, and rx's queue stays empty.
      expect(thrown(() => loose.send!(String(tx), to, data, null, false))).toBeInstanceOf(TypeError);
      expect(thrown(() => loose.send!(tx, to, data, [memfd], false))).toBeInstanceOf(TypeError);
      expect(thrown(() => loose.send!(tx, to, data, new Int32Array([memfd]), 1))).toBeInstanceOf(TypeError);
      expect(binding.recv(rx, records, 0)).toBe(0);
      // close with a string closes nothing: both descriptors are still open.
      expect(thrown(() => loose.close!(String(tx)))).toBeInstanceOf(TypeError);
      expect(thrown(() => loose.close!(String(memfd)))).toBeInstanceOf(TypeError);
      expect(() => fstatSync(tx)).not.toThrow();
      expect(() => fstatSync(memfd)).not.toThrow();
      // The same calls with good arguments do act (the checks above could have failed).
      expect(binding.send(tx, to, data, new Int32Array([memfd]), false)).toBe(0);
      expect(binding.recv(rx, records, 0)).toBe(1);
      const dv = new DataView(records);
      expect(dv.getInt32(RECORD.nfds, true)).toBe(1);
      binding.close(dv.getInt32(RECORD.fds, true));
    } finally {
      binding.close(memfd);
      binding.close(tx);
      binding.close(rx);
    }
  });
});
