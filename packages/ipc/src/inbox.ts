/**
 * Inboxes: each @mp group process's shared-memory mailbox (layout.ts INBOX), a bounded MPSC queue of
 * RECORD-shaped cells in a memzone. The owner drains it; every other process of the group enqueues.
 * The socket stays for waking a sleeping owner (a tiny 'wake' datagram, at most one pending per
 * inbox: the doorbell), for descriptors (a 'carrier' datagram sent before the record is published),
 * and for DPDK peers, which never see an inbox.
 */
import { basename } from 'node:path';
import { MpError, memzone } from '@mp/memory';
import { FAULTS, faultPoint, log, processGone, sleepSync } from '@mp/memory/internal';
import type { Memzone } from '@mp/memory';
import { EXT, INBOX, INBOX_BYTES, RECORD, SUN_PATH_MAX, WIRE, inboxName } from './layout.js';

const I = {
  magic: INBOX.offMagic / 4,
  ownerPid: INBOX.offOwnerPid / 4,
  state: INBOX.offState / 4,
  capacity: INBOX.offCapacity / 4,
  nonce: INBOX.offNonce / 4,
  nameLen: INBOX.offNameLen / 4,
  tail: INBOX.offTail / 4,
  senders: INBOX.offSenders / 4,
  pubCount: INBOX.offPubCount / 4,
  polling: INBOX.offPolling / 4,
  doorbell: INBOX.offDoorbell / 4,
  head: INBOX.offHead / 4,
  readEpoch: INBOX.offReadEpoch / 4,
} as const;
const CELL_I32 = INBOX.cellSize / 4;
// Fault points (armed test processes only; @mp/memory's fault.ts): 'ipc-inbox-claimed' between a
// sender's claim and its publish, 'ipc-inbox-entered' right after its enter() check (the tests stop
// it there with MP_TEST_CRASH_SIGNAL=SIGSTOP).
const CELLS_I32 = INBOX.offCells / 4;
const CELLS_I64 = INBOX.offCells / 8;
const CELL_I64 = INBOX.cellSize / 8;

function views(mz: Memzone): { i32: Int32Array; i64: BigInt64Array; u8: Uint8Array } {
  return { i32: new Int32Array(mz.buffer), i64: new BigInt64Array(mz.buffer), u8: new Uint8Array(mz.buffer) };
}

/** The owner's side: reserve, drain, close. */
export class Inbox {
  readonly name: string;
  readonly mz: Memzone;
  readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly mask: number;
  private head = 0;
  private closed = false;
  /** A cell seen claimed but unpublished: its position and since when (liveness is asked after 1 ms). */
  private stuckPos = -1;
  private stuckSince = 0;
  /** The last drain stopped at a claimed, unpublished cell (look again soon: its claimer may be dead). */
  stuck = false;

  private constructor(name: string, mz: Memzone) {
    this.name = name;
    this.mz = mz;
    const v = views(mz);
    this.i32 = v.i32;
    this.u8 = v.u8;
    this.mask = INBOX.capacity - 1;
  }

  /**
   * Arm the inbox of process-table slot `slot` (this process's) for the socket at `socketPath`: the
   * slot's inbox of an earlier process is re-armed (it is never freed while the group lives), else one
   * is reserved. undefined (with one log line) when the group has no room (ENOMEM under a small -m,
   * ENOSPC), the slot's inbox still belongs to a live process, or a live sender stays inside it (see
   * quiesce; `holds(slot, pid)`: does process `pid` hold process-table slot `slot`?): the channel
   * then runs on its socket.
   */
  static create(socketPath: string, slot: number, holds: (slot: number, pid: number) => boolean): Inbox | undefined {
    const name = inboxName(slot);
    const sock = Buffer.from(basename(socketPath), 'utf8');
    if (sock.byteLength > INBOX.nameMax) throw new MpError('ENAMETOOLONG', `socket name ${basename(socketPath)} too long for an inbox`);
    if (!(Number.isInteger(slot) && slot >= 0 && slot < INBOX.senders)) {
      log('info', 'IPC', `no shared-memory inbox (process-table slot ${slot} out of range): this process receives over its socket only`);
      return undefined;
    }
    let mz: Memzone | undefined;
    try {
      mz = memzone.find(name);
      if (mz !== undefined) {
        const old = new Int32Array(mz.buffer);
        const owner = old[I.ownerPid]!;
        // magic 0: an arming that was interrupted (its process died); anything else must be ours.
        const magic = Atomics.load(old, I.magic);
        if (mz.len < INBOX_BYTES || (magic !== 0 && (magic !== INBOX.magic || new DataView(mz.buffer).getUint16(INBOX.offVersion, true) !== INBOX.version))) {
          throw new MpError('EPROTO', `memzone ${name} is not an inbox of layout version ${INBOX.version}`);
        }
        if (owner !== process.pid && owner !== 0 && Atomics.load(old, I.state) === INBOX.STATE_OPEN && !processGone(owner)) {
          throw new MpError('EBUSY', `inbox ${name} belongs to live pid ${owner}`);
        }
        if (!quiesce(old, name, holds)) return undefined;
      } else {
        mz = memzone.reserve(name, INBOX_BYTES, { align: INBOX.align });
      }
    } catch (err) {
      log('info', 'IPC', `no shared-memory inbox (${(err as Error).message}): this process receives over its socket only`);
      return undefined;
    }
    const ib = new Inbox(name, mz);
    const i32 = ib.i32;
    // The header zeroed; the sender words stay theirs (quiesce() saw every live one clear; a sender
    // marking itself in now sees state 0, not OPEN, and backs out).
    const oldNonce = i32[I.nonce]!;
    Atomics.store(i32, I.magic, 0);
    ib.u8.fill(0, 4, INBOX.offSenders);
    for (let c = 0; c < INBOX.capacity; c++) {
      i32[CELLS_I32 + c * CELL_I32 + INBOX.cellSeq / 4] = c;
      i32[CELLS_I32 + c * CELL_I32 + INBOX.cellClaimer / 4] = 0;
    }
    i32[I.ownerPid] = process.pid;
    i32[I.capacity] = INBOX.capacity;
    let nonce: number;
    do nonce = (Math.random() * 0x7fffffff) | 1;
    while (nonce === oldNonce);
    i32[I.nonce] = nonce;
    i32[I.nameLen] = sock.byteLength;
    ib.u8.set(sock, INBOX.offName);
    new DataView(mz.buffer).setUint16(INBOX.offVersion, INBOX.version, true);
    // SYNC: state and magic last: a sender that sees OPEN sees every field above.
    Atomics.store(i32, I.state, INBOX.STATE_OPEN);
    Atomics.store(i32, I.magic, INBOX.magic);
    return ib;
  }

  /** pubCount now (read before a drain: a poller waits for it to move). */
  pubCount(): number {
    return Atomics.load(this.i32, I.pubCount);
  }

  setPolling(on: boolean): void {
    Atomics.store(this.i32, I.polling, on ? 1 : 0);
  }

  /** The owner is about to drain after a wake-up: later publishers must ring again. */
  clearDoorbell(): void {
    // SYNC: seq-cst store before reading the cells (pairs with the producers' fence before the doorbell).
    Atomics.store(this.i32, I.doorbell, 0);
  }

  /**
   * We are about to read our socket: advance readEpoch. A sender that sees it move after its datagram
   * went knows a read began after that, and this process drains no cell before that read — and the
   * reads after it, while they come back full — have taken its datagram (layout.ts "Inline").
   */
  beforeRead(): void {
    // SYNC: before the read; pairs with InboxRef.inlineRead().
    Atomics.add(this.i32, I.readEpoch, 1);
  }

  /** Is a published record waiting (or a stuck cell worth a look)? One shared load. */
  nonEmpty(): boolean {
    const c = this.head & this.mask;
    return Atomics.load(this.i32, CELLS_I32 + c * CELL_I32) !== this.head;
  }

  /**
   * Copy up to `max` published records into `dst` (RECORD.size apart, starting at byte 0) and free
   * their cells. Returns the count. A cell claimed by a producer that died before publishing is
   * skipped, so a SIGKILLed sender never wedges this queue. Its liveness is asked (a system call and
   * a /proc read) only once the cell has been stuck for 1 ms, or at once with `force` (a process of
   * the group exited).
   */
  drain(dst: Uint8Array, max: number, force = false): number {
    if (this.closed) return 0;
    const i32 = this.i32;
    const u8 = this.u8;
    let n = 0;
    this.stuck = false;
    while (n < max) {
      const pos = this.head;
      const c = pos & this.mask;
      const si = CELLS_I32 + c * CELL_I32;
      const seq = Atomics.load(i32, si) >>> 0;
      if (seq === ((pos + 1) >>> 0)) {
        // Only the bytes a sender wrote (see InboxRef.write): fewer cache lines cross between CPUs.
        const at = (CELLS_I32 + c * CELL_I32) * 4 + INBOX.cellRecord;
        const ri = at / 4;
        const pathLen = Math.min(Math.max(i32[ri + RECORD.pathLen / 4]!, 0), SUN_PATH_MAX);
        const d = n * RECORD.size;
        dst.set(u8.subarray(at, at + RECORD.path + pathLen), d);
        dst32Set(dst, d + RECORD.carrier, i32[ri + RECORD.carrier / 4]!);
        const used = dataBytes(u8, at + RECORD.data, i32[ri + (RECORD.data + WIRE.lenParam) / 4]!);
        dst.set(u8.subarray(at + RECORD.data, at + RECORD.data + used), d + RECORD.data);
        n++;
      } else if (seq === pos) {
        const claimer = Atomics.load(i32, si + 1);
        if (claimer === 0) break; // empty
        // Claimed, not published: a producer between its claim and its publish, or one that died there.
        this.stuck = true;
        if (!force) {
          const now = performance.now();
          if (this.stuckPos !== pos) {
            this.stuckPos = pos;
            this.stuckSince = now;
            break;
          }
          if (now - this.stuckSince < 1) break;
        }
        if (!processGone(claimer)) break;
        this.stuck = false;
        log('warning', 'IPC', `inbox ${this.name}: skipped a cell claimed by pid ${claimer}, which died before publishing it`);
      } else {
        break;
      }
      // Free the cell for the next lap. SYNC: claimer 0 before seq moves (a producer CASes both as one word).
      Atomics.store(i32, si + 1, 0);
      Atomics.store(i32, si, (pos + INBOX.capacity) | 0);
      this.head = (pos + 1) >>> 0;
    }
    if (n > 0) i32[I.head] = this.head | 0; // for dumps and debuggers only
    return n;
  }

  /**
   * Close: senders see CLOSED and stop using it. The memory stays (type-stable): the next process to
   * hold this process-table slot re-arms it, and it goes with the group's files when the group ends.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.i32, I.state, INBOX.STATE_CLOSED);
  }
}

/** What a sender must know to fill a record: its own pid, uid, gid and socket path. */
export interface SenderId {
  pid: number;
  uid: number;
  gid: number;
  path: string;
}

/** A sender's handle on a peer's inbox (cached per peer; re-validated on each send by two loads). */
export class InboxRef {
  readonly pid: number;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly u8: Uint8Array;
  private readonly nonce: number;
  private readonly mask: number;
  /** When the sender last asked the owner's socket whether it lives (see Channel.sendInbox). */
  probedAt = 0;
  /** This sender's last cell in this inbox: its int32 index and position (-1: none yet). */
  private lastSi = -1;
  private lastPos = 0;
  /** This sender's last message went inline (as a datagram), and readEpoch right after it was sent. */
  inlineLast = false;
  private inlineEpoch = 0;

  private constructor(pid: number, mz: Memzone, nonce: number) {
    this.pid = pid;
    const v = views(mz);
    this.i32 = v.i32;
    this.i64 = v.i64;
    this.u8 = v.u8;
    this.nonce = nonce;
    this.mask = INBOX.capacity - 1;
  }

  /**
   * The open inbox of the process `pid` (holding process-table slot `slot`) bound at `socketPath`, or
   * undefined (none, closed, another process's).
   */
  static open(pid: number, slot: number, socketPath: string): InboxRef | undefined {
    if (pid <= 0 || !(slot >= 0 && slot < INBOX.senders)) return undefined;
    let mz: Memzone | undefined;
    try {
      mz = memzone.find(inboxName(slot));
    } catch {
      return undefined;
    }
    if (mz === undefined || mz.len < INBOX_BYTES) return undefined;
    const i32 = new Int32Array(mz.buffer);
    // The nonce first, the rest after, the state and nonce again last: an inbox re-armed for another
    // owner while we looked is not taken for `pid`'s (the re-armer closes it before changing anything).
    const nonce = Atomics.load(i32, I.nonce);
    if (Atomics.load(i32, I.magic) !== INBOX.magic || Atomics.load(i32, I.state) !== INBOX.STATE_OPEN) return undefined;
    if (i32[I.ownerPid] !== pid || i32[I.capacity] !== INBOX.capacity) return undefined;
    const len = i32[I.nameLen]!;
    const name = Buffer.from(mz.buffer, INBOX.offName, Math.min(len, INBOX.nameMax)).toString('utf8');
    if (name !== basename(socketPath)) return undefined;
    if (Atomics.load(i32, I.state) !== INBOX.STATE_OPEN || Atomics.load(i32, I.nonce) !== nonce) return undefined;
    return new InboxRef(pid, mz, nonce);
  }

  /**
   * Start a send: mark this sender in (its word: slot `mySlot` of the senders table), then check it is
   * still the open inbox this handle was made for. false: not (marked out again) — use the socket.
   * Until leave(), a process re-arming this inbox for a new owner waits for us.
   */
  enter(mySlot: number, myPid: number): boolean {
    // SYNC: a seq-cst store (a full fence) orders our mark before the state load (pairs with quiesce()).
    Atomics.store(this.i32, I.senders + mySlot, myPid);
    if (this.valid()) {
      if (FAULTS) faultPoint('ipc-inbox-entered'); // a sender preempted between its check and its write
      return true;
    }
    Atomics.store(this.i32, I.senders + mySlot, 0);
    return false;
  }

  leave(mySlot: number): void {
    Atomics.store(this.i32, I.senders + mySlot, 0);
  }

  /** Still the open inbox this handle was made for? */
  valid(): boolean {
    return Atomics.load(this.i32, I.state) === INBOX.STATE_OPEN && this.i32[I.nonce] === this.nonce;
  }

  /**
   * Claim a cell: its byte offset (the record starts at + INBOX.cellRecord), or -1 when the inbox is
   * full. The claim names this process in the cell (one 64-bit CAS), so a death before the publish
   * is seen by the consumer.
   */
  claim(myPid: bigint): number {
    const i32 = this.i32;
    for (;;) {
      const pos = Atomics.load(i32, I.tail) >>> 0;
      const c = pos & this.mask;
      const si = CELLS_I32 + c * CELL_I32;
      const seq = Atomics.load(i32, si) >>> 0;
      if (seq === pos) {
        if (Atomics.load(i32, si + 1) === 0) {
          const want = BigInt(pos);
          if (Atomics.compareExchange(this.i64, CELLS_I64 + c * CELL_I64, want, want | myPid) === want) {
            if (FAULTS) faultPoint('ipc-inbox-claimed');
            Atomics.compareExchange(i32, I.tail, pos | 0, (pos + 1) | 0);
            return si * 4;
          }
          continue;
        }
        // Claimed by another producer that has not moved tail yet: help, then retry.
        Atomics.compareExchange(i32, I.tail, pos | 0, (pos + 1) | 0);
        continue;
      }
      if (seq === ((pos + 1) >>> 0)) {
        Atomics.compareExchange(i32, I.tail, pos | 0, (pos + 1) | 0);
        continue;
      }
      if (((seq - pos) | 0) < 0) return -1; // the cell still holds the previous lap: full
      // The cell is past `pos` (consumed, or skipped because its claimer died before moving tail):
      // tail is behind — move it on (a no-op if our read of it was stale), then retry.
      Atomics.compareExchange(i32, I.tail, pos | 0, (pos + 1) | 0);
    }
  }

  /**
   * Write a record into the claimed cell at `cell`: the sender header (`header`: its bytes up to the
   * end of the path; flags 0), then the datagram's bytes up to the end of its param (all 332 when the
   * extension sits in the param's tail). The consumer copies exactly these bytes and never reads others.
   */
  write(cell: number, header: Uint8Array, data: Uint8Array, lenParam: number): void {
    this.u8.set(header, cell + INBOX.cellRecord);
    const used = dataBytes(data, 0, lenParam);
    this.u8.set(used === WIRE.size ? data : data.subarray(0, used), cell + INBOX.cellRecord + RECORD.data);
  }

  /** Mark a record as carrying its descriptors in socket datagram `tag`. */
  setCarrier(cell: number, flag: number, tag: number): void {
    const i32 = this.i32;
    const r = (cell + INBOX.cellRecord) / 4;
    i32[r + RECORD.flags / 4] = flag;
    i32[r + RECORD.carrier / 4] = tag;
  }

  /**
   * Publish the claimed cell and report whether the owner needs a wake datagram (it is not polling
   * and nobody else has rung since it last cleared the doorbell); undefined: the claim was lost.
   */
  publish(cell: number, myPid: bigint): boolean | undefined {
    const i32 = this.i32;
    const si = cell / 4;
    const pos = Atomics.load(i32, si) >>> 0;
    // SYNC: the record is written; publish — by CAS of (seq, claimer), so a sender that lost its claim
    // (its inbox was re-armed under it) changes nothing — then a full fence (seq-cst RMW) before
    // reading polling.
    const want = BigInt(pos) | myPid;
    if (Atomics.compareExchange(this.i64, si / 2, want, BigInt((pos + 1) >>> 0) | myPid) !== want) return undefined;
    this.lastSi = si;
    this.lastPos = pos;
    this.inlineLast = false;
    Atomics.add(i32, I.pubCount, 1);
    if (Atomics.load(i32, I.polling) !== 0) return false;
    return Atomics.compareExchange(i32, I.doorbell, 0, 1) === 0;
  }

  /** Our last cell has been consumed (or we have none): a datagram now cannot overtake it. */
  lastConsumed(): boolean {
    return this.lastSi < 0 || Atomics.load(this.i32, this.lastSi) >>> 0 !== ((this.lastPos + 1) >>> 0);
  }

  /** An inline datagram has just been sent: note the owner's read epoch (see inlineRead). */
  sentInline(): void {
    this.inlineLast = true;
    this.inlineEpoch = Atomics.load(this.i32, I.readEpoch);
  }

  /**
   * Our last inline datagram will be read before any cell we write now is drained: the owner's read
   * epoch moved since the datagram was sent, so a read of its socket began after it was queued, and
   * the owner drains no cell until that read (and the reads after it, while they come back full) are
   * done.
   */
  inlineRead(): boolean {
    // SYNC: pairs with Inbox.beforeRead.
    return !this.inlineLast || Atomics.load(this.i32, I.readEpoch) !== this.inlineEpoch;
  }

  /** Does the owner sleep, and did we win its doorbell (so the message itself can be its wake datagram)? */
  ringIfAsleep(): boolean {
    const i32 = this.i32;
    return Atomics.load(i32, I.polling) === 0 && Atomics.load(i32, I.doorbell) === 0 && Atomics.compareExchange(i32, I.doorbell, 0, 1) === 0;
  }

  /** Is the doorbell rung (a wake sent, the owner not drained since)? */
  doorbellRung(): boolean {
    return Atomics.load(this.i32, I.doorbell) !== 0;
  }

  /** The owner should be woken even though we did not win the doorbell (our wake datagram failed). */
  resetDoorbell(): void {
    Atomics.store(this.i32, I.doorbell, 0);
  }
}

/**
 * Bytes of a datagram at `at` of `u8` that carry meaning: up to the end of its param, or all of it when
 * its name is longer than EXT.nameRoomMax bytes (the extension then sits at the param's tail).
 */
function dataBytes(u8: Uint8Array, at: number, lenParam: number): number {
  if (u8[at + WIRE.name + EXT.nameRoomMax] !== 0 || !(lenParam >= 0 && lenParam <= WIRE.size - WIRE.param)) return WIRE.size;
  return WIRE.param + lenParam;
}

function dst32Set(dst: Uint8Array, at: number, v: number): void {
  dst[at] = v & 0xff;
  dst[at + 1] = (v >>> 8) & 0xff;
  dst[at + 2] = (v >>> 16) & 0xff;
  dst[at + 3] = (v >>> 24) & 0xff;
}

/** The record header a sender writes before its datagram bytes: up to the end of its path. */
export function senderHeader(id: SenderId): Uint8Array {
  const h = new Uint8Array(RECORD.path + Buffer.byteLength(id.path, 'utf8'));
  const dv = new DataView(h.buffer);
  const path = Buffer.from(id.path, 'utf8');
  dv.setInt32(RECORD.len, WIRE.size, true);
  dv.setInt32(RECORD.flags, 0, true);
  dv.setInt32(RECORD.pid, id.pid, true);
  dv.setInt32(RECORD.uid, id.uid, true);
  dv.setInt32(RECORD.gid, id.gid, true);
  dv.setInt32(RECORD.nfds, 0, true);
  dv.setInt32(RECORD.pathLen, path.byteLength, true);
  h.set(path, RECORD.path);
  return h;
}

/**
 * Before an inbox is re-armed for a new owner: mark it CLOSED, then wait until no live sender is
 * between its check and its publish: every sender word 0, or naming a process that is gone or no
 * longer holds that process-table slot (`holds(slot, pid)`). A live sender is inside for
 * microseconds; after 1 s of waiting the inbox is given up (false: the caller runs on its socket)
 * rather than re-armed under a sender that could still write.
 */
function quiesce(i32: Int32Array, name: string, holds: (slot: number, pid: number) => boolean): boolean {
  // SYNC: seq-cst store before reading the sender words (pairs with InboxRef.enter).
  Atomics.store(i32, I.state, INBOX.STATE_CLOSED);
  const deadline = performance.now() + 1000;
  for (let s = 0; s < INBOX.senders; s++) {
    for (let waited = false; ; waited = true) {
      const pid = Atomics.load(i32, I.senders + s);
      if (pid === 0 || pid === process.pid) break;
      if (processGone(pid) || !holds(s, pid)) {
        Atomics.compareExchange(i32, I.senders + s, pid, 0); // died inside a send (or left the group)
        break;
      }
      if (performance.now() >= deadline) {
        log('warning', 'IPC', `inbox ${name}: sender pid ${pid} still inside a send after 1 s; not re-armed`);
        return false;
      }
      if (!waited) log('notice', 'IPC', `inbox ${name}: re-arming waits for sender pid ${pid}, inside a send`);
      sleepSync(0.2);
    }
  }
  return true;
}
