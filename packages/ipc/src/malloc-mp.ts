/**
 * A DPDK primary's memory-map syncs (DPDK 22.11 lib/eal/common/malloc_mp.c), answered as DPDK's own
 * secondaries answer them. Only channels on an explicit runtime dir (possibly a DPDK app's) register
 * these, and only as secondaries — as DPDK registers them. An @mp process maps none of DPDK's memory,
 * so it has nothing to sync: it replies SUCCESS at once, and the primary's allocation (or exit) goes
 * on instead of failing after its 5 s timeout.
 */
import { closeSync } from 'node:fs';
import { log } from '@mp/memory/internal';
import type { ActionHandler } from './channel.js';
import type { MpMsg, ReceivedMsg } from './codec.js';
import { MALLOC_MP } from './layout.js';

/** The reply to a sync / rollback request, or undefined (malformed: DPDK's secondary sends nothing either). */
function answerSync(msg: ReceivedMsg): MpMsg | undefined {
  const p = msg.param;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.byteLength < MALLOC_MP.offId + 8 || dv.getInt32(MALLOC_MP.offType, true) !== MALLOC_MP.TYPE_SYNC) {
    log('warning', 'IPC', `'${msg.name}' from the DPDK primary is not a sync request (${p.byteLength} bytes, type ${p.byteLength >= 4 ? dv.getInt32(MALLOC_MP.offType, true) : '?'}): not answered`);
    return undefined;
  }
  const param = new Uint8Array(MALLOC_MP.size);
  const out = new DataView(param.buffer);
  out.setInt32(MALLOC_MP.offType, MALLOC_MP.TYPE_SYNC, true);
  param.set(p.subarray(MALLOC_MP.offId, MALLOC_MP.offId + 8), MALLOC_MP.offId);
  out.setInt32(MALLOC_MP.offResult, MALLOC_MP.RESULT_SUCCESS, true);
  return { name: msg.name, param };
}

/** The internal actions of a secondary channel on an explicit runtime dir, by name. */
export function dpdkMallocActions(): Array<[string, ActionHandler]> {
  const sync: ActionHandler = (msg, peer) => {
    for (const fd of msg.fds) closeSync(fd); // DPDK sends none with these; the handler owns what came
    return peer.isRequest ? answerSync(msg) : undefined;
  };
  // A response to some DPDK secondary's own allocation request, broadcast by the primary: not ours.
  const ignore: ActionHandler = (msg) => {
    for (const fd of msg.fds) closeSync(fd);
  };
  return [
    [MALLOC_MP.actionSync, sync],
    [MALLOC_MP.actionRollback, sync],
    [MALLOC_MP.actionResponse, ignore],
  ];
}
