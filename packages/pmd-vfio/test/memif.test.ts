/**
 * One process, both roles over a real socket, real memfd regions and eventfds: handshake, the data
 * path (chains, full rings, several queues, interrupt mode), reasons for refused connections, and
 * the options' errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mpErrorCode, useTempDir } from '@mp/test-utils';
import { MemifInterface } from '../src/index.js';
import type { MemifOptions } from '../src/index.js';
import { binding } from '../src/binding.js';
import { checkFrame, frames } from './fixtures/frames.mjs';

// Registered first, so (after-hooks run last-registered first) interfaces close before their dirs go.
const sockDir = useTempDir('memif');
const itfs: MemifInterface[] = [];
afterEach(() => {
  for (const i of itfs.splice(0)) i.close();
});

function sockPath(): string {
  return join(sockDir(), 'memif.sock');
}
function mk(o: MemifOptions): MemifInterface {
  const i = MemifInterface.create(o);
  itfs.push(i);
  return i;
}
async function pair(s: Partial<MemifOptions> = {}, c: Partial<MemifOptions> = {}): Promise<[MemifInterface, MemifInterface]> {
  const socket = sockPath();
  const srv = mk({ role: 'server', socket, ...s });
  const cli = mk({ role: 'client', socket, reconnectMs: 0, ...c });
  srv.start();
  cli.start();
  await Promise.all([srv.waitUp(), cli.waitUp()]);
  return [srv, cli];
}

/** Drain everything a queue holds: [seq, ok, len][] */
function drain(q: MemifInterface['rx'][number], room = 16384): Array<[number, boolean, number]> {
  const buf = new Uint8Array(32 * room);
  const off = Uint32Array.from({ length: 32 }, (_, i) => i * room);
  const lens = new Uint32Array(32);
  const out: Array<[number, boolean, number]> = [];
  for (let k; (k = q.rxBurst(buf, off, room, lens, 32)) > 0; ) {
    for (let i = 0; i < k; i++) out.push([checkFrame(buf, off[i]!, Math.min(lens[i]!, room), false).seq, checkFrame(buf, off[i]!, Math.min(lens[i]!, room), false).ok, lens[i]!]);
  }
  return out;
}

describe('memif @mp ↔ @mp in one process', () => {
  it('connects, reports the peer, and moves frames both ways (client → server, server → client)', async () => {
    const [srv, cli] = await pair({ ifName: 'srvif' }, { ifName: 'cliif', name: 'cli-app' });
    expect(srv.connection).toMatchObject({ remoteName: 'cli-app', remoteIfName: 'cliif', log2RingSize: 10, bufferSize: 2048 });
    expect(cli.connection).toMatchObject({ remoteName: 'mp-pmd-vfio', remoteIfName: 'srvif', bufferSize: 2048 });
    const f = frames(100, 0, 200);
    expect(cli.tx[0]!.txBurst(f.buf, f.offsets, f.lens, 100)).toBe(100);
    const got = drain(srv.rx[0]!);
    expect(got.map((g) => g[0])).toEqual([...Array(100).keys()]);
    expect(got.every((g) => g[1] && g[2] === 200)).toBe(true);
    expect(srv.tx[0]!.txBurst(f.buf, f.offsets, f.lens, 100)).toBe(100);
    expect(drain(cli.rx[0]!).length).toBe(100);
    expect(srv.rx[0]!.stats()).toEqual({ packets: 100n, bytes: 20000n, errors: 0n });
  });

  it.each([
    ['client → server', 'c2s'],
    ['server → client', 's2c'],
  ])('chains a 1000-byte frame over 128-byte buffers (%s) and stops at a full ring without splitting a chain', async (_n, dir) => {
    const [srv, cli] = await pair({}, { bufferSize: 128, log2RingSize: 5 });
    const [tx, rx] = dir === 'c2s' ? [cli.tx[0]!, srv.rx[0]!] : [srv.tx[0]!, cli.rx[0]!];
    const f = frames(10, 0, 1000); // 8 slots each; 32 slots hold 4 frames
    expect(tx.txBurst(f.buf, f.offsets, f.lens, 10)).toBe(4);
    const got = drain(rx);
    expect(got).toEqual([0, 1, 2, 3].map((s) => [s, true, 1000]));
    expect(tx.txBurst(f.buf, f.offsets.subarray(4), f.lens.subarray(4), 6)).toBe(4);
    expect(drain(rx).map((g) => g[0])).toEqual([4, 5, 6, 7]);
  });

  it('bursts check their argument types (EINVAL) and count ranges outside the caller buffer as errors', async () => {
    const [srv, cli] = await pair();
    const tx = cli.tx[0]!;
    expect(mpErrorCode(() => tx.txBurst(new Uint8Array(64), [0] as unknown as Uint32Array, new Uint32Array([64]), 1))).toBe('EINVAL');
    expect(mpErrorCode(() => srv.rx[0]!.rxBurst(new Uint16Array(8) as unknown as Uint8Array, new Uint32Array(1), 8, new Uint32Array(1), 1))).toBe('EINVAL');
    // Frame 0 lies outside src: skipped and counted; frame 1 goes.
    const f = frames(2, 0, 64);
    expect(tx.txBurst(f.buf, Uint32Array.from([f.buf.byteLength - 10, f.offsets[1]!]), f.lens, 2)).toBe(2);
    expect(tx.stats()).toMatchObject({ packets: 1n, errors: 1n });
    // Received into a range outside dst: dropped and counted.
    const lens = new Uint32Array(1);
    expect(srv.rx[0]!.rxBurst(new Uint8Array(100), new Uint32Array([50]), 64, lens, 1)).toBe(0);
    expect(srv.rx[0]!.stats()).toMatchObject({ packets: 0n, errors: 1n });
  });

  it('reports a frame longer than the caller room with its full length (and copies what fits)', async () => {
    const [srv, cli] = await pair();
    const f = frames(1, 7, 1500);
    cli.tx[0]!.txBurst(f.buf, f.offsets, f.lens, 1);
    const dst = new Uint8Array(100);
    const lens = new Uint32Array(1);
    expect(srv.rx[0]!.rxBurst(dst, new Uint32Array(1), 100, lens, 1)).toBe(1);
    expect(lens[0]).toBe(1500);
    expect(checkFrame(dst, 0, 100, false)).toEqual({ seq: 7, ok: true });
  });

  it('several queue pairs: each ring carries its own frames', async () => {
    const [srv, cli] = await pair({ rxQueues: 3, txQueues: 2 }, { rxQueues: 2, txQueues: 3 });
    expect([cli.tx.length, cli.rx.length, srv.rx.length, srv.tx.length]).toEqual([3, 2, 3, 2]);
    for (let q = 0; q < 3; q++) {
      const f = frames(5, q * 100, 64);
      expect(cli.tx[q]!.txBurst(f.buf, f.offsets, f.lens, 5)).toBe(5);
    }
    for (let q = 0; q < 3; q++) expect(drain(srv.rx[q]!).map((g) => g[0])).toEqual([0, 1, 2, 3, 4].map((i) => q * 100 + i));
  });

  it('interrupt mode: the sender writes the eventfd of a ring whose receiver left MASK_INT clear', async () => {
    const [srv, cli] = await pair({ rxMode: 'interrupt' }, { rxMode: 'interrupt' });
    const got: number[] = [];
    const woke = new Promise<void>((resolve) => {
      srv.rx[0]!.onInterrupt((q) => {
        got.push(...drain(q).map((g) => g[0]));
        if (got.length === 50) resolve();
      });
    });
    const f = frames(50, 0, 64);
    expect(cli.tx[0]!.txBurst(f.buf, f.offsets, f.lens, 50)).toBe(50);
    await woke;
    expect(got).toEqual([...Array(50).keys()]);
    expect(() => srv.tx[0]!.onInterrupt(() => {})).toThrow(/ENOTSUP/);
  });

  it('stop() tells the peer, both go down, and the same pair reconnects with fresh rings', async () => {
    const [srv, cli] = await pair();
    const down = srv.waitDown();
    cli.stop();
    expect(await down).toEqual({ reason: 'Interface stopped', by: 'remote' });
    expect(cli.downReason).toEqual({ reason: 'Interface stopped', by: 'local' });
    expect(cli.tx).toEqual([]);
    cli.start();
    await Promise.all([srv.waitUp(), cli.waitUp()]);
    const r = await roundTripVia(cli, srv, 300);
    expect(r).toEqual([...Array(300).keys()]);
  });

  it.each([
    ['a wrong secret', { secret: 'sesame' }, { secret: 'nope' }, 'Incorrect secret'],
    ['no secret', { secret: 'sesame' }, {}, 'Secret required'],
    ['an unknown id', { id: 1 }, { id: 2 }, 'ID not found'],
  ])('refuses %s with its reason and stays up for the next client', async (_n, s, c, reason) => {
    const socket = sockPath();
    const srv = mk({ role: 'server', socket, ...s });
    srv.start();
    const bad = mk({ role: 'client', socket, reconnectMs: 0, ...c });
    const down = bad.waitDown();
    bad.start();
    expect(await down).toEqual({ reason, by: 'remote' });
    const good = mk({ role: 'client', socket, reconnectMs: 0, ...(s as Partial<MemifOptions>) });
    good.start();
    await Promise.all([srv.waitUp(), good.waitUp()]);
  });

  it('a second client for a connected id is told "Already connected"', async () => {
    const socket = sockPath();
    const srv = mk({ role: 'server', socket });
    srv.start();
    const a = mk({ role: 'client', socket, reconnectMs: 0 });
    a.start();
    await a.waitUp();
    const b = mk({ role: 'client', socket, reconnectMs: 0 });
    const down = b.waitDown();
    b.start();
    expect(await down).toEqual({ reason: 'Already connected', by: 'remote' });
    expect(a.link).toBe('up');
  });

  it('two server interfaces share one socket, told apart by id', async () => {
    const socket = sockPath();
    const s1 = mk({ role: 'server', socket, id: 1 });
    const s2 = mk({ role: 'server', socket, id: 2 });
    s1.start();
    s2.start();
    const c2 = mk({ role: 'client', socket, id: 2, reconnectMs: 0 });
    c2.start();
    await Promise.all([s2.waitUp(), c2.waitUp()]);
    expect(s1.link).toBe('down');
    s1.close();
    expect(existsSync(socket)).toBe(true);
    s2.close();
    expect(existsSync(socket)).toBe(false);
  });

  it('an abstract socket name (no file): both roles', async () => {
    const name = `mp-memif-abstract-${process.pid}-${Date.now()}`;
    const srv = mk({ role: 'server', socket: name, socketAbstract: true });
    const cli = mk({ role: 'client', socket: name, socketAbstract: true, reconnectMs: 0 });
    srv.start();
    cli.start();
    await Promise.all([srv.waitUp(), cli.waitUp()]);
    expect(existsSync(name)).toBe(false);
  });

  it('a client retries a socket that is not there yet', async () => {
    const socket = sockPath();
    const cli = mk({ role: 'client', socket, reconnectMs: 20 });
    cli.start();
    expect(cli.link).toBe('down');
    expect(cli.downReason?.reason).toMatch(/cannot connect/);
    const srv = mk({ role: 'server', socket });
    srv.start();
    await Promise.all([srv.waitUp(), cli.waitUp()]);
  });
});

async function roundTripVia(tx: MemifInterface, rx: MemifInterface, n: number): Promise<number[]> {
  const f = frames(n, 0, 64);
  let sent = 0;
  const seqs: number[] = [];
  while (seqs.length < n) {
    sent += tx.tx[0]!.txBurst(f.buf, f.offsets.subarray(sent), f.lens.subarray(sent), Math.min(32, n - sent));
    seqs.push(...drain(rx.rx[0]!).map((g) => g[0]));
  }
  return seqs;
}

describe('memif options and socket errors', () => {
  it.each([
    ['role', { role: 'boss' }, 'EINVAL'],
    ['empty socket', { socket: '' }, 'EINVAL'],
    ['socket ≥ 108 bytes', { socket: `/tmp/${'x'.repeat(120)}` }, 'ENAMETOOLONG'],
    ['id', { id: -1 }, 'EINVAL'],
    ['bufferSize', { bufferSize: 70000 }, 'EINVAL'],
    ['log2RingSize 15', { log2RingSize: 15 }, 'EINVAL'],
    ['rxQueues 0', { rxQueues: 0 }, 'EINVAL'],
    ['txQueues 256', { txQueues: 256 }, 'EINVAL'],
    ['secret of 24 bytes', { secret: 's'.repeat(24) }, 'EINVAL'],
    ['rxMode', { rxMode: 'sometimes' }, 'EINVAL'],
    ['name of 32 bytes', { name: 'n'.repeat(32) }, 'EINVAL'],
  ])('%s → %s', (_n, bad, code) => {
    expect(mpErrorCode(() => MemifInterface.create({ role: 'client', socket: '/tmp/x.sock', ...(bad as object) } as MemifOptions))).toBe(code);
  });

  it('a second server interface with the same id on a socket → EEXIST', () => {
    const socket = sockPath();
    mk({ role: 'server', socket, id: 3 });
    expect(mpErrorCode(() => MemifInterface.create({ role: 'server', socket, id: 3 }))).toBe('EEXIST');
  });

  it('a socket path bound by a live listener → EBUSY; a stale one is replaced', () => {
    const socket = sockPath();
    const fd = binding.listen(socket, false, 0o600, 1);
    expect(mpErrorCode(() => MemifInterface.create({ role: 'server', socket }))).toBe('EBUSY');
    binding.close(fd); // the file stays behind, nobody listens: stale
    expect(existsSync(socket)).toBe(true);
    mk({ role: 'server', socket });
  });

  it('a socket in a directory that does not exist → EINVAL naming it', () => {
    expect(mpErrorCode(() => MemifInterface.create({ role: 'server', socket: '/nonexistent-dir/m.sock' }))).toBe('EINVAL');
  });

  it('start() after close() → EBADF', () => {
    const i = MemifInterface.create({ role: 'client', socket: sockPath() });
    i.close();
    expect(mpErrorCode(() => i.start())).toBe('EBADF');
  });
});
