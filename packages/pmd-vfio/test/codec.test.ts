import { describe, expect, it } from 'vitest';
import { binding } from '../src/binding.js';
import { decode, encode } from '../src/memif/protocol.js';
import type { MemifMsg } from '../src/memif/protocol.js';
import { MEMIF_VERSION, MSG, MSG_SIZE, OFF, planRegion, ringBytes } from '../src/memif/layout.js';

describe('layout', () => {
  it('the compiler agrees with layout.ts (DPDK 22.11 memif.h: memif_msg_t 128 B, desc 16 B, ring header 128 B)', () => {
    // The binding refused to load on any difference; these are the numbers memif.h gives by hand.
    expect(binding.layout).toMatchObject({ msgSize: 128, descSize: 16, ringHdrSize: 128, ringHead: 6, ringTail: 64, initSecret: 9, initName: 33, regionSize: 4, discString: 6, ringPrivHdr: 13 });
  });

  it('region 0 as DPDK lays it out: rings (C2S then S2C), then buffers in ring order', () => {
    const p = planRegion(2, 1, 10, 2048);
    expect(ringBytes(10)).toBe(128 + 16 * 1024);
    expect(p.ringOffset('c2s', 1)).toBe(ringBytes(10));
    expect(p.ringOffset('s2c', 0)).toBe(2 * ringBytes(10));
    expect(p.bufferOffset('c2s', 0, 0)).toBe(3 * ringBytes(10));
    expect(p.bufferOffset('s2c', 0, 5)).toBe(3 * ringBytes(10) + (2 * 1024 + 5) * 2048);
    expect(p.size).toBe(3 * ringBytes(10) + 3 * 1024 * 2048);
  });
});

const samples: MemifMsg[] = [
  { type: 'ack' },
  { type: 'hello', name: 'DPDK 22.11.11', minVersion: MEMIF_VERSION, maxVersion: MEMIF_VERSION, maxRegion: 255, maxS2cRing: 255, maxC2sRing: 255, maxLog2RingSize: 14 },
  { type: 'init', version: MEMIF_VERSION, id: 0xfffffffe, mode: 0, secret: 'sesame\xff', name: 'app' },
  { type: 'add-region', index: 3, size: 2 ** 33 + 5 },
  { type: 'add-ring', c2s: true, index: 7, region: 0, offset: 0x12345678, log2RingSize: 10, privateHdrSize: 0 },
  { type: 'add-ring', c2s: false, index: 0, region: 1, offset: 128, log2RingSize: 14, privateHdrSize: 0 },
  { type: 'connect', ifName: 'net_memif0' },
  { type: 'connected', ifName: 'memif9' },
  { type: 'disconnect', code: 5, reason: 'Incorrect secret' },
];

describe('codec', () => {
  it.each(samples.map((m) => [m.type, m] as const))('%s round-trips', (_t, m) => {
    const b = encode(m);
    expect(b.byteLength).toBe(MSG_SIZE);
    expect(decode(b, MSG_SIZE)).toEqual({ ok: true, msg: m });
  });

  it('puts fields where memif.h has them (INIT: version@2 id@4 mode@8 secret@9 name@33)', () => {
    const b = encode({ type: 'init', version: 0x0200, id: 0x01020304, mode: 0, secret: 'ab', name: 'n' });
    expect([...b.subarray(0, 12)]).toEqual([MSG.INIT, 0, 0x00, 0x02, 4, 3, 2, 1, 0, 0x61, 0x62, 0]);
    expect(b[OFF.initName]).toBe(0x6e);
  });

  it('cuts strings as strlcpy (field size - 1 bytes, NUL-terminated)', () => {
    const m = decode(encode({ type: 'disconnect', code: 0, reason: 'x'.repeat(200) }), MSG_SIZE);
    expect(m.ok && m.msg.type === 'disconnect' && m.msg.reason).toBe('x'.repeat(95));
  });

  it.each([
    ['a short packet', 127, 'Invalid message size'],
    ['a long packet', 129, 'Invalid message size'],
    ['an empty packet', 0, 'Invalid message size'],
  ])('refuses %s with a reason', (_n, len, reason) => {
    expect(decode(encode({ type: 'ack' }), len)).toEqual({ ok: false, reason });
  });

  it('refuses type NONE, unknown types and a region size past 2^53', () => {
    const b = new Uint8Array(MSG_SIZE);
    expect(decode(b, MSG_SIZE)).toEqual({ ok: false, reason: 'Unknown message type' });
    b[0] = 9;
    expect(decode(b, MSG_SIZE)).toEqual({ ok: false, reason: 'Unknown message type' });
    const r = encode({ type: 'add-region', index: 0, size: 1 });
    r.fill(0xff, OFF.regionSize, OFF.regionSize + 8);
    expect(decode(r, MSG_SIZE)).toEqual({ ok: false, reason: 'Invalid region size' });
  });

  it('fuzz (seeded): random and mutated packets never throw; whatever decodes re-encodes to a decodable packet', () => {
    let seed = 0x5eed1234;
    const rnd = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    let decoded = 0;
    for (let i = 0; i < 50_000; i++) {
      const base = i % 2 === 0 ? new Uint8Array(MSG_SIZE).map(() => (rnd() * 256) | 0) : encode(samples[i % samples.length]!);
      if (i % 2 === 1) for (let k = 0; k < 1 + ((rnd() * 6) | 0); k++) base[(rnd() * MSG_SIZE) | 0] = (rnd() * 256) | 0;
      if (rnd() < 0.2) base[0] = (rnd() * 10) | 0;
      base[1] = rnd() < 0.9 ? 0 : base[1]!;
      const len = rnd() < 0.05 ? (rnd() * 200) | 0 : MSG_SIZE;
      const d = decode(base, len);
      if (d.ok) {
        decoded++;
        const again = decode(encode(d.msg), MSG_SIZE);
        expect(again.ok).toBe(true);
      } else {
        expect(typeof d.reason).toBe('string');
      }
    }
    expect(decoded).toBeGreaterThan(10_000);
  });
});
