/**
 * The process-wide (per thread: `globalThis` is per isolate) state of @mp/mempool, in @mp/memory's
 * process slot (DESIGN §12): the pools this thread has open, the group's registry and its exit hook. An
 * ESM `import` and a CJS `require` of this package, or two nested copies of one layout, share it — a pool
 * made through one is the pool the other's handles resolve to; a copy of another layout is refused at load
 * with EPROTO naming both.
 *
 * Layout 1: { byId, byName, exitHooked, registry, regWords, seenGen, registries }.
 */
import { createRequire } from 'node:module';
import { processSlot } from '@mp/memory/internal';
import type { GroupMemory } from '@mp/memory/internal';
import type { Mempool } from './mempool.js';
import type { Registry } from './registry.js';

export interface MempoolState {
  /** Pools open in this thread, by pool id (the high bits of a handle). */
  byId: Array<Mempool | undefined>;
  byName: Map<string, Mempool>;
  exitHooked: boolean;
  /** The registry of the group this process uses pools of (whichever copy of the package opened it). */
  registry: Registry | undefined;
  /** The registry's words (main thread; undefined in worker threads) and the pool generation last checked. */
  regWords: Uint32Array | undefined;
  seenGen: number;
  /** One registry per group per process. */
  registries: WeakMap<GroupMemory, Registry>;
}

/** Bump when a field of {@link MempoolState} changes meaning or type. */
export const STATE_LAYOUT = 1;
const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export const state: MempoolState = processSlot<MempoolState>('@mp/mempool', `@mp/mempool@${VERSION}`, STATE_LAYOUT, () => ({
  byId: new Array<Mempool | undefined>(256).fill(undefined),
  byName: new Map(),
  exitHooked: false,
  registry: undefined,
  regWords: undefined,
  seenGen: 0,
  registries: new WeakMap(),
}));
