/**
 * THE byte layouts of @mp/ipc: DPDK 22.11's datagram, @mp's hidden extension, and the receive records
 * the native binding fills. Checked against the compiler's sizeof/offsetof when the binding loads.
 *
 * ## The datagram: DPDK 22.11 `struct mp_msg_internal` (lib/eal/common/eal_common_proc.c)
 * ```
 * | off | size | field                 | notes                                                    |
 * |   0 |    4 | int type              | 0 MSG, 1 REQ, 2 REP, 3 IGN                               |
 * |   4 |   64 | char name[64]         | RTE_MP_MAX_NAME_LEN, NUL-terminated, 1..63 bytes         |
 * |  68 |    4 | int len_param         | 0..256                                                   |
 * |  72 |    4 | int num_fds           | 0..8; the fds themselves travel as SCM_RIGHTS            |
 * |  76 |  256 | uint8_t param[256]    | RTE_MP_MAX_PARAM_LEN                                     |
 * | 332 |   32 | int fds[8]            | NOT sent: DPDK's iovec stops at 332 = sizeof - sizeof(fds)|
 * ```
 * A DPDK receiver rejects any datagram whose length is not exactly 332 bytes — and its `mp_handle`
 * thread then stops reading for good. @mp therefore only ever sends 332-byte datagrams. Integers are
 * host order (little-endian here), as DPDK's.
 *
 * ## @mp's extension: 12 bytes where DPDK never looks
 * ```
 * | off | size | field     |                                                                    |
 * |   0 |    4 | magic     | 0x3158504d ('MPX1' in memory)                                      |
 * |   4 |    4 | requestId | u32, 0 = none (messages)                                           |
 * |   8 |    2 | flags     | EXT_ERROR: this REP is an error reply, param = code NUL message    |
 * |     |      |           | EXT_WAKE / EXT_CARRIER: inbox wake-up / descriptor carrier (MSG    |
 * |     |      |           | 'mp_ipc_wake' / 'mp_ipc_fds', @mp group peers with an inbox only); |
 * |     |      |           | EXT_WAKE on any other message: it went inline as an inbox's wake   |
 * |  10 |    2 | check     | (magic ^ id ^ id>>>16 ^ flags ^ 0x6d70) & 0xffff                    |
 * ```
 * It sits in the bytes after the name's NUL (name[52..64), when the name is ≤ 51 bytes) or else in the
 * bytes after len_param (param[244..256), when len_param ≤ 244). DPDK reads the name with
 * strcmp/strlcpy (stops at the NUL) and the param up to len_param, so for DPDK the datagram is an
 * ordinary message. A request with a 52+ byte name *and* a 245+ byte param carries no extension: it is
 * answered DPDK-style (matched by peer and name; a failing handler sends nothing).
 *
 * ## Receive records (native → TS), RECORD.size bytes each, in one ArrayBuffer per channel
 * ```
 * | off | size | field                                                                              |
 * |   0 |    4 | len      real datagram length (MSG_TRUNC), so short/oversize are visible           |
 * |   4 |    4 | flags    MSG_TRUNC | MSG_CTRUNC | RX_FD_OVERFLOW (>8 fds came; extras closed)     |
 * |   8 |   12 | pid, uid, gid from SCM_CREDENTIALS (-1 when absent)                                 |
 * |  20 |    4 | nfds     descriptors now owned by this process (≤ 8)                               |
 * |  24 |   32 | fds[8]                                                                             |
 * |  56 |    4 | pathLen  sender's sun_path length (0: unbound sender, cannot be answered)          |
 * |  60 |  108 | path                                                                               |
 * | 168 |    4 | spill    byte offset in the buffer of the bytes past the first 332 (-1: none)      |
 * | 172 |    4 | carrier  inbox records with RX_INBOX_CARRIER: tag of the socket datagram with the fds |
 * | 176 |  332 | data     the datagram (its first 332 bytes)                                        |
 * | 508 |    4 | fast     socket reads: what the addon's check of the datagram found (FAST_*);     |
 * |     |      |          | inbox records: 0 (decoded in full)                                         |
 * ```
 * A receive buffer is RECORDS_PER_BATCH records, then the spill area: (MAX_COALESCE - 1) × 332 bytes
 * per record, in record order.
 *
 * ## Coalesced datagrams (opt-in, @mp groups only; see StartOptions.coalesce)
 * A datagram of k × 332 bytes (2 ≤ k ≤ MAX_COALESCE), without descriptors, is k one-way messages
 * (type MSG, num_fds 0), each laid out as above, handled in order. Only sent to peers of a group
 * `init()` (@mp/eal) made — all of them @mp processes; a DPDK receiver would reject the length and stop
 * reading, so a channel opened on an explicit runtime dir never sends one.
 */

import { MAX_PROCS } from '@mp/eal';

export const MP_MAX_NAME_LEN = 64;
export const MP_MAX_PARAM_LEN = 256;
export const MP_MAX_FD_NUM = 8;

/** struct mp_msg_internal offsets. */
export const WIRE = {
  type: 0,
  name: 4,
  lenParam: 68,
  numFds: 72,
  param: 76,
  fds: 332,
  /** bytes on the wire: sizeof(struct mp_msg_internal) - sizeof(fds) */
  size: 332,
  /** sizeof(struct mp_msg_internal) */
  sizeofInternal: 364,
  /** sizeof(struct rte_mp_msg) */
  sizeofRteMpMsg: 360,
} as const;

export const MP_MSG = 0;
export const MP_REQ = 1;
export const MP_REP = 2;
export const MP_IGN = 3;

export const EXT = {
  size: 12,
  magic: 0x3158504d,
  id: 4,
  flags: 8,
  check: 10,
  /** name bytes at most this long leave room for the extension in name[52..64) */
  nameRoomMax: MP_MAX_NAME_LEN - 12 - 1,
  /** len_param at most this leaves room in param[244..256) */
  paramRoomMax: MP_MAX_PARAM_LEN - 12,
} as const;
export const EXT_ERROR = 1;
/** @mp-only datagram 'mp_ipc_wake': rings an inbox owner's doorbell (no payload; see INBOX). */
export const EXT_WAKE = 2;
/** @mp-only datagram 'mp_ipc_fds': carries the descriptors of inbox record `id` (RECORD.carrier). */
export const EXT_CARRIER = 4;
export const WAKE_ACTION = 'mp_ipc_wake';
export const CARRIER_ACTION = 'mp_ipc_fds';

export const RECORD = {
  len: 0,
  flags: 4,
  pid: 8,
  uid: 12,
  gid: 16,
  nfds: 20,
  fds: 24,
  pathLen: 56,
  path: 60,
  spill: 168,
  carrier: 172,
  data: 176,
  fast: 508,
  size: 512,
} as const;
/**
 * RECORD.fast, written by the addon for every datagram it reads (native/ipc.cc Classify):
 * FAST_OK | nameLen << 8 (| FAST_EXT): one plain 332-byte datagram that decodeRecord accepts, with a
 * printable-ASCII name — decodeRecord then checks nothing again; FAST_EXT: @mp's extension is there,
 * its check word holds. FAST_WAKE: an intact wake datagram (from any uid: the reader compares it).
 * 0: decoded and checked in TypeScript.
 */
export const FAST_OK = 1;
export const FAST_WAKE = 2;
export const FAST_EXT = 1 << 16;
/** Records per batch: one read (recvmmsg) takes at most this many datagrams. */
export const RECORDS_PER_BATCH = 16;
/** Messages per coalesced datagram, at most. */
export const MAX_COALESCE = 32;
/** Spill area of a receive buffer: the tail of a full coalesced datagram for each record. */
export const SPILL_BYTES = RECORDS_PER_BATCH * (MAX_COALESCE - 1) * WIRE.size;
/** Bytes of one receive buffer. */
export const RECV_BUFFER_BYTES = RECORDS_PER_BATCH * RECORD.size + SPILL_BYTES;
export const RX_FD_OVERFLOW = 0x40000000;
/** Inbox record flag: its descriptors travel in a socket 'carrier' datagram tagged RECORD.carrier. */
export const RX_INBOX_CARRIER = 0x20000000;
/** Inbox record flag: an empty record (its sender claimed the cell, then could not send its descriptors). */
export const RX_INBOX_VOID = 0x10000000;
export const SUN_PATH_MAX = 108;

export function extCheck(id: number, flags: number): number {
  return (EXT.magic ^ (EXT.magic >>> 16) ^ id ^ (id >>> 16) ^ flags ^ 0x6d70) & 0xffff;
}

/**
 * ## Inbox: a process's shared-memory mailbox (@mp groups only; see src/inbox.ts)
 * Memzone `ipc_in_<slot>`, one per @mp/eal process-table slot: the process holding the slot owns it
 * (the only consumer); every other process of the group is a producer. An inbox's memory is never
 * freed while the group lives — when a slot passes to a new process, that process re-arms the slot's
 * inbox (new nonce and owner) — so a sender that checked an inbox an instant before it was closed
 * can only ever write into an inbox, never into memory another memzone got since. Cells are
 * RECORD-shaped, so a drained cell is decoded exactly like a received datagram (the sender fills
 * pid, uid, gid, path with its own).
 * ```
 * | off | size | field        | written by                                                      |
 * |   0 |    4 | magic        | owner, when it arms the inbox ('MPIB')                          |
 * |   4 |    2 | version      | owner, when it arms the inbox                                   |
 * |   6 |    2 | flags        | 0                                                               |
 * |   8 |    4 | ownerPid     | owner, when it arms the inbox                                   |
 * |  12 |    4 | state        | owner: 1 OPEN, 2 CLOSED (senders check before each send)        |
 * |  16 |    4 | capacity     | owner, when it arms the inbox (cells, a power of two)           |
 * |  20 |    4 | nonce        | owner, when it arms the inbox (random; senders cache it)        |
 * |  24 |    4 | nameLen      | owner, when it arms the inbox                                   |
 * |  28 |   64 | name         | owner: basename of the owner's socket (mp_socket…)              |
 * | 128 |    4 | tail         | producers (CAS): next position to claim          own cache line |
 * | 192 |    4 | pubCount     | producers (Atomics.add after each publish: the    own cache line |
 * |     |      |              | full fence of the wake-up protocol; pollers watch it)           |
 * | 256 |    4 | polling      | owner: 1 while it spins on pubCount               own cache line |
 * | 260 |    4 | doorbell     | producers CAS 0→1 before a wake datagram; owner stores 0         |
 * | 320 |    4 | head         | owner: next position to consume (informational)  own cache line |
 * | 324 |    4 | readEpoch    | owner: +1 before each read of its socket; a sender whose last     |
 * |     |      |              | message went as a datagram writes into a cell again only once this |
 * |     |      |              | moved since (see "Inline" below)                                   |
 * | 384 | 4 × MAX_PROCS | senders | one word per process-table slot: the sender's pid while it is |
 * |     |      |              | between its state check and its publish, else 0. A process      |
 * |     |      |              | re-arming the inbox stores CLOSED, then waits for every live    |
 * |     |      |              | sender's word to clear before it resets the cells                |
 * | 896 | cap × 576 | cells   |                                                                 |
 * ```
 * A cell (576 bytes = 9 cache lines; seq/claimer share the first line with the record's start):
 * ```
 * | off | size | field    |                                                                       |
 * |   0 |    4 | seq      | pos: free for position pos; pos+1: published; pos+cap: free, next lap  |
 * |   4 |    4 | claimer  | pid of the producer that claimed the cell (0: not claimed). seq and     |
 * |     |      |          | claimer are one 64-bit word: a claim is ONE CAS (pos,0) → (pos,pid), so  |
 * |     |      |          | a producer killed after claiming is always named by the cell itself     |
 * |   8 |  512 | record   | RECORD layout above: the sender writes the header up to the end of its |
 * |     |      |          | path, flags, carrier, and the datagram up to the end of its param (all  |
 * |     |      |          | 332 bytes when the extension sits in the param's tail); the consumer    |
 * |     |      |          | copies just those and sets len/nfds/spill itself                        |
 * ```
 * Producer: SYNC: senders[its slot] := its pid (seq-cst store), then check state == OPEN and the
 * nonce it cached; read tail; cell = tail & (cap-1); (seq,claimer) == (tail,0) → CAS it to (tail,pid), then
 * CAS tail → tail+1 (anyone seeing a claimed, published or consumed cell at tail helps move it); write the
 * record; SYNC: CAS (seq, claimer) (pos, pid) → (pos+1, pid) (publish; fails if a re-arm took the cell),
 * then Atomics.add(pubCount) (seq-cst RMW: a full fence);
 * then if polling == 0 and CAS(doorbell 0 → 1) wins, send a wake datagram to the owner's socket
 * (re-sent until it goes, the owner drains or is gone: a rung doorbell always has a wake on its way —
 * also for a cell published empty because its send failed after the claim); senders[its slot] := 0.
 * Consumer: doorbell := 0, then take cells while seq == head+1 (copy the record, claimer := 0,
 * SYNC: seq := head+cap); a cell claimed by a dead pid is skipped (seq := head+cap).
 *
 * Inline (version 3): a request or reply to an owner that sleeps (polling == 0, and this sender wins
 * CAS(doorbell 0 → 1)) goes *as* the wake datagram — the message itself, its ext flags with EXT_WAKE —
 * instead of into a cell. Order per sender across the two paths: a message goes by datagram only once
 * this sender's last cell was consumed (its seq moved past pos+1), and into a cell again only once
 * readEpoch moved since its last datagram was sent: the owner advances it before each socket read and
 * drains no cell between a read that came back full (RECORDS_PER_BATCH) and the next read, so that
 * read takes the datagram before any later cell is drained. The owner handles what it reads in the
 * order it read it.
 */
export const INBOX = {
  magic: 0x4249504d,
  version: 3,
  offMagic: 0,
  offVersion: 4,
  offOwnerPid: 8,
  offState: 12,
  offCapacity: 16,
  offNonce: 20,
  offNameLen: 24,
  offName: 28,
  nameMax: 64,
  offTail: 128,
  offPubCount: 192,
  offPolling: 256,
  offDoorbell: 260,
  offHead: 320,
  offReadEpoch: 324,
  offSenders: 384,
  /** one sender word per @mp/eal process-table slot */
  senders: MAX_PROCS,
  offCells: 384 + 4 * MAX_PROCS,
  cellSeq: 0,
  cellClaimer: 4,
  cellRecord: 8,
  cellSize: 576,
  capacity: 256,
  STATE_OPEN: 1,
  STATE_CLOSED: 2,
  /** The memzone's alignment: the cache line every producer/owner field above has to itself. */
  align: 64,
} as const;
/** Bytes of an inbox memzone. */
export const INBOX_BYTES = INBOX.offCells + INBOX.capacity * INBOX.cellSize;
/** Memzone name of the inbox of process-table slot `slot`. */
export function inboxName(slot: number): string {
  return `ipc_in_${slot}`;
}

/**
 * ## DPDK 22.11 malloc_mp (lib/eal/common/malloc_mp.h): `struct malloc_mp_req`, LP64
 * A DPDK primary with dynamic memory asks every secondary to sync its memory map after it maps or
 * unmaps pages (`rte_mp_request_sync`, 5 s): request `mp_malloc_sync` (or `mp_malloc_rollback`, the
 * same for an undone allocation), param = this struct with t = SYNC and an id. A secondary replies
 * under the same name with t = SYNC, the request's id and result SUCCESS (0) or FAIL (1); a primary
 * that misses a reply fails the allocation (and waits 5 s, also at exit).
 * ```
 * | off | size | field                         |                                            |
 * |   0 |    4 | enum malloc_req_type t        | 0 ALLOC, 1 FREE, 2 SYNC                    |
 * |   8 |   56 | union { alloc_req; free_req } | not used by SYNC (8-byte aligned: u64s)    |
 * |  64 |    8 | uint64_t id                   | the request's, echoed                      |
 * |  72 |    4 | enum malloc_req_result result | 0 SUCCESS, 1 FAIL                          |
 * |     |      |                               | sizeof 80 (len_param of every such message) |
 * ```
 */
export const MALLOC_MP = {
  actionSync: 'mp_malloc_sync',
  actionRollback: 'mp_malloc_rollback',
  /** The primary's one-way answers to a secondary's own mp_malloc_request (never sent by @mp). */
  actionResponse: 'mp_malloc_response',
  offType: 0,
  offId: 64,
  offResult: 72,
  size: 80,
  TYPE_SYNC: 2,
  RESULT_SUCCESS: 0,
  RESULT_FAIL: 1,
} as const;
