/**
 * Interop with DPDK 22.11's own net_memif: dpdk-testpmd (Debian package `dpdk`) in each role, frames
 * forwarded back by testpmd (io, macswap), content and order checked here. Skipped, saying so, where
 * testpmd is not installed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { uniquePrefix, useTempDir } from '@mp/test-utils';
import { MemifInterface } from '../src/index.js';
import { TESTPMD, Testpmd } from './fixtures/testpmd.js';
import { roundTrip } from './traffic.js';

// Registered first, so (after-hooks run last-registered first) testpmds and interfaces go before their dirs.
const sockDir = useTempDir('memif');
const live: Testpmd[] = [];
const itfs: MemifInterface[] = [];

afterEach(async () => {
  for (const i of itfs.splice(0)) i.close();
  await Promise.all(live.splice(0).map((t) => t.kill()));
});

function sockPath(): string {
  return join(sockDir(), 'memif.sock');
}

function testpmd(devargs: string, forward: string): Testpmd {
  const t = new Testpmd({ prefix: uniquePrefix('tpmd'), devargs, forward });
  live.push(t);
  return t;
}

function memif(o: Parameters<typeof MemifInterface.create>[0]): MemifInterface {
  const i = MemifInterface.create(o);
  itfs.push(i);
  return i;
}

const N = 2000;
const inOrder = (seqs: number[]): boolean => seqs.every((s, i) => s === i);

describe.skipIf(TESTPMD === undefined)(`memif interop with dpdk-testpmd${TESTPMD === undefined ? ' (SKIPPED: dpdk-testpmd not installed; apt-get install dpdk)' : ''}`, () => {
  it('testpmd server (macswap) ↔ @mp client: every frame comes back, in order, MACs swapped', async () => {
    const sock = sockPath();
    const tp = testpmd(`role=server,socket=${sock},socket-abstract=no`, 'macswap');
    const c = memif({ role: 'client', socket: sock, reconnectMs: 50 });
    c.start();
    const up = await c.waitUp(30_000);
    expect(up.remoteName).toMatch(/^DPDK 22\./);
    expect(up.remoteIfName).toBe('net_memif0');
    await tp.forwarding();
    const r = await roundTrip(c, N, 64, true);
    expect(r.sent).toBe(N);
    expect(r.bad).toBe(0);
    expect(r.seqs.length).toBe(N);
    expect(inOrder(r.seqs)).toBe(true);
    const down = c.waitDown();
    const stats = await tp.stop();
    expect(stats).toMatchObject({ rx: N, tx: N });
    // testpmd's exit closed the connection: the client saw it go down, by the peer.
    expect((await down).by).toBe('remote');
    expect(c.link).toBe('down');
  });

  it('testpmd client (io, bsize=1024) ↔ @mp server: 1500-byte frames chained over 2 buffers both ways', async () => {
    const sock = sockPath();
    const s = memif({ role: 'server', socket: sock });
    s.start();
    const tp = testpmd(`role=client,socket=${sock},socket-abstract=no,bsize=1024,rsize=9`, 'io');
    const up = await s.waitUp(30_000);
    expect(up).toMatchObject({ log2RingSize: 9, bufferSize: 1024 });
    await tp.forwarding();
    const r = await roundTrip(s, N, 1500, false);
    expect(r.bad).toBe(0);
    expect(r.seqs.length).toBe(N);
    expect(inOrder(r.seqs)).toBe(true);
    const stats = await tp.stop();
    expect(stats).toMatchObject({ rx: N, tx: N });
    expect(s.link).toBe('down');
  });

  it('DPDK 22.11 default: an abstract socket name (socket-abstract=yes) meets socketAbstract: true', async () => {
    const name = `/mp-memif-test-${process.pid}-${Date.now()}`;
    const tp = testpmd(`role=server,socket=${name}`, 'macswap');
    const c = memif({ role: 'client', socket: name, socketAbstract: true, reconnectMs: 50 });
    c.start();
    await c.waitUp(30_000);
    await tp.forwarding();
    const r = await roundTrip(c, 300, 64, true);
    expect(r.bad).toBe(0);
    expect(inOrder(r.seqs) && r.seqs.length === 300).toBe(true);
  });

  it('testpmd server with a secret: a wrong secret is refused with its reason, the right one connects', async () => {
    const sock = sockPath();
    const tp = testpmd(`role=server,socket=${sock},socket-abstract=no,secret=opensesame`, 'io');
    await tp.forwarding();
    const bad = memif({ role: 'client', socket: sock, secret: 'wrong', reconnectMs: 0 });
    const down = bad.waitDown(30_000);
    bad.start();
    expect(await down).toEqual({ reason: 'Incorrect secret', by: 'remote' });
    bad.close();
    const good = memif({ role: 'client', socket: sock, secret: 'opensesame', reconnectMs: 50 });
    good.start();
    await good.waitUp(30_000);
    const r = await roundTrip(good, 200, 64, false);
    expect(r.seqs.length).toBe(200);
    expect(r.bad).toBe(0);
  });

  it('interrupt mode: testpmd (server, io) signals the eventfd of an @mp client rx ring that leaves MASK_INT clear', async () => {
    const sock = sockPath();
    const tp = testpmd(`role=server,socket=${sock},socket-abstract=no`, 'io');
    const c = memif({ role: 'client', socket: sock, reconnectMs: 50, rxMode: 'interrupt' });
    c.start();
    await c.waitUp(30_000);
    await tp.forwarding();
    const room = 2048;
    const buf = new Uint8Array(32 * room);
    const off = Uint32Array.from({ length: 32 }, (_, i) => i * room);
    const lens = new Uint32Array(32);
    let got = 0;
    let wakeups = 0;
    const all = new Promise<void>((resolve) => {
      c.rx[0]!.onInterrupt((q) => {
        wakeups++;
        for (let k; (k = q.rxBurst(buf, off, room, lens, 32)) > 0; ) got += k;
        if (got >= 100) resolve();
      });
    });
    const { frames } = await import('./fixtures/frames.mjs');
    const f = frames(100, 0, 64);
    let sent = 0;
    while (sent < 100) sent += c.tx[0]!.txBurst(f.buf, f.offsets.subarray(sent), f.lens.subarray(sent), Math.min(32, 100 - sent));
    await all;
    expect(got).toBe(100);
    expect(wakeups).toBeGreaterThan(0);
  });
});
