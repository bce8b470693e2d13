/**
 * @mp/ring's process-wide state (DESIGN §12): one per thread (globalThis is per thread), shared by every
 * copy of the package loaded in it — an ESM and a CJS copy must hand out the same handle per ring, since
 * a thread's handles share its participant entry (participants.ts). Layout version 1:
 *
 * | field  | type               | written by                                     |
 * |--------|--------------------|------------------------------------------------|
 * | opened | Map<name, handle>  | Ring.create / Ring.find (cache), Ring.free     |
 */
import { createRequire } from 'node:module';
import { processSlot } from '@mp/memory/internal';

/** What the state holds per ring name: a handle of whichever copy made it (same shape in every copy). */
export interface RingState<R> {
  opened: Map<string, R>;
}

/** Bump when a field of {@link RingState} changes meaning or type. */
export const RING_STATE_LAYOUT = 1;
const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** This thread's state. @throws {MpError} EPROTO — another copy holds the slot with another layout */
export function ringState<R>(): RingState<R> {
  return processSlot<RingState<R>>('@mp/ring', `@mp/ring@${version}`, RING_STATE_LAYOUT, () => ({ opened: new Map() }));
}
