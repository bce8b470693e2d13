/** Send n numbered frames through a memif interface and collect what comes back (test helper). */
import type { MemifInterface } from '../src/index.js';
import { checkFrame, frames } from './fixtures/frames.mjs';

export interface RoundTrip {
  sent: number;
  seqs: number[];
  bad: number;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Keep at most `window` frames in flight: send frames seq 0..n-1 of `len` bytes on tx queue 0, take
 * whatever comes back on rx queue 0, until all n came back or `timeoutMs` passed.
 */
export async function roundTrip(itf: MemifInterface, n: number, len: number, swapped: boolean, window = 128, timeoutMs = 20_000): Promise<RoundTrip> {
  const f = frames(n, 0, len);
  const room = Math.max(2048, len);
  const rbuf = new Uint8Array(32 * room);
  const roff = Uint32Array.from({ length: 32 }, (_, i) => i * room);
  const rlen = new Uint32Array(32);
  const seqs: number[] = [];
  let sent = 0;
  let bad = 0;
  const t0 = Date.now();
  while (seqs.length < n && Date.now() - t0 < timeoutMs) {
    const room2 = Math.min(n - sent, window - (sent - seqs.length), 32);
    if (room2 > 0) sent += itf.tx[0]?.txBurst(f.buf, f.offsets.subarray(sent), f.lens.subarray(sent), room2) ?? 0;
    const k = itf.rx[0]?.rxBurst(rbuf, roff, room, rlen, 32) ?? 0;
    for (let i = 0; i < k; i++) {
      const c = checkFrame(rbuf, roff[i]!, rlen[i]!, swapped);
      seqs.push(c.seq);
      if (!c.ok || rlen[i] !== len) bad++;
    }
    if (k === 0) await tick();
  }
  return { sent, seqs, bad };
}
