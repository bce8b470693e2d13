/**
 * net_af_xdp's pieces in one process: the ring index protocol over a ring laid out as the kernel lays
 * it out (free-running u32 indices, wrap-around at 2^32), the frame set a new poller rebuilds from, the
 * native burst copy's bounds, and (root) that the kernel's verifier accepts our XDP program.
 */
import { describe, expect, it } from 'vitest';
import { XskRing } from '../src/af_xdp/rings.js';
import { afXdpUnavailable, binding, xdp } from '../src/internal.js';

/** A ring of `size` entries of `words` u32 words, producer at byte 0, consumer at 64, entries at 192. */
function ring(size: number, words: number): XskRing {
  const buf = new ArrayBuffer(192 + size * words * 4);
  return new XskRing({ buf, producer: 0, consumer: 64, flags: 128, desc: 192 }, size, words);
}

describe('XskRing', () => {
  for (const start of [0, 0xffff_fff0]) {
    it(`producer/consumer counts across the u32 wrap (indices from 0x${start.toString(16)})`, () => {
      const r = ring(16, 2);
      r.publishProducer(start);
      r.publishConsumer(start);
      expect(r.available(start)).toBe(0);
      expect(r.free(start)).toBe(16);
      for (let i = 0; i < 10; i++) r.u32[r.at(start + i)] = i * 2048;
      r.publishProducer(start + 10);
      expect(r.producer()).toBe((start + 10) >>> 0);
      expect(r.available(start)).toBe(10);
      expect(r.free((start + 10) >>> 0)).toBe(6);
      // Entries land at index & mask, whatever the wrap.
      expect(r.at(start + 16)).toBe(r.at(start));
      r.publishConsumer(start + 4);
      expect(r.available((start + 4) >>> 0)).toBe(6);
      expect(r.free((start + 10) >>> 0)).toBe(10);
    });
  }

  it('queuedFrames lists the frames between consumer and producer, rounding rx addresses (past the headroom) down', () => {
    const r = ring(8, 4);
    r.publishConsumer(6);
    for (const [i, a] of [[6, 2048 + 256], [7, 4096], [8, 3 * 2048 + 256]] as const) r.u32[r.at(i)] = a;
    r.u32[r.at(9)] = 9 * 2048; // beyond the producer: not queued
    r.publishProducer(9);
    const s = new Set<number>();
    r.queuedFrames(s, 2048);
    expect([...s].sort((a, b) => a - b)).toEqual([2048, 4096, 3 * 2048]);
  });
});

describe('xdpCopy', () => {
  it('copies each range and stops at the first one outside its buffer', () => {
    const src = new Uint8Array(64).map((_, i) => i);
    const dst = new Uint8Array(32);
    const n = xdp.xdpCopy(src.buffer, Uint32Array.of(0, 10, 60), dst.buffer, Uint32Array.of(0, 8, 20), Uint32Array.of(4, 4, 8), 3);
    expect(n).toBe(2); // 60 + 8 > 64
    expect([...dst.subarray(0, 12)]).toEqual([0, 1, 2, 3, 0, 0, 0, 0, 10, 11, 12, 13]);
    expect([...dst.subarray(20)].every((b) => b === 0)).toBe(true);
  });
});

const why = afXdpUnavailable();
describe('the XDP program', () => {
  it.skipIf(why !== undefined)(`loads through the verifier with an XSKMAP (raw bpf(), no libbpf)${why ? ` (skipped: ${why})` : ''}`, () => {
    const map = xdp.xdpMapCreate(4);
    try {
      const prog = xdp.xdpProgLoad(map);
      expect(prog).toBeGreaterThan(2);
      binding.close(prog);
    } finally {
      binding.close(map);
    }
  });
});
