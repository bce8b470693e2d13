/**
 * The native binding's own checks (issue 16.6): a wrong argument type is a TypeError before any
 * system call (a missing fd read as 0 would act on stdin), and a receive that fails with anything but
 * EAGAIN surfaces as an error instead of reading as an empty queue.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binding } from '../src/binding.js';
import { RECV_BUFFER_BYTES } from '../src/layout.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-ipc-bind-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const buf = new ArrayBuffer(RECV_BUFFER_BYTES);
const addr = new Uint8Array([1, 0, 0x2f, 0]);
const data = new Uint8Array(332);
type Loose = Record<string, (...a: unknown[]) => unknown>;
const loose = binding as unknown as Loose;

describe('native ipc binding: checked arguments', () => {
  it.each<[string, unknown[]]>([
    ['open', [42, 0o600]],
    ['open', ['/tmp/x', 'rw']],
    ['probe', [undefined]],
    ['flock', [dir, 7]],
    ['flock', [dir, 'un', 'zero']],
    ['flock', [dir, 'sideways']],
    ['send', ['3', addr, data, null, false]],
    ['send', [3, addr, data, null, 'yes']],
    ['send', [3, addr, data, [1, 2], false]],
    ['send', [3.5, addr, data, null, false]],
    ['recv', [undefined, buf, 0]],
    ['recv', [3, buf, '10']],
    ['recv', [3, buf, 0, 'fast']],
    ['recv', [3, buf, 0, 10, buf, 2, 0]],
    ['close', ['3']],
    ['close', []],
    ['yieldCpu', ['1']],
    ['memfdCreate', [5]],
    ['watch', ['3', buf, () => 0]],
  ])('%s(%j) throws TypeError', (fn, args) => {
    expect(() => loose[fn]!(...args)).toThrow(TypeError);
  });

  it('busyPoll of a watch handle checks its argument', () => {
    const fd = binding.open(null, 0);
    const w = binding.watch(fd, buf, () => 0);
    try {
      expect(() => (w as unknown as Loose).busyPoll!('50')).toThrow(TypeError);
    } finally {
      w.close();
      binding.close(fd);
    }
  });
});

describe('native ipc binding: receive errors surface', () => {
  it('recv on a descriptor that is not a socket throws ENOTSOCK (it used to read as "nothing queued")', () => {
    const f = join(dir, 'plain');
    const fd = openSync(f, 'w+');
    try {
      expect(() => binding.recv(fd, buf, 0)).toThrow(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'recvmmsg' }));
      expect(() => binding.recv(fd, buf, 5, 20)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
    } finally {
      closeSync(fd);
    }
  });

  it('recv on an empty socket returns 0 (EAGAIN is the empty queue)', () => {
    const fd = binding.open(null, 0);
    try {
      expect(binding.recv(fd, buf, 0)).toBe(0);
    } finally {
      binding.close(fd);
    }
  });
});
