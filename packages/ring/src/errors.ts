/** The ring's error detail classes (subclasses of @mp/memory's MpError). */
import { MpError } from '@mp/memory';
import type { RingSide } from './types.js';

/**
 * `ESTALE`: a reservation in front of this call belongs to a process that died (or to a thread that gave
 * up on it); nothing moved. `deadPid` names that process, `side` the side it was on. `ring.recover()`
 * repairs the ring once its peers have stopped waiting.
 */
export class RingStaleError extends MpError {
  /** The dead (or blamed) process. */
  readonly deadPid: number;
  /** The side whose reservation is stuck. */
  readonly side: RingSide;

  constructor(side: RingSide, deadPid: number, message: string) {
    super('ESTALE', message);
    this.deadPid = deadPid;
    this.side = side;
  }
}

/** ESTALE: a dead peer's reservation blocks the ring `name`. */
export function deadPeerError(side: RingSide, deadPid: number, name: string): RingStaleError {
  return new RingStaleError(
    side,
    deadPid,
    `ring '${name}': ${side} pid ${deadPid} died (or gave up on a timeout) between reserving and publishing slots; ` +
      `call ring.recover() once its peers have stopped waiting (this call moved nothing)`,
  );
}

/** ESTALE: this thread abandoned its own reservation earlier (blaming `culprit`) and has not recovered since. */
export function abandonedReservationError(side: RingSide, culprit: number, name: string): RingStaleError {
  return new RingStaleError(
    side,
    culprit,
    `ring '${name}': this thread abandoned a ${side} reservation earlier (pid ${culprit} was blamed); ` +
      `call ring.recover() before using that side again`,
  );
}
