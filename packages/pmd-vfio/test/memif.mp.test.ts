/**
 * memif between real processes: an @mp server and an @mp client in two node processes; a client
 * SIGKILLed mid-traffic; and misbehaving peers — a raw SOCK_SEQPACKET process saying garbage, wrong
 * versions or secrets, bad regions and rings, or hanging up mid-handshake — against an @mp server in
 * this process (which must never crash and must take the next client), and raw servers against an
 * @mp client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { useAgents, useTempDir } from '@mp/test-utils';
import type { Agent } from '@mp/test-utils';
import { HANDSHAKE_TIMEOUT_MS, MemifInterface } from '../src/index.js';
import type { MemifOptions } from '../src/index.js';
import { MEMIF_VERSION, ringBytes } from '../src/memif/layout.js';
import type { MemifMsg } from '../src/memif/protocol.js';
import { roundTrip } from './traffic.js';

// Registered first, so (after-hooks run last-registered first) agents and interfaces go before their dirs.
const sockDir = useTempDir('memif');
const spawn = useAgents(join(import.meta.dirname, 'fixtures/agent.mjs'));
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
async function agent(): Promise<Agent> {
  const a = spawn();
  await a.waitEvent((e) => e.event === 'ready');
  return a;
}

describe('memif @mp server ↔ @mp client in another process', () => {
  it('20 000 numbered frames (64 B and chained 3000 B) go out and come back in order, content intact', async () => {
    const socket = sockPath();
    const srv = await agent();
    await srv.call('create', { opts: { role: 'server', socket } });
    await srv.call('start');
    const cli = await agent();
    await cli.call('create', { opts: { role: 'client', socket, bufferSize: 1024, reconnectMs: 0 } });
    await cli.call('start');
    await Promise.all([srv.call('waitUp', {}), cli.call('waitUp', {})]);
    await srv.call('echo', { on: true });
    expect(await cli.call('roundTrip', { n: 20_000, len: 64 })).toEqual({ sent: 20_000, n: 20_000, inOrder: true, bad: 0 });
    expect(await cli.call('roundTrip', { n: 2000, len: 3000, window: 64 })).toEqual({ sent: 2000, n: 2000, inOrder: true, bad: 0 });
    const st = (await srv.call('stats')) as { rx: Array<{ packets: number; errors: number }> };
    expect(st.rx[0]).toMatchObject({ packets: 22_000, errors: 0 });
  });

  it('a client SIGKILLed mid-traffic: the server goes down ("Peer closed the connection") and serves the next client', async () => {
    const socket = sockPath();
    const srv = mk({ role: 'server', socket });
    srv.start();
    const echo = startEcho(srv);
    const cli = await agent();
    await cli.call('create', { opts: { role: 'client', socket, reconnectMs: 0 } });
    await cli.call('start');
    await cli.call('waitUp', {});
    const down = srv.waitDown();
    void cli.request('roundTrip', { n: 10_000_000 }).catch(() => undefined);
    await cli.kill('SIGKILL');
    expect(await down).toEqual({ reason: 'Peer closed the connection', by: 'remote' });
    const next = await agent();
    await next.call('create', { opts: { role: 'client', socket, reconnectMs: 0 } });
    await next.call('start');
    await next.call('waitUp', {});
    expect(await next.call('roundTrip', { n: 1000 })).toEqual({ sent: 1000, n: 1000, inOrder: true, bad: 0 });
    echo.stop();
  });
});

/** An in-process echo on queue 0 (for a server living in the test process). */
function startEcho(itf: MemifInterface): { stop(): void } {
  let on = true;
  const room = 4096;
  const buf = new Uint8Array(32 * room);
  const off = Uint32Array.from({ length: 32 }, (_, i) => i * room);
  const lens = new Uint32Array(32);
  const loop = (): void => {
    if (!on) return;
    const rx = itf.rx[0];
    const tx = itf.tx[0];
    if (rx && tx) {
      for (let r = 0; r < 64; r++) {
        const k = rx.rxBurst(buf, off, room, lens, 32);
        if (k === 0) break;
        for (let s = 0, tries = 0; s < k && tries < 1000; tries++) s += tx.txBurst(buf, off.subarray(s), lens.subarray(s), k - s);
      }
    }
    setImmediate(loop);
  };
  loop();
  return { stop: () => (on = false) };
}

const init = (o: Partial<Extract<MemifMsg, { type: 'init' }>> = {}): MemifMsg => ({ type: 'init', version: MEMIF_VERSION, id: 0, mode: 0, secret: 'sesame', name: 'raw', ...o });
const region = (size = 1 << 20): MemifMsg => ({ type: 'add-region', index: 0, size });
const ring = (o: Partial<Extract<MemifMsg, { type: 'add-ring' }>> = {}): MemifMsg => ({ type: 'add-ring', c2s: true, index: 0, region: 0, offset: 0, log2RingSize: 10, privateHdrSize: 0, ...o });

type Step = { msg?: MemifMsg; hex?: string; pass?: string; size?: number } | 'close';

describe('a misbehaving client (raw seqpacket process) against an @mp server', () => {
  // Each case: what the raw client sends (each message answered by ACK), the reason the server gives.
  const cases: Array<[string, Step[], string]> = [
    ['garbage: an unknown message type', [{ hex: '63'.padEnd(256, '5a') }], 'Unknown message type'],
    ['a 10-byte packet', [{ hex: '03000002'.padEnd(20, '0') }], 'Invalid message size'],
    ['a message before INIT', [{ msg: region() }], 'Unexpected message'],
    ['memif version 1.0', [{ msg: init({ version: 0x0100 }) }], 'Incompatible memif version'],
    ['a wrong secret', [{ msg: init({ secret: 'open' }) }], 'Incorrect secret'],
    ['no secret', [{ msg: init({ secret: '' }) }], 'Secret required'],
    ['an unknown id', [{ msg: init({ id: 77 }) }], 'ID not found'],
    ['ip mode', [{ msg: init({ mode: 1 }) }], 'Only ethernet mode supported'],
    ['ADD_REGION without its fd', [{ msg: init() }, { msg: region() }], 'Missing region fd'],
    ['a region file not sealed against shrinking', [{ msg: init() }, { msg: region(), pass: 'memfd-unsealed' }], 'Region fd is not a memfd sealed against shrinking'],
    ['a region larger than its memfd', [{ msg: init() }, { msg: region(1 << 22), pass: 'memfd', size: 1 << 20 }], 'Invalid region size'],
    ['region index 1 first', [{ msg: init() }, { msg: { type: 'add-region', index: 1, size: 4096 }, pass: 'memfd', size: 4096 }], 'Invalid region index'],
    ['a ring past the end of its region', [{ msg: init() }, { msg: region(), pass: 'memfd' }, { msg: ring({ offset: (1 << 20) - 64 }), pass: 'eventfd' }], 'Invalid ring'],
    ['a ring in a region never added', [{ msg: init() }, { msg: region(), pass: 'memfd' }, { msg: ring({ region: 3 }), pass: 'eventfd' }], 'Invalid ring'],
    ['a ring index beyond the queues', [{ msg: init() }, { msg: region(), pass: 'memfd' }, { msg: ring({ index: 9 }), pass: 'eventfd' }], 'Invalid ring index'],
    ['a memfd as interrupt fd', [{ msg: init() }, { msg: region(), pass: 'memfd' }, { msg: ring(), pass: 'memfd' }], 'Interrupt fd is not an eventfd'],
    ['CONNECT with no rings', [{ msg: init() }, { msg: region(), pass: 'memfd' }, { msg: { type: 'connect', ifName: 'x' } }], 'Missing ring'],
    [
      'CONNECT over rings without the cookie',
      [
        { msg: init() },
        { msg: region(), pass: 'memfd' },
        { msg: ring(), pass: 'eventfd' },
        { msg: ring({ c2s: false, offset: ringBytes(10) }), pass: 'eventfd' },
        { msg: { type: 'connect', ifName: 'x' } },
      ],
      'Wrong ring',
    ],
    ['hanging up after INIT', [{ msg: init() }, 'close'], 'Peer closed the connection'],
    ['hanging up after ADD_REGION', [{ msg: init() }, { msg: region(), pass: 'memfd' }, 'close'], 'Peer closed the connection'],
  ];

  it.each(cases.map(([n, st, r]) => [n, r, st] as const))('%s → "%s"; the server takes the next client', async (_name, reason, steps) => {
    const socket = sockPath();
    const srv = mk({ role: 'server', socket, secret: 'sesame' });
    srv.start();
    const downs: string[] = [];
    srv.on('down', (d) => downs.push(d.reason));
    const raw = await agent();
    await raw.call('rawConnect', { path: socket });
    expect(await raw.call('rawRecv', {})).toMatchObject({ type: 'hello', minVersion: MEMIF_VERSION, maxVersion: MEMIF_VERSION });
    let got: unknown;
    for (const [i, s] of steps.entries()) {
      if (s === 'close') {
        const down = srv.waitDown();
        await raw.call('rawClose');
        expect(await down).toEqual({ reason, by: 'remote' });
        break;
      }
      expect(await raw.call('rawSend', s)).toBe(0);
      got = await raw.call('rawRecv', {});
      if (i < steps.length - 1) expect(got).toEqual({ type: 'ack' });
    }
    if (steps.at(-1) !== 'close') {
      expect(got).toEqual({ type: 'disconnect', code: 0, reason });
      expect(await raw.call('rawRecv', {})).toEqual({ eof: true });
    }
    // Failures after a good INIT belong to the interface, which reports them as its own (local) down;
    // a connection refused at INIT or before never was the interface's.
    expect(downs).toEqual(steps.length > 1 ? [reason] : []);
    // The server lives on and serves a well-behaved client.
    const good = mk({ role: 'client', socket, secret: 'sesame', reconnectMs: 0 });
    good.start();
    await Promise.all([srv.waitUp(), good.waitUp()]);
    startEcho(srv);
    const r = await roundTrip(good, 500, 64, false);
    expect(r.seqs.length).toBe(500);
    expect(r.bad).toBe(0);
  });

  it('a peer that says nothing after HELLO is no problem for others (a second client connects meanwhile) and is dropped after the handshake timeout', async () => {
    const socket = sockPath();
    const srv = mk({ role: 'server', socket });
    srv.start();
    const raw = await agent();
    await raw.call('rawConnect', { path: socket });
    await raw.call('rawRecv', {});
    const good = mk({ role: 'client', socket, reconnectMs: 0 });
    good.start();
    await Promise.all([srv.waitUp(), good.waitUp()]);
    // …and is told why it is dropped once HANDSHAKE_TIMEOUT_MS passed without a message.
    expect(await raw.call('rawRecv', { timeoutMs: HANDSHAKE_TIMEOUT_MS + 10_000 }, HANDSHAKE_TIMEOUT_MS + 15_000)).toEqual({ type: 'disconnect', code: 0, reason: 'Handshake timeout' });
    expect(await raw.call('rawRecv', {})).toEqual({ eof: true });
    expect(good.link).toBe('up');
  });
});

describe('a misbehaving server (raw seqpacket process) against an @mp client', () => {
  const cases: Array<[string, Step[], string]> = [
    ['garbage instead of HELLO', [{ hex: 'ff'.repeat(128) }], 'Unknown message type'],
    ['HELLO for memif 3.0 only', [{ msg: { type: 'hello', name: 'x', minVersion: 0x0300, maxVersion: 0x0300, maxRegion: 0, maxS2cRing: 0, maxC2sRing: 0, maxLog2RingSize: 10 } }], 'Incompatible memif version'],
    ['CONNECTED instead of HELLO', [{ msg: { type: 'connected', ifName: 'x' } }], 'Unexpected message'],
    ['a descriptor with HELLO', [{ msg: { type: 'hello', name: 'x', minVersion: MEMIF_VERSION, maxVersion: MEMIF_VERSION, maxRegion: 0, maxS2cRing: 0, maxC2sRing: 0, maxLog2RingSize: 10 }, pass: 'eventfd' }], 'Unexpected descriptor'],
  ];

  it.each(cases.map(([n, st, r]) => [n, r, st] as const))('%s → client down with "%s"', async (_n, reason, steps) => {
    const socket = sockPath();
    const raw = await agent();
    await raw.call('rawListen', { path: socket });
    const cli = mk({ role: 'client', socket, reconnectMs: 0 });
    const down = cli.waitDown();
    cli.start();
    await raw.waitEvent((e) => e.event === 'accepted');
    for (const s of steps) expect(await raw.call('rawSend', s as Record<string, unknown>)).toBe(0);
    expect(await down).toEqual({ reason, by: 'local' });
    expect(await raw.call('rawRecv', {})).toEqual({ type: 'disconnect', code: 0, reason });
  });

  it('a server that hangs up mid-handshake (after HELLO and the INIT) → "Peer closed the connection"', async () => {
    const socket = sockPath();
    const raw = await agent();
    await raw.call('rawListen', { path: socket });
    const cli = mk({ role: 'client', socket, reconnectMs: 0 });
    const down = cli.waitDown();
    cli.start();
    await raw.waitEvent((e) => e.event === 'accepted');
    await raw.call('rawSend', { msg: { type: 'hello', name: 'x', minVersion: MEMIF_VERSION, maxVersion: MEMIF_VERSION, maxRegion: 0, maxS2cRing: 0, maxC2sRing: 0, maxLog2RingSize: 10 } });
    expect(await raw.call('rawRecv', {})).toMatchObject({ type: 'init', version: MEMIF_VERSION });
    await raw.call('rawClose');
    expect(await down).toEqual({ reason: 'Peer closed the connection', by: 'remote' });
  });

  it('what the client hands a server: INIT, one region of rings then buffers, C2S and S2C rings, CONNECT — one per ACK', async () => {
    // The raw server ACKs each message; the next one only comes after the ACK.
    const socket = sockPath();
    const raw = await agent();
    await raw.call('rawListen', { path: socket });
    const cli = mk({ role: 'client', socket, reconnectMs: 0, log2RingSize: 4, bufferSize: 256 });
    cli.start();
    await raw.waitEvent((e) => e.event === 'accepted');
    await raw.call('rawSend', { msg: { type: 'hello', name: 'x', minVersion: MEMIF_VERSION, maxVersion: MEMIF_VERSION, maxRegion: 0, maxS2cRing: 0, maxC2sRing: 0, maxLog2RingSize: 14 } });
    const seen: unknown[] = [];
    for (;;) {
      const m = (await raw.call('rawRecv', {})) as { type: string };
      seen.push(m);
      if (m.type === 'connect') break;
      await raw.call('rawSend', { msg: { type: 'ack' } });
    }
    expect(seen).toEqual([
      { type: 'init', version: MEMIF_VERSION, id: 0, mode: 0, secret: '', name: 'mp-pmd-vfio' },
      { type: 'add-region', index: 0, size: 2 * ringBytes(4) + 2 * 16 * 256 },
      { type: 'add-ring', c2s: true, index: 0, region: 0, offset: 0, log2RingSize: 4, privateHdrSize: 0 },
      { type: 'add-ring', c2s: false, index: 0, region: 0, offset: ringBytes(4), log2RingSize: 4, privateHdrSize: 0 },
      { type: 'connect', ifName: 'memif0' },
    ]);
  });
});

describe('a hostile client writing the shared rings (raw process, after a correct handshake)', () => {
  async function setup(): Promise<{ srv: MemifInterface; raw: Agent; size: number }> {
    const socket = sockPath();
    const srv = mk({ role: 'server', socket });
    srv.start();
    const raw = await agent();
    const { size } = (await raw.call('rawHandshake', { path: socket, log2: 4, bufferSize: 256 })) as { size: number };
    await srv.waitUp();
    return { srv, raw, size };
  }
  const room = 4096;
  const dst = new Uint8Array(32 * room);
  const off = Uint32Array.from({ length: 32 }, (_, i) => i * room);
  const lens = new Uint32Array(32);

  it('C2S: descriptors outside the regions are dropped and counted, an index past the ring is refused, an unfinished chain waits', async () => {
    const { srv, raw, size } = await setup();
    const rx = srv.rx[0]!;
    const poke = (o: object): Promise<unknown> => raw.call('rawPoke', { ring: 0, ...o });
    await poke({ slot: 0, flags: 0, length: 64, fill: 0x11, head: 1 });
    expect(rx.rxBurst(dst, off, room, lens, 32)).toBe(1);
    expect([lens[0], dst[0], dst[63]]).toEqual([64, 0x11, 0x11]);
    // Past the end of region 0, then a region that does not exist, then a length past the end.
    await poke({ slot: 1, offset: size - 10, length: 64 });
    await poke({ slot: 2, region: 7, length: 64 });
    await poke({ slot: 3, length: 0xffffffff, head: 4 });
    expect(rx.rxBurst(dst, off, room, lens, 32)).toBe(0);
    expect(rx.stats()).toMatchObject({ packets: 1n, errors: 3n });
    expect(await raw.call('rawPeek', { ring: 0 })).toMatchObject({ tail: 4 }); // the slots went back
    // A head 5000 slots ahead: nothing there is believed, nothing consumed.
    await poke({ slot: 4, head: 4 + 5000 });
    expect(rx.rxBurst(dst, off, room, lens, 32)).toBe(0);
    expect(rx.stats().errors).toBe(4n);
    expect(await raw.call('rawPeek', { ring: 0 })).toMatchObject({ tail: 4 });
    // A chain whose last slot is not published yet waits; once it is, the frame comes whole.
    await poke({ slot: 4, flags: 1, region: 0, offset: 2 * (128 + 16 * 16) + 4 * 256, length: 256, fill: 0x22, head: 5 });
    expect(rx.rxBurst(dst, off, room, lens, 32)).toBe(0);
    await poke({ slot: 5, flags: 0, region: 0, offset: 2 * (128 + 16 * 16) + 5 * 256, length: 10, fill: 0x33, head: 6 });
    expect(rx.rxBurst(dst, off, room, lens, 32)).toBe(1);
    expect([lens[0], dst[255], dst[256], dst[265], dst[266]]).toEqual([266, 0x22, 0x33, 0x33, 0]);
    expect(rx.stats()).toMatchObject({ packets: 2n, errors: 4n });
  });

  it('S2C: a buffer length past the region stops the server tx (counted), the good ones before it arrive', async () => {
    const { srv, raw } = await setup();
    const tx = srv.tx[0]!;
    // The client hands over 4 buffers; the third claims 2 GiB.
    await raw.call('rawPoke', { ring: 1, slot: 2, length: 0x7fffffff, head: 4 });
    const f = new Uint8Array(64 * 4).fill(0x44);
    const o = Uint32Array.from([0, 64, 128, 192]);
    const l = new Uint32Array(4).fill(64);
    expect(tx.txBurst(f, o, l, 4)).toBe(2);
    expect(tx.stats()).toMatchObject({ packets: 2n, errors: 1n });
    expect(await raw.call('rawPeek', { ring: 1 })).toMatchObject({ tail: 2 });
    expect(srv.link).toBe('up');
  });
});
