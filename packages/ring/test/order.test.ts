/**
 * The memory-order path the ring takes: TSO's plain loads and stores on x86, Atomics elsewhere — and on x86
 * too under MP_TEST_ORDER=atomics, which the vitest project ring-atomics sets to run this whole suite through
 * the Atomics path (@mp/memory's order.ts). Fails if the switch did not reach this process, a spawned
 * agent, its worker threads, or the ring's own hot path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { init } from '@mp/eal';
import type { Eal } from '@mp/eal';
import { TSO } from '@mp/memory/internal';
import { uniquePrefix, useAgents } from '@mp/test-utils';
import { Ring } from '../src/index.js';

const forced = process.env.MP_TEST_ORDER === 'atomics';
const x86 = process.arch === 'x64' || process.arch === 'ia32';
const expected = x86 && !forced;
const path = expected ? 'plain loads and stores (TSO)' : 'Atomics';
const agent = useAgents(join(import.meta.dirname, 'fixtures/ring-agent.mjs'));

let group: Eal;
beforeAll(() => {
  group = init([`--file-prefix=${uniquePrefix('ro')}`, '--no-huge', '-m', '64']);
});
afterAll(() => group.cleanup());

describe(`memory order (${process.arch}, MP_TEST_ORDER=${process.env.MP_TEST_ORDER ?? 'unset'}): ${path}`, () => {
  it(`TSO is ${expected} in this process, in a spawned agent and in the agent's worker thread`, async () => {
    expect(TSO).toBe(expected);
    expect(await agent().call('order', {})).toEqual({ tso: expected, worker: expected });
  });

  it(`a single-producer enqueue publishes its tail with ${expected ? 'a plain store' : 'Atomics.store'}`, () => {
    const r = Ring.create('order', 64, { producer: 'single', consumer: 'single' });
    const store = Atomics.store;
    let stores = 0;
    Atomics.store = ((a: Int32Array, i: number, v: number) => {
      stores++;
      return store(a, i, v);
    }) as typeof Atomics.store;
    try {
      expect(r.enqueueBurst(new Uint32Array([7]), 1)).toBe(1);
    } finally {
      Atomics.store = store;
    }
    const out = new Uint32Array(1);
    expect(r.dequeueBurst(out, 1)).toBe(1);
    expect(out[0]).toBe(7);
    expect(stores > 0).toBe(!expected);
  });
});
