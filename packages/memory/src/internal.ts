/**
 * `@mp/memory/internal`: what the sibling @mp packages use and applications should not — the addon
 * loader, fault points for the crash tests, the spin-sleep of lock waits, the log line writer, the
 * process-wide state slot, the group wiring @mp/eal drives (attach/detach, the attached GroupMemory and
 * the region size it formats), the CPU's memory order, and the file checks behind the safe-file rules.
 * Not covered by semver. The public API is `@mp/memory` (its README's API table).
 *
 * It also exports the whole public API: the sibling packages' CommonJS builds take all of @mp/memory from
 * this one entry (`viaInternal` in the repository's tsup.base.ts: one file to resolve and load, not two),
 * and the declarations say so — the names here are exactly what `import` and `require` of it give
 * (tools/pack-check/test/entries.test.ts).
 */
export * from './index.js';
export { loadAddon } from './addon.js';
export { GroupMemory } from './memzone.js';
export { SEGMENT_CHUNK } from './segments.js';
export { getU64, setU64 } from './bytes.js';
export { faultPoint, armFaultPoints, faultPointsArmed, FAULTS } from './fault.js';
export { processGone, processAlive } from './liveness.js';
export { watchPid, watchInterval } from './sys.js';
export { sleepSync } from './lock.js';
export { log } from './log.js';
export { processSlot } from './slot.js';
export { WORD, memRegionSize, wordIndex, wordsOf } from './layout.js';
export { TSO } from './order.js';
export { attachMemory, detachMemory, groupMemory } from './group.js';
export { checkOwnedFd, euid } from './files.js';
export { runCached, codeCacheStatus, codeCacheBooted } from './code-cache.js';
export type { CodeCacheEntry, CodeCacheDir } from './code-cache.js';
