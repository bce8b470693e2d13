/**
 * THE byte layouts of memif 2.0 (DPDK 22.11 drivers/net/memif/memif.h; libmemif and VPP speak the
 * same): control messages, rings, descriptors and how a client lays out its region 0. Checked against
 * the compiler's sizeof/offsetof when the binding loads. Integers are host order (little-endian here).
 *
 * ## Control message: `memif_msg_t`, 128 bytes (packed, aligned 128), one per SOCK_SEQPACKET packet
 * ```
 * | off | size | field                                                                            |
 * |   0 |    2 | type       0 NONE 1 ACK 2 HELLO 3 INIT 4 ADD_REGION 5 ADD_RING 6 CONNECT          |
 * |     |      |            7 CONNECTED 8 DISCONNECT                                              |
 * |   2 |  126 | union, one of:                                                                   |
 * HELLO (server → client, first message on a new connection)
 * |   2 |   32 | name              the server app's name (DPDK: its version string)                |
 * |  34 |    2 | min_version       lowest memif version spoken (0x0200 = 2.0)                      |
 * |  36 |    2 | max_version       highest                                                         |
 * |  38 |    2 | max_region        highest region index accepted                                   |
 * |  40 |    2 | max_s2c_ring      highest server→client ring index (count - 1)                    |
 * |  42 |    2 | max_c2s_ring      highest client→server ring index (count - 1)                    |
 * |  44 |    1 | max_log2_ring_size                                                                |
 * INIT (client → server)
 * |   2 |    2 | version           must be 0x0200                                                  |
 * |   4 |    4 | id                interface id the client wants                                   |
 * |   8 |    1 | mode              0 ethernet (the only one DPDK accepts), 1 ip, 2 punt/inject     |
 * |   9 |   24 | secret            NUL-padded; compared with strncmp as DPDK                       |
 * |  33 |   32 | name              the client app's name                                           |
 * ADD_REGION (client → server, the region's memfd as SCM_RIGHTS)
 * |   2 |    2 | index             0, 1, … in order                                                |
 * |   4 |    8 | size              bytes                                                           |
 * ADD_RING (client → server, the ring's interrupt eventfd as SCM_RIGHTS)
 * |   2 |    2 | flags             bit 0: C2S (client→server), else S2C                            |
 * |   4 |    2 | index             ring index in its direction                                     |
 * |   6 |    2 | region            region holding the ring (DPDK: always 0)                        |
 * |   8 |    4 | offset            ring offset in that region                                      |
 * |  12 |    1 | log2_ring_size                                                                    |
 * |  13 |    2 | private_hdr_size  0                                                               |
 * CONNECT (client → server) / CONNECTED (server → client)
 * |   2 |   32 | if_name           the sender's interface name                                     |
 * DISCONNECT (either way, then the socket closes)
 * |   2 |    4 | code              error code (DPDK sends 0)                                       |
 * |   6 |   96 | string            the reason                                                      |
 * ```
 * Every message is answered: INIT, ADD_REGION and ADD_RING by ACK, CONNECT by CONNECTED. A DPDK client
 * sends its next message only when the ACK of the previous one came (one per wake-up); so does ours.
 *
 * ## Ring: `memif_ring_t`, in region `region` at `offset`, 128 + 16 × 2^log2 bytes
 * ```
 * | off | size | field   | written by                                                             |
 * |   0 |    4 | cookie  | client, at init (0x3E31F20; the server checks it at CONNECT)           |
 * |   4 |    2 | flags   | the ring's receiver: bit 0 MASK_INT = "I poll, write no eventfd"       |
 * |   6 |    2 | head    | the client, always: C2S = frames published, S2C = empty buffers given  |
 * |  64 |    2 | tail    | the server, always: C2S = slots consumed,  S2C = frames published      |  own cache line
 * | 128 | 16×n | desc[n] | the sender of the slot                                                 |  n = 2^log2
 * ```
 * head/tail are free-running u16 (mod 2^16; 2^log2 ≤ 2^14 so differences are exact).
 *
 * ## Descriptor: `memif_desc_t`, 16 bytes
 * ```
 * | off | size | field    |                                                                       |
 * |   0 |    2 | flags    | bit 0 NEXT: the frame continues in the next slot                      |
 * |   2 |    2 | region   | region of the buffer                                                  |
 * |   4 |    4 | length   | S2C slots given by the client: buffer size; else: bytes of the frame  |
 * |   8 |    4 | offset   | buffer offset in the region                                           |
 * |  12 |    4 | metadata | 0                                                                     |
 * ```
 *
 * ## Region 0 as a client lays it out (DPDK's memif_region_init_shm + memif_init_rings)
 * ```
 * | 0                      | C2S ring 0 … C2S ring c-1, S2C ring 0 … S2C ring s-1 (RING_SIZE each) |
 * | (c + s) × RING_SIZE    | buffers: ring r (C2S r, then S2C c + r), slot j at                     |
 * |                        |   bufferOffset + (r × 2^log2 + j) × bufferSize                         |
 * ```
 * The whole region is one memfd sealed with F_SEAL_SHRINK (so the server can never take a SIGBUS).
 */

/** memif_msg_t size: every control packet is exactly this long. */
export const MSG_SIZE = 128;
/** MEMIF_COOKIE: the first word of every ring. */
export const MEMIF_COOKIE = 0x3e31f20;
/** MEMIF_VERSION: 2.0. */
export const MEMIF_VERSION = 0x0200;
/** MEMIF_NAME_SZ: app and interface names. */
export const NAME_SIZE = 32;
/** ETH_MEMIF_SECRET_SIZE. */
export const SECRET_SIZE = 24;
/** Size of a DISCONNECT reason (ETH_MEMIF_DISC_STRING_SIZE). */
export const REASON_SIZE = 96;
/** ETH_MEMIF_MAX_LOG2_RING_SIZE. */
export const MAX_LOG2_RING_SIZE = 14;
/** ETH_MEMIF_MAX_NUM_Q_PAIRS: rings per direction. */
export const MAX_RINGS = 255;
/** ETH_MEMIF_MAX_REGION_NUM. */
export const MAX_REGIONS = 256;
/** Region offsets are u32: a region past 4 GiB cannot be addressed. */
export const MAX_REGION_SIZE = 2 ** 32;

export const MSG = {
  NONE: 0,
  ACK: 1,
  HELLO: 2,
  INIT: 3,
  ADD_REGION: 4,
  ADD_RING: 5,
  CONNECT: 6,
  CONNECTED: 7,
  DISCONNECT: 8,
} as const;
export type MsgType = (typeof MSG)[keyof typeof MSG];

/** Byte offsets inside a control message. */
export const OFF = {
  type: 0,
  helloName: 2,
  helloMinVersion: 34,
  helloMaxVersion: 36,
  helloMaxRegion: 38,
  helloMaxS2c: 40,
  helloMaxC2s: 42,
  helloMaxLog2: 44,
  initVersion: 2,
  initId: 4,
  initMode: 8,
  initSecret: 9,
  initName: 33,
  regionIndex: 2,
  regionSize: 4,
  ringFlags: 2,
  ringIndex: 4,
  ringRegion: 6,
  ringOffset: 8,
  ringLog2: 12,
  ringPrivHdr: 13,
  ifName: 2,
  discCode: 2,
  discString: 6,
} as const;

/** ADD_RING flags bit 0: the ring goes client → server. */
export const ADD_RING_FLAG_C2S = 1;
/** Interface mode ethernet (the only one DPDK's net_memif accepts). */
export const MODE_ETHERNET = 0;

/** memif_ring_t header offsets (bytes) and size; descriptors follow it. */
export const RING = {
  cookie: 0,
  flags: 4,
  head: 6,
  tail: 64,
  desc: 128,
  headerSize: 128,
} as const;
/** Ring word indices for a Uint16Array over a ring (the hot path never divides). */
export const RING_U16 = { flags: RING.flags >> 1, head: RING.head >> 1, tail: RING.tail >> 1 } as const;
/** MEMIF_RING_FLAG_MASK_INT: the receiver polls; the sender writes no eventfd. */
export const RING_FLAG_MASK_INT = 1;

/** memif_desc_t offsets and size. */
export const DESC = { flags: 0, region: 2, length: 4, offset: 8, metadata: 12, size: 16 } as const;
/** MEMIF_DESC_FLAG_NEXT: the frame continues in the next slot. */
export const DESC_FLAG_NEXT = 1;

/** Bytes of one ring of 2^log2 slots. */
export function ringBytes(log2: number): number {
  return RING.headerSize + DESC.size * 2 ** log2;
}

/** Where a client puts rings and buffers in region 0 (DPDK's layout, so a dump reads the same). */
export interface RegionPlan {
  c2s: number;
  s2c: number;
  log2: number;
  bufferSize: number;
  /** Offset of ring `i` of a direction. */
  ringOffset(dir: 'c2s' | 's2c', i: number): number;
  /** Offset of the buffer of slot `j` of ring `i` of a direction. */
  bufferOffset(dir: 'c2s' | 's2c', i: number, j: number): number;
  /** The region's size. */
  size: number;
}

export function planRegion(c2s: number, s2c: number, log2: number, bufferSize: number): RegionPlan {
  const rb = ringBytes(log2);
  const n = 2 ** log2;
  const buffers = (c2s + s2c) * rb;
  const idx = (dir: 'c2s' | 's2c', i: number): number => (dir === 'c2s' ? i : c2s + i);
  return {
    c2s,
    s2c,
    log2,
    bufferSize,
    ringOffset: (dir, i) => idx(dir, i) * rb,
    bufferOffset: (dir, i, j) => buffers + (idx(dir, i) * n + j) * bufferSize,
    size: buffers + (c2s + s2c) * n * bufferSize,
  };
}
