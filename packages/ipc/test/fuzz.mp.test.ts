/**
 * Decoder fuzz against a live receiver: ≥ 10^5 random and mutated datagrams (some carrying fds, some
 * more than 8) into a real process. It must not crash, must not leak a descriptor, and must still answer.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { useAgents, useTempDir } from '@mp/test-utils';
import { binding } from '../src/binding.js';
import { encode, nameBytes } from '../src/codec.js';
import { EXT, MP_MSG, MP_REQ, WIRE } from '../src/layout.js';

const AGENT = join(import.meta.dirname, 'fixtures/agent.mjs');
// Registered before the agents, so (after-hooks run last-registered first) agents die before their dirs go.
const runtimeDir = useTempDir('fuzz');
const spawnAgent = useAgents(AGENT);

/** xorshift32: a seeded, reproducible stream. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('decoder fuzz', () => {
  it('10^5 random and mutated datagrams: no crash, no fd leak, still answering', async () => {
    const dir = runtimeDir();
    chmodSync(dir, 0o700);
    const rx = spawnAgent();
    const tx = spawnAgent();
    const rxPath = await rx.call<string>('start', { runtimeDir: dir, procType: 'primary' });
    await rx.call('register', { name: 'fz', mode: 'counter' });
    await rx.call('register', { name: 'echo', mode: 'echo' });
    await tx.call('start', { runtimeDir: dir, procType: 'secondary' });
    const fdsBefore = await rx.call<number>('fdCount');

    const sock = binding.open(null, 0o600); // unbound: nothing can be sent back to it
    const memfds = Array.from({ length: 12 }, (_, i) => binding.memfdCreate(`fz${i}`));
    const addr = new Uint8Array([1, 0, ...Buffer.from(rxPath), 0]);
    const valid = new Uint8Array(WIRE.size);
    const dv = new DataView(valid.buffer);
    const buf = new Uint8Array(400);
    const next = rng(0x6d70);
    const N = 100_000;
    let clean = 0;
    let withFds = 0;
    try {
      for (let i = 0; i < N; i++) {
        const kind = next() % 8;
        let data: Uint8Array;
        let fds: Int32Array | null = null;
        if (kind === 0) {
          // Pure noise of any length, 332 included.
          const len = next() % 2 === 0 ? WIRE.size : next() % buf.length;
          for (let j = 0; j < len; j++) buf[j] = next() & 0xff;
          data = buf.subarray(0, len);
        } else {
          const type = next() % 2 === 0 ? MP_MSG : MP_REQ;
          const name = next() % 4 === 0 ? nameBytes('y'.repeat(60)) : nameBytes(next() % 2 ? 'fz' : 'nope');
          const plen = next() % 257;
          const param = new Uint8Array(plen);
          encode(valid, dv, type, name, param, 0, { id: next(), flags: next() & 1 });
          data = valid;
          if (kind === 1 && type === MP_MSG && name.length === 2 && name[0] === 0x66) {
            clean++; // left intact: a good 'fz' message
          } else {
            // Mutate: flip 1..4 bytes, mostly in the header, name tail, counts and extension.
            const flips = 1 + (next() % 4);
            for (let f = 0; f < flips; f++) {
              const hot = [WIRE.type, WIRE.name, WIRE.name + 2, WIRE.lenParam, WIRE.lenParam + 3, WIRE.numFds, WIRE.numFds + 3, WIRE.name + 64 - EXT.size, WIRE.param + 256 - EXT.size + 8];
              const at = next() % 3 === 0 ? next() % WIRE.size : hot[next() % hot.length]!;
              valid[at] = next() & 0xff;
            }
          }
          // Descriptors: matching, mismatching, or too many.
          if (i % 50 === 0) {
            const k = next() % 13;
            fds = Int32Array.from(memfds.slice(0, k));
            dv.setInt32(WIRE.numFds, next() % 3 === 0 ? k : next() % 10, true);
            withFds++;
          }
        }
        let r = binding.send(sock, addr, data, fds, true);
        while (r === -11) r = binding.send(sock, addr, data, fds, true);
        expect(r).toBe(0);
      }
    } finally {
      binding.close(sock);
      for (const fd of memfds) binding.close(fd);
    }
    expect(withFds).toBeGreaterThan(1000);
    // FIFO: this request is queued behind every fuzz datagram.
    const count = await tx.call<{ ok: boolean; msgs: Array<{ text: string }> }>('request', { name: 'fz', timeoutMs: 60_000 }, 120_000);
    expect(count).toMatchObject({ ok: true });
    expect(Number(count.msgs[0]!.text)).toBeGreaterThanOrEqual(clean);
    expect(await tx.call('request', { name: 'echo', text: 'alive', to: rx.pid })).toMatchObject({ ok: true, msgs: [{ text: `echo:alive:${rx.pid}` }] });
    expect(await rx.call<number>('fdCount')).toBe(fdsBefore);
    // Drops were logged, but rate-limited.
    expect(rx.stderr.some((l) => l.includes('dropped a datagram'))).toBe(true);
    expect(rx.stderr.length).toBeLessThan(2000);
  }, 170_000);
});
