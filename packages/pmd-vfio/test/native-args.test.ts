/**
 * The addon checks every argument's type and range itself (native/args.h, the same file as @mp/memory's
 * and @mp/ipc's): a wrong one is a TypeError or RangeError naming it, thrown before any system call —
 * never a call that goes on with fd 0 (or any coerced number) because a failed conversion read as 0.
 * Covers every part of the addon: memif (control socket, memfd, eventfd, map, watch, Queue), af_packet,
 * tap, vfio and AF_XDP. Needs no root: the checks come before anything privileged.
 */
import { fstatSync } from 'node:fs';
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { binding } from '../src/binding.js';
import { thrown } from '@mp/test-utils';

type Fn = (...a: unknown[]) => unknown;
const addon = binding as unknown as Record<string, Fn> & { Queue: new (...a: unknown[]) => unknown };
const u8 = new Uint8Array(16);
const u32 = new Uint32Array(4);
const ab = new ArrayBuffer(4096);
const noop = (): void => undefined;
const afpOpts = { blockSize: 4096, blockNr: 2, frameSize: 2048, txFrameNr: 2, retireTovMs: 10, qdiscBypass: false, fanout: 0 };

describe('native pmd-vfio arguments', () => {
  it.each([
    // memif: control socket
    ['listen', [1, true, 0o600, 4], TypeError, /argument 0 \(name\) must be a string/],
    ['listen', ['x', 'yes', 0o600, 4], TypeError, /argument 1 \(abstract\) must be a boolean/],
    ['listen', ['x', true, -1, 4], RangeError, /argument 2 \(mode\) must be in range/],
    ['connect', ['x', 1], TypeError, /argument 1 \(abstract\)/],
    ['accept', ['3'], TypeError, /argument 0 \(fd\) must be a number/],
    ['send', ['3', u8, -1], TypeError, /argument 0 \(fd\) must be a number/],
    ['send', [3, 'bytes', -1], TypeError, /argument 1 \(bytes\)/],
    ['send', [3, u8, '4'], TypeError, /argument 2 \(passFd\) must be a number/],
    ['recv', [3, u8, new Uint32Array(2)], TypeError, /argument 2 \(out\) must be an Int32Array/],
    ['recv', [3, u8, new Int32Array(1)], RangeError, /argument 2 \(out\) must be an Int32Array of 2/],
    ['close', ['3'], TypeError, /argument 0 \(fd\) must be a number/],
    ['close', [1.5], RangeError, /argument 0 \(fd\) must be an integer/],
    ['memfd', ['m', '4096'], TypeError, /argument 1 \(size\) must be a number/],
    ['fdInfo', [null], TypeError, /argument 0 \(fd\)/],
    ['notify', [-1], RangeError, /argument 0 \(fd\) must be in range/],
    ['drain', [undefined], TypeError, /argument 0 \(fd\)/],
    ['map', [3, 2 ** 60], RangeError, /argument 1 \(size\) must be in range/],
    ['release', [u8], TypeError, /argument 0 \(ab\) must be an ArrayBuffer/],
    ['watch', ['3', noop], TypeError, /argument 0 \(fd\)/],
    ['watch', [3, 'cb'], TypeError, /argument 1 \(cb\) must be a function/],
    // af_packet
    ['afpOpen', [7, afpOpts], TypeError, /argument 0 \(name\) must be a string/],
    ['afpOpen', ['lo', null], TypeError, /argument 1 \(o\) must be an object/],
    ['afpOpen', ['lo', { ...afpOpts, blockSize: '4096' }], TypeError, /argument 1 \(blockSize\) must be a number/],
    ['afpOpen', ['lo', { ...afpOpts, qdiscBypass: 0 }], TypeError, /argument 1 \(qdiscBypass\) must be a boolean/],
    ['afpOpen', ['lo', { ...afpOpts, frameSize: 0 }], RangeError, /argument 1 \(frameSize\)/],
    ['afpKick', ['3'], TypeError, /argument 0 \(fd\)/],
    ['afpStats', [{}], TypeError, /argument 0 \(fd\)/],
    ['ifState', ['lo', '-1'], TypeError, /argument 1 \(fd\) must be a number/],
    ['ifSetUp', ['lo', 'up', -1], TypeError, /argument 1 \(up\) must be a boolean/],
    ['copyFrames', [u8, [0], u8, u32, u32, 1], TypeError, /argument 1 \(dstOffs\) must be a Uint32Array/],
    ['copyFrames', [u8, u32, u8, u32, u32, -1], RangeError, /argument 5 \(n\) must be in range/],
    // tap
    ['tapOpen', ['tap0', '2'], TypeError, /argument 1 \(queues\) must be a number/],
    ['tapRx', ['3', u8, u32, 64, u32, 1], TypeError, /argument 0 \(fd\)/],
    ['tapRx', [3, u8, u32, 64, new Int32Array(4), 1], TypeError, /argument 4 \(lens\) must be a Uint32Array/],
    ['tapTx', [3, u8, u32, u32, '1'], TypeError, /argument 4 \(n\) must be a number/],
    // vfio
    ['vfioOpen', [0], TypeError, /argument 0 \(path\) must be a string/],
    ['vfioIoctlInt', ['3', 0], TypeError, /argument 0 \(fd\)/],
    ['vfioIoctlInt', [3, 9], RangeError, /argument 1 \(op\) must be 0\.\.3/],
    ['vfioIoctlInt', [3, 1, '1'], TypeError, /argument 2 \(arg\) must be a number/],
    ['vfioGroupSetContainer', [3, '4'], TypeError, /argument 1 \(container\)/],
    ['vfioGroupDevice', [3, 4], TypeError, /argument 1 \(addr\) must be a string/],
    ['vfioRegionInfo', [3, -1], RangeError, /argument 1 \(index\) must be in range/],
    ['vfioSetIrqs', [3, 0, 0, [5]], TypeError, /argument 3 \(efds\) must be an Int32Array/],
    ['vfioPread', [3, -4, u8], RangeError, /argument 1 \(offset\) must be in range/],
    ['vfioPwrite', [3, 0, ab], TypeError, /argument 2 \(src\) must be a Uint8Array/],
    ['vfioMmap', [3, 0, 0], RangeError, /argument 2 \(size\) must be > 0/],
    ['vfioDmaMap', [3, u8, 0], TypeError, /argument 1 \(ab\) must be an ArrayBuffer/],
    ['vfioDmaUnmap', [3, 2 ** 64, 4096], RangeError, /argument 1 \(iova\) must be in range/],
    // AF_XDP
    ['xdpIfindex', [1], TypeError, /argument 0 \(name\)/],
    ['xdpIfFlags', ['1'], TypeError, /argument 0 \(ifindex\)/],
    ['xdpSocket', [ab, 0, 4096, '2048', 64, 64, 64, 64], TypeError, /argument 3 \(frameSize\)/],
    ['xdpBind', [3, 1, -1], RangeError, /argument 2 \(queue\) must be in range/],
    ['xdpRings', [3, 64, 64, 64, null], TypeError, /argument 4 \(txSize\)/],
    ['xdpKick', [NaN], RangeError, /argument 0 \(fd\) must be an integer/],
    ['xdpMapSet', [3, 0, '5'], TypeError, /argument 2 \(fd\) must be a number/],
    ['xdpProgLoad', [undefined], TypeError, /argument 0 \(mapFd\)/],
    ['xdpAttach', [1, '3'], TypeError, /argument 1 \(progFd\)/],
    ['xdpDetach', [-3], RangeError, /argument 0 \(linkFd\)/],
    ['xdpCopy', [ab, u32, u8, u32, u32, 0], TypeError, /argument 2 \(dst\) must be an ArrayBuffer/],
  ] as const)('%s(%j) → %s', (fn, args, type, msg) => {
    const f = addon[fn];
    expect(f, `addon exports ${fn}`).toBeTypeOf('function');
    const err = thrown(() => f!(...args));
    expect(err).toBeInstanceOf(type);
    expect(String((err as Error).message)).toMatch(msg);
  });

  it.each([
    [['0', [ab], 0, 0, 6, 2048, -1, new BigUint64Array(3)], TypeError, /argument 0 \(kind\) must be a number/],
    [[0, ab, 0, 0, 6, 2048, -1, new BigUint64Array(3)], TypeError, /argument 1 \(regions\) must be an array/],
    [[0, [u8], 0, 0, 6, 2048, -1, new BigUint64Array(3)], TypeError, /argument 1 \(regions\) must be an array of ArrayBuffers/],
    [[0, [ab], 0, 0, 6, 2048, -1, new Uint32Array(6)], TypeError, /argument 7 \(stats\) must be a BigUint64Array/],
    [[0, [ab], 0, 0, 6, 2048, -1, new BigUint64Array(2)], RangeError, /argument 7 \(stats\) must be a BigUint64Array of 3/],
    [[0, [ab], 0, 0, 6, 2048, -1, new BigUint64Array(3), 1], TypeError, /argument 8 \(resume\) must be a boolean/],
  ] as const)('new Queue(…) %#: %s %s', (args, type, msg) => {
    const err = thrown(() => new addon.Queue(...args));
    expect(err).toBeInstanceOf(type);
    expect(String((err as Error).message)).toMatch(msg);
  });

  it('Queue bursts check theirs', () => {
    const q = new addon.Queue(1, [ab], 0, 0, 4, 64, -1, new BigUint64Array(3)) as Record<string, Fn>;
    try {
      expect(String(thrown(() => q.rxBurst!(u8, [0], 64, u32, 1)))).toMatch(/TypeError: argument 1 \(offsets\) must be a Uint32Array/);
      expect(String(thrown(() => q.rxBurst!(u8, u32, 64, u32, 1.5)))).toMatch(/RangeError: argument 4 \(n\)/);
      expect(String(thrown(() => q.txBurst!('src', u32, u32, 1)))).toMatch(/TypeError: argument 0 \(src\)/);
      expect(q.rxBurst!(u8, u32, 4, u32, 0)).toBe(0);
    } finally {
      q.close!();
    }
  });

  it('a bad argument reaches no descriptor: nothing sent, nothing signalled, nothing closed', () => {
    const name = `mp-args-${process.pid}`;
    const lfd = binding.listen(name, true, 0o600, 4);
    const cfd = binding.connect(name, true);
    const efd = binding.eventfd();
    let sfd = -1;
    try {
      sfd = binding.accept(lfd);
      expect(sfd).toBeGreaterThanOrEqual(0);
      const msg = new Uint8Array(128);
      const rbuf = new Uint8Array(192);
      const out = new Int32Array(2);
      // A string fd, a descriptor in a plain array slot, a string passFd: each throws, nothing arrives.
      expect(thrown(() => addon.send!(String(cfd), msg, -1))).toBeInstanceOf(TypeError);
      expect(thrown(() => addon.send!(cfd, msg, String(efd)))).toBeInstanceOf(TypeError);
      expect(binding.recv(sfd, rbuf, out)).toBe(-constants.errno.EAGAIN); // the queue is empty
      // notify with a string: the eventfd is not signalled.
      expect(thrown(() => addon.notify!(String(efd)))).toBeInstanceOf(TypeError);
      expect(binding.drain(efd)).toBe(0);
      // close with a string closes nothing.
      expect(thrown(() => addon.close!(String(efd)))).toBeInstanceOf(TypeError);
      expect(() => fstatSync(efd)).not.toThrow();
      // The same calls with good arguments do act (each check above could have failed).
      expect(binding.notify(efd)).toBe(0);
      expect(binding.drain(efd)).toBe(1);
      expect(binding.send(cfd, msg, efd)).toBe(0);
      expect(binding.recv(sfd, rbuf, out)).toBe(128);
      expect(out[1]).toBe(1);
      expect(out[0]).toBeGreaterThanOrEqual(0);
      binding.close(out[0]!);
    } finally {
      for (const fd of [sfd, cfd, lfd, efd]) if (fd >= 0) binding.close(fd);
    }
  });
});
