/**
 * The memory-order path the hash takes: TSO's plain loads and stores on x86, Atomics elsewhere — and on x86
 * too under MP_TEST_ORDER=atomics, which the vitest project hash-atomics sets to run this whole suite through
 * the Atomics path (@mp/memory's order.ts). Fails if the switch did not reach this process, a spawned
 * agent, or the table's publish and re-read primitives.
 */
import { join } from 'node:path';
import { TSO } from '@mp/memory/internal';
import { useAgents } from '@mp/test-utils';
import { describe, expect, it } from 'vitest';
import { publish, reread } from '../src/view.js';

const forced = process.env.MP_TEST_ORDER === 'atomics';
const x86 = process.arch === 'x64' || process.arch === 'ia32';
const expected = x86 && !forced;
const path = expected ? 'plain loads and stores (TSO)' : 'Atomics';
const agent = useAgents(join(import.meta.dirname, 'fixtures/agent.mjs'));

/** Run `fn` with Atomics.load and Atomics.store counted. */
function counted(fn: () => void): { loads: number; stores: number } {
  const { load, store } = Atomics;
  const n = { loads: 0, stores: 0 };
  Atomics.load = ((a: Uint32Array, i: number) => (n.loads++, load(a, i))) as typeof Atomics.load;
  Atomics.store = ((a: Uint32Array, i: number, v: number) => (n.stores++, store(a, i, v))) as typeof Atomics.store;
  try {
    fn();
  } finally {
    Object.assign(Atomics, { load, store });
  }
  return n;
}

describe(`memory order (${process.arch}, MP_TEST_ORDER=${process.env.MP_TEST_ORDER ?? 'unset'}): ${path}`, () => {
  it(`TSO is ${expected} in this process and in a spawned agent`, async () => {
    expect(TSO).toBe(expected);
    expect(await agent().call('order', {})).toEqual({ tso: expected });
  });

  it(`publish and the seqlock's re-read use ${expected ? 'plain accesses' : 'Atomics.store and Atomics.load'}`, () => {
    const u32 = new Uint32Array(new SharedArrayBuffer(16));
    const r32 = new Uint32Array(u32.buffer);
    let seen = 0;
    const n = counted(() => {
      publish(u32, 1, 42);
      seen = reread(u32, r32, 1);
    });
    expect(seen).toBe(42);
    expect(n).toEqual(expected ? { loads: 0, stores: 0 } : { loads: 1, stores: 1 });
  });
});
