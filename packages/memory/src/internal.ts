/**
 * `@mp/memory/internal`: what the sibling @mp packages use and applications should not — the addon
 * loader, fault points for the crash tests, the spin-sleep of lock waits, the log line writer and the
 * process-wide state slot. Not covered by semver. (They are still re-exported from the public index,
 * marked deprecated, until every package imports them from here; then they leave it.)
 */
export { loadAddon } from './addon.js';
export { crashPoint } from './memzone.js';
export { faultPoint, armFaultPoints, faultPointsArmed, FAULTS } from './fault.js';
export { processGone, processAlive } from './liveness.js';
export { watchPid } from './sys.js';
export { sleepSync } from './lock.js';
export { log } from './log.js';
export { processSlot } from './slot.js';
export { WORD, wordIndex, wordsOf } from './layout.js';
