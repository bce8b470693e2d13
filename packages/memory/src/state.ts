/**
 * @mp/memory's process-wide state (one per process, whichever copy of the package touches it first):
 * the attached group and the log level and sink. Layout version 1:
 *
 * | field          | type                       | written by                          |
 * |----------------|----------------------------|-------------------------------------|
 * | group          | GroupMemory \| undefined   | attachMemory / detachMemory (eal)   |
 * | logThreshold   | number (syslog level)      | setLogLevel                         |
 * | logSink        | Logger \| undefined        | setLogger (undefined: stderr)       |
 */
import { readFileSync } from 'node:fs';
import type { Logger } from './log.js';
import type { GroupMemory } from './memzone.js';
import { processSlot } from './slot.js';

export interface MemoryState {
  group: GroupMemory | undefined;
  logThreshold: number;
  logSink: Logger | undefined;
}

/** Bump when a field of {@link MemoryState} changes meaning or type. */
export const MEMORY_STATE_LAYOUT = 1;
declare const __MP_VERSION__: string | undefined;
// Set at build time (tsup.base.ts); from source, package.json.
const version = typeof __MP_VERSION__ === 'string' ? __MP_VERSION__ : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The state, shared by every copy of @mp/memory in this process. @throws {MpError} EPROTO — see processSlot */
export const memoryState: MemoryState = processSlot<MemoryState>('@mp/memory', `@mp/memory@${version}`, MEMORY_STATE_LAYOUT, () => ({
  group: undefined,
  logThreshold: 6,
  logSink: undefined,
}));
