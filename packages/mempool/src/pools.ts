/**
 * The pools this thread has open (in the package's process slot, src/state.ts): a handle's pool found by
 * its id, the group's registry joined once, what a dead process owned returned in every pool, and every
 * cache flushed at exit.
 */
import { MpError, memzone } from '@mp/memory';
import { log } from '@mp/memory/internal';
import { Ring } from '@mp/ring';
import { K, MEMPOOL_MZ_PREFIX } from './layout.js';
import { Mempool } from './mempool.js';
import { reclaimRaw } from './reclaim.js';
import { Registry } from './registry.js';
import { state } from './state.js';

// Per-thread state: one process slot shared by every copy of this package (src/state.ts).

/**
 * The pool of `handle` as this thread has it open (opening it by id on first use in a process). The map
 * is trusted while the registry's pool table generation has not moved since it was last checked (one
 * shared load); after a create or free it is checked again, so a freed pool's id given to a new pool
 * never leads a handle to the old pool's memory.
 * @internal
 */
export function poolFor(handle: number): Mempool {
  const p = state.byId[handle >>> K.INDEX_BITS];
  const g = state.regWords;
  if (p !== undefined && (g === undefined || g[K.REG_GEN_W] === state.seenGen)) return p;
  return poolForSlow(handle >>> K.INDEX_BITS);
}

function poolForSlow(id: number): Mempool {
  const g = state.regWords;
  if (g !== undefined && g[K.REG_GEN_W] !== state.seenGen) {
    state.seenGen = Atomics.load(g, K.REG_GEN_W);
    const reg = state.registry!;
    for (let i = 1; i < state.byId.length; i++) {
      const p = state.byId[i];
      if (p === undefined) continue;
      if (reg.poolName(i) !== p.name || p.stale()) {
        state.byId[i] = undefined;
        if (state.byName.get(p.name) === p) state.byName.delete(p.name);
      }
    }
  }
  return state.byId[id] ?? attachById(id);
}

function attachById(id: number): Mempool {
  let reg: Registry;
  try {
    reg = Registry.get();
  } catch (err) {
    throw new MpError('EBADF', `handle of pool id ${id}: that pool is not open in this thread (a worker opens pools with Mempool.fromDescriptor)`, { cause: err });
  }
  const name = reg.poolName(id);
  if (name === undefined) throw new MpError('EBADF', `no pool has id ${id} (freed?)`);
  return Mempool.lookup(name);
}

/** Return what `tag` owns in every pool of the group (the registry's reclaimer). */
function reclaimEverywhere(reg: Registry, tag: number): number {
  let n = 0;
  for (const id of reg.poolIds()) {
    const name = reg.poolName(id);
    if (name === undefined) continue;
    try {
      const p = state.byName.get(name);
      if (p !== undefined && !p.freed) n += p.reclaimTag(tag);
      else {
        const mz = memzone.find(MEMPOOL_MZ_PREFIX + name);
        if (mz === undefined) continue;
        n += reclaimRaw(mz.buffer, Ring.lookup(MEMPOOL_MZ_PREFIX + name), tag);
      }
    } catch (err) {
      log('warning', 'MEMPOOL', `reclaim in pool '${name}': ${(err as Error).message}`);
    }
  }
  return n;
}

export function closeAll(): void {
  for (const p of state.byName.values()) {
    try {
      p.close();
    } catch (err) {
      log('warning', 'MEMPOOL', `flushing the cache of pool '${p.name}' at exit: ${(err as Error).message}`);
    }
  }
}

function hookExit(): void {
  if (state.exitHooked) return;
  state.exitHooked = true;
  // Before @mp/eal's own exit hook (registered at init) leaves the group.
  process.prependListener('exit', () => {
    closeAll();
    try {
      state.registry?.leave();
    } catch {
      // the group is gone already
    }
  });
}

export function joinRegistry(): Registry {
  const reg = Registry.get();
  if (state.registry !== reg) {
    // First use, or a new group after eal's cleanup() and a new init(): forget the old group's pools.
    if (state.registry !== undefined) {
      closeAll();
      state.byId.fill(undefined);
      state.byName.clear();
    }
    state.registry = reg;
    state.regWords = reg.u32;
    state.seenGen = Atomics.load(reg.u32, K.REG_GEN_W);
    reg.setReclaimer((tag) => reclaimEverywhere(reg, tag));
  }
  reg.join();
  hookExit();
  return reg;
}
