import { MpError } from '@mp/memory';
import { loadAddon } from '@mp/memory/internal';
import { FAST_EXT, FAST_OK, FAST_WAKE, MAX_COALESCE, RECORD, RECORDS_PER_BATCH, RX_FD_OVERFLOW, SUN_PATH_MAX, WIRE } from './layout.js';

/**
 * What the native addon (native/ipc.cc) exports. Every argument is validated before it gets here; the
 * addon still checks each one's type (a wrong type is a TypeError, never a coerced value).
 */
export interface IpcBinding {
  /** socket + bind (when path is a string) + chmod(mode) + SO_PASSCRED → fd. Throws errno errors. */
  open(path: string | null, mode: number): number;
  /** 0: a live socket is bound at path; -ECONNREFUSED: stale file; -ENOENT: none. */
  probe(path: string): number;
  flock(path: string, op: 'ex' | 'sh'): number;
  flock(path: string, op: 'un', fd: number): void;
  /** sendmsg; 0 or -errno (never throws for a send failure). wait: a full peer queue is waited on ≤ 5 ms. */
  send(fd: number, addr: Uint8Array, data: Uint8Array, fds: Int32Array | null, wait: boolean): number;
  /**
   * Drain up to min(RECORDS_PER_BATCH, records.byteLength / RECORD.size) datagrams (the rest of the
   * buffer is the spill area for coalesced datagrams), each record's RECORD.fast written. timeoutMs > 0 blocks until one comes:
   * re-trying for up to spinUs first, then in poll(). With `word`: while spinning, also watch the
   * 32-bit word at byte `wordOffset` of `word` (an inbox's pubCount) and return 0 as soon as it differs
   * from `expected` — plain loads, no system call per check; timeoutMs 0 with spinUs > 0 then spins
   * only, never sleeps. A failure of recvmmsg other than EAGAIN throws (code, errno, syscall).
   */
  recv(fd: number, records: ArrayBuffer, timeoutMs: number, spinUs?: number, word?: ArrayBuffer, wordOffset?: number, expected?: number): number;
  /** (Re)write RECORD.fast of the first n records of `records` as every read does (for tests). */
  classify(records: ArrayBuffer | Uint8Array, n: number): void;
  /** One sched_yield() (a sender waiting for room in a full inbox; its loop is in inbox-sender.ts). */
  yieldCpu(): void;
  /**
   * uv_poll on fd: each readable wake-up drains a batch into `records` and calls onBatch(n) once, then
   * reads again (≤ 64 batches per wake-up); after busyPoll(us), each such read re-tries for up to us µs.
   * onBatch gets -errno when recvmmsg failed with anything but EAGAIN.
   */
  watch(fd: number, records: ArrayBuffer, onBatch: (n: number) => number | void): WatchHandle;
  close(fd: number): void;
  memfdCreate(name: string): number;
  readonly layout: Readonly<Record<string, number>>;
}

export interface WatchHandle {
  close(): void;
  ref(): void;
  unref(): void;
  busyPoll(us: number): void;
  /**
   * The channel's inbox: while poll mode spins, also watch the 32-bit word at `pubOffset` (returning
   * to JS when it moves from the value onBatch returned) with `polling` (at `pollOffset`) set to 1.
   * onBatch's return value is the pubCount it read before draining the inbox. The word at
   * `epochOffset` (readEpoch) is advanced before every read of the socket.
   */
  inbox(buffer: ArrayBuffer, pubOffset: number, pollOffset: number, epochOffset: number): void;
}

function load(): IpcBinding {
  const b = loadAddon<IpcBinding>(import.meta.url, '@mp/ipc', 'mp_ipc');
  checkLayout(b.layout);
  return b;
}

/** Compare the compiler's sizeof/offsetof with src/layout.ts; any difference is fatal. */
function checkLayout(l: Readonly<Record<string, number>>): void {
  const want: Record<string, number> = {
    sizeofMsgInternal: WIRE.sizeofInternal,
    sizeofRteMpMsg: WIRE.sizeofRteMpMsg,
    wireSize: WIRE.size,
    offType: WIRE.type,
    offName: WIRE.name,
    offLenParam: WIRE.lenParam,
    offNumFds: WIRE.numFds,
    offParam: WIRE.param,
    offFds: WIRE.fds,
    recSize: RECORD.size,
    recData: RECORD.data,
    recPath: RECORD.path,
    recFds: RECORD.fds,
    recSpill: RECORD.spill,
    recCarrier: RECORD.carrier,
    recFast: RECORD.fast,
    fastOk: FAST_OK,
    fastWake: FAST_WAKE,
    fastExt: FAST_EXT,
    recsPerBatch: RECORDS_PER_BATCH,
    maxCoalesce: MAX_COALESCE,
    rxFdOverflow: RX_FD_OVERFLOW,
    sunPathMax: SUN_PATH_MAX,
  };
  const bad = Object.entries(want).filter(([k, v]) => l[k] !== v);
  if (bad.length > 0) {
    throw new MpError(
      'EPROTO',
      `@mp/ipc native layout differs from src/layout.ts: ${bad.map(([k, v]) => `${k} native ${l[k]} != ts ${v}`).join(', ')}`,
    );
  }
}

/** The loaded addon (once per module instance). */
export const binding: IpcBinding = load();
export const MSG_TRUNC: number = binding.layout.msgTrunc!;
export const MSG_CTRUNC: number = binding.layout.msgCtrunc!;
