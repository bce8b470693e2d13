/**
 * Options and start-up errors, in this process (its own group) against one real nats-server on
 * 127.0.0.1: bad options → EINVAL, unreachable server → ENOTCONN naming it (or waiting when asked),
 * element-size mismatch → EPROTO naming both, fds → ENOTSUP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { init, eal } from '@mp/eal';
import { Ring } from '@mp/ring';
import { bridgeActions, ringToStream, streamToRing } from '@mp/bridge-nats';
import type { MpError } from '@mp/bridge-nats';
import { uniquePrefix } from '@mp/test-utils';
import { freePort, natsServerMissing, startServer, stopAll } from './nats-servers.js';
import type { NatsServer } from './nats-servers.js';

const missing = natsServerMissing();

async function code(p: Promise<unknown>): Promise<{ code?: string; message: string; name: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as MpError;
    return { code: e.code, message: e.message, name: e.name };
  }
  throw new Error('expected a rejection');
}

describe.skipIf(missing !== undefined)(`bridge options and start-up errors${missing ? ` (${missing})` : ''}`, () => {
  let server: NatsServer;
  let ring8: Ring;
  let ring16: Ring;
  let ringMulti: Ring;
  beforeAll(async () => {
    init(['--proc-type=primary', `--file-prefix=${uniquePrefix('nbo')}`, '--no-huge', '-m', '32', '--no-telemetry']);
    ring8 = Ring.create('r8', 1024, { elemSize: 8, consumer: 'single' });
    ring16 = Ring.create('r16', 1024, { elemSize: 16, producer: 'single' });
    ringMulti = Ring.create('rm', 1024, { elemSize: 8 });
    server = await startServer({ name: 'opt', host: '127.0.0.1', port: await freePort() });
  });
  afterAll(async () => {
    await stopAll();
    eal().cleanup();
  });

  it('batch 0, window 0 or negative, an empty server list → EINVAL naming the option', async () => {
    const b = await code(ringToStream(ring8, { servers: server.url, stream: 'S0', subject: 's0', batch: 0, create: true }));
    expect(b.code).toBe('EINVAL');
    expect(b.message).toMatch(/batch/);
    const w = await code(streamToRing(ring16, { servers: server.url, stream: 'S0', durable: 'd', window: -1 }));
    expect(w.code).toBe('EINVAL');
    expect(w.message).toMatch(/window/);
    const win = await code(ringToStream(ring8, { servers: server.url, stream: 'S0', subject: 's0', window: 0, create: true }));
    expect(win.code).toBe('EINVAL');
    expect(win.message).toMatch(/window/);
    const s = await code(ringToStream(ring8, { servers: [], stream: 'S0', subject: 's0' }));
    expect(s.code).toBe('EINVAL');
  });

  it('an unknown stream without create → EINVAL naming it, for both directions', async () => {
    const a = await code(ringToStream(ring8, { servers: server.url, stream: 'NOPE', subject: 'nope' }));
    expect(a.code).toBe('EINVAL');
    expect(a.message).toMatch(/stream 'NOPE' does not exist/);
    const b = await code(streamToRing(ring8, { servers: server.url, stream: 'NOPE2', durable: 'd' }));
    expect(b.code).toBe('EINVAL');
    expect(b.message).toMatch(/NOPE2/);
  });

  it('idleSpinUs not an integer in 0..10⁶ → EINVAL naming it', async () => {
    for (const v of [-1, 1.5, 1_000_001, '200']) {
      const e = await code(ringToStream(ring8, { servers: server.url, stream: 'SI', subject: 'si', create: true, idleSpinUs: v as number }));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toMatch(/idleSpinUs/);
    }
  });

  // Both bridges in this process with the ring's producer and consumer (the in-process arrangement: the
  // bridges' ring waits are woken by this process's enqueue / dequeue). idleSpinUs 0 sleeps on the ring
  // at once (waits counted); 10⁶ keeps polling while bursts come less than a second apart (no sleep).
  it.each([
    [0, 'sleeps on the ring at once'],
    [1_000_000, 'polls the ring between bursts'],
  ])('idleSpinUs %i (%s): elements produced and consumed in the bridges\' own process all arrive, in order', async (spin) => {
    const src = Ring.create(`is${spin}`, 256, { elemSize: 8, consumer: 'single' });
    const dst = Ring.create(`id${spin}`, 256, { elemSize: 8, producer: 'single' });
    const a = await ringToStream(src, { servers: server.url, stream: `SPIN${spin}`, subject: `spin.${spin}`, create: true, batch: 4, idleSpinUs: spin });
    const b = await streamToRing(dst, { servers: server.url, stream: `SPIN${spin}`, durable: 'd' });
    try {
      const got: number[] = [];
      const buf = new Uint32Array(2 * 64);
      for (let burst = 0; burst < 10; burst++) {
        const out = new Uint32Array(2 * 5);
        for (let i = 0; i < 5; i++) out[2 * i] = burst * 5 + i;
        expect(src.enqueueBulk(out, 5)).toBe(5);
        // Each burst is in B's ring before the next goes: the bridge is idle in between.
        while (got.length < (burst + 1) * 5) {
          const k = await dst.dequeueBurstAsync(buf, 64, { timeoutMs: 30_000 });
          expect(k).toBeGreaterThan(0);
          for (let i = 0; i < k; i++) got.push(buf[2 * i]!);
        }
      }
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
      if (spin === 0) expect(a.stats().waits).toBeGreaterThan(0);
      else expect(a.stats().waits).toBe(0);
      expect(a.stats().published).toBe(50); // (its acks may still be on their way)
    } finally {
      await a.close();
      await b.close();
    }
  });

  // batch × window ≥ the ring's capacity: the bridge can have every element of a full ring in flight, and
  // then only an ack frees room (a wait for one element more than in flight, clamped to the capacity,
  // returned at once: the bridge spun on it and never read its acks).
  it('a window that holds the whole ring (batch 16 × window 8 ≥ capacity 63): a full ring drains, ten times over, in order', async () => {
    const src = Ring.create('wfull', 64, { elemSize: 8, consumer: 'single' });
    const dst = Ring.create('wfulld', 1024, { elemSize: 8, producer: 'single' });
    const a = await ringToStream(src, { servers: server.url, stream: 'WFULL', subject: 'wfull', create: true, batch: 16, window: 8 });
    const b = await streamToRing(dst, { servers: server.url, stream: 'WFULL', durable: 'd' });
    try {
      const total = 63 * 10;
      const out = new Uint32Array(2 * 63);
      const buf = new Uint32Array(2 * 1024);
      const got: number[] = [];
      let sent = 0;
      while (got.length < total) {
        if (sent < total) {
          const n = Math.min(63, total - sent);
          for (let i = 0; i < n; i++) out[2 * i] = sent + i;
          let k = src.enqueueBurst(out, n);
          // Nothing on its way to B: wait for the bridge to release room (only its acks do).
          if (k === 0 && got.length === sent) {
            k = await src.enqueueBurstAsync(out, n, { timeoutMs: 30_000 });
            expect(k).toBeGreaterThan(0);
          }
          sent += k;
        }
        const k = await dst.dequeueBurstAsync(buf, 1024, { timeoutMs: 30_000 });
        expect(k).toBeGreaterThan(0);
        for (let i = 0; i < k; i++) got.push(buf[2 * i]!);
      }
      expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a ring whose consumer side cannot peek (multi) → EINVAL', async () => {
    const e = await code(ringToStream(ringMulti, { servers: server.url, stream: 'SM', subject: 'sm', create: true }));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toMatch(/'multi' consumer side/);
  });

  it('a stream of 8-byte elements and a ring of 16 → EPROTO naming both sizes', async () => {
    const a = await ringToStream(ring8, { servers: server.url, stream: 'S8', subject: 's8', create: true });
    await a.close();
    const e = await code(streamToRing(ring16, { servers: server.url, stream: 'S8', durable: 'd16' }));
    expect(e.code).toBe('EPROTO');
    expect(e.message).toMatch(/8-byte elements/);
    expect(e.message).toMatch(/16-byte elements/);
  });

  it('no server at the address → ENOTCONN naming it; waitForServer waits until one starts there', async () => {
    const port = await freePort();
    const e = await code(ringToStream(ring8, { servers: `127.0.0.1:${port}`, stream: 'SW', subject: 'sw', create: true }));
    expect(e.code).toBe('ENOTCONN');
    expect(e.message).toContain(`127.0.0.1:${port}`);
    // Something that is not a NATS server listens there first: it counts the attempts and hangs up.
    let attempts = 0;
    let attempted: () => void = () => undefined;
    const twoAttempts = new Promise<void>((r) => (attempted = () => ++attempts >= 2 && r()));
    const impostor = createServer((sock) => {
      attempted();
      sock.destroy();
    });
    await new Promise<void>((r) => impostor.listen(port, '127.0.0.1', r));
    let settled = false;
    const waiting = ringToStream(ring8, { servers: `127.0.0.1:${port}`, stream: 'SW', subject: 'sw', create: true, waitForServer: true, maxBackoffMs: 200 });
    void waiting.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Two attempts failed (the second one is a retry): the call neither resolved nor rejected.
    await twoAttempts;
    expect(settled).toBe(false);
    await new Promise<void>((r) => impostor.close(() => r()));
    await startServer({ name: 'late', host: '127.0.0.1', port });
    const bridge = await waiting;
    expect(bridge.stats().connected).toBe(true);
    await bridge.close();
  });

  it('actions: fds → ENOTSUP, an unbridged name → EINVAL, a param over 256 B → E2BIG', async () => {
    const ab = await bridgeActions(['opt_act'], { servers: server.url, group: 'solo' });
    try {
      await expect(ab.request({ name: 'opt_act', fds: [0] })).rejects.toMatchObject({ code: 'ENOTSUP' });
      await expect(ab.request({ name: 'other' })).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(ab.request({ name: 'opt_act', param: new Uint8Array(257) })).rejects.toMatchObject({ code: 'E2BIG' });
      expect(() => ab.sendMsg({ name: 'opt_act', fds: [1] })).toThrow(/cannot cross hosts/);
      // Nobody else bridges it: nothing sent, nothing received (as rte_mp with no peers).
      expect(await ab.request({ name: 'opt_act' })).toMatchObject({ nbSent: 0, nbReceived: 0 });
    } finally {
      await ab.close();
    }
    await expect(bridgeActions([], { servers: server.url })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(bridgeActions(['a/b'], { servers: server.url })).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
