/**
 * The native binding's receive errors (issue 16.6): a receive that fails with anything but EAGAIN
 * surfaces as an error instead of reading as an empty queue. Argument checks: native-args.test.ts.
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
