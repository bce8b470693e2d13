/**
 * THE layout of what net_af_packet reads and writes: the kernel's TPACKET_V3 ring structures
 * (include/uapi/linux/if_packet.h, checked against the compiler's offsetof when the addon loads) and
 * the driver's own words in its port table entry.
 *
 * RX ring: `blockNr` blocks of `blockSize` bytes; the kernel fills a block with frames and hands it over.
 * ```
 * tpacket_block_desc (at the start of every block)
 * | off | size | field                 | written by                                              |
 * |   0 |    4 | version               | kernel                                                  |
 * |   8 |    4 | block_status          | kernel: TP_STATUS_USER (1) when full or retired;        |
 * |     |      |                       | the poller: TP_STATUS_KERNEL (0) when done (R1)         |
 * |  12 |    4 | num_pkts              | kernel                                                  |
 * |  16 |    4 | offset_to_first_pkt   | kernel                                                  |
 * tpacket3_hdr (each frame of a block; the next at + tp_next_offset)
 * |   0 |    4 | tp_next_offset        | kernel (RX); 0 (TX)                                     |
 * |  12 |    4 | tp_snaplen            | kernel                                                  |
 * |  16 |    4 | tp_len                | kernel (RX), the sender (TX)                            |
 * |  20 |    4 | tp_status             | TX: the sender SEND_REQUEST (1) (T1), kernel AVAILABLE (0) |
 * |  24 |    2 | tp_mac                | kernel: where the frame starts, from the header          |
 * |  28 |    4 | hv1.tp_rxhash         | kernel                                                  |
 * ```
 * TX ring: `txFrameNr` frames of `frameSize` bytes right after the RX ring in the same mapping; a frame's
 * data starts at `txDataOff` (tp_hdrlen - sizeof(sockaddr_ll) = 48) and is sent in ring order.
 *
 * Driver words (PortContext.words; 80 u32):
 * ```
 * | word      | field                                                   | written by             |
 * |         0 | 1 while the interface is up and running                  | prober (link watch)    |
 * |         1 | ifindex                                                 | prober, at probe       |
 * |         2 | qpairs (sockets)                                        | prober, at probe       |
 * |         3 | socket generation (+1 whenever the sockets are remade)  | prober                 |
 * |         4 | rx block size                                           | prober, at probe       |
 * |         5 | rx block count                                          | prober, at probe       |
 * |         6 | frame size (tx slot)                                    | prober, at probe       |
 * |         7 | tx frame count                                          | prober, at probe       |
 * |         8 | tx data offset in a slot                                | prober, at probe       |
 * |         9 | kernel packets (PACKET_STATISTICS tp_packets, summed)   | any process (Atomics)  |
 * |        10 | kernel drops (tp_drops, summed)                         | any process (Atomics)  |
 * | 16 + 3q   | rx q: current block                                     | the queue's poller     |
 * | 17 + 3q   | rx q: frames of that block already taken                | the queue's poller     |
 * | 18 + 3q   | tx q: next frame slot                                   | the queue's poller     |
 * ```
 * A new poller of a queue (the old one died) resumes from these words.
 */

export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_AVAILABLE = 0;
export const TP_STATUS_SEND_REQUEST = 1;

/** tpacket_block_desc / tpacket_hdr_v1. */
export const BLK = { blockStatus: 8, numPkts: 12, firstPkt: 16 } as const;
/** tpacket3_hdr. */
export const HDR3 = { nextOffset: 0, snaplen: 12, len: 16, status: 20, mac: 24, rxhash: 28, size: 48 } as const;

/** PACKET_FANOUT_HASH, PACKET_FANOUT_FLAG_DEFRAG (if_packet.h). */
export const PACKET_FANOUT_HASH = 0;
export const PACKET_FANOUT_FLAG_DEFRAG = 0x8000;

export const W = {
  up: 0,
  ifindex: 1,
  qpairs: 2,
  sockGen: 3,
  blockSize: 4,
  blockNr: 5,
  frameSize: 6,
  txFrameNr: 7,
  txDataOff: 8,
  kernPackets: 9,
  kernDrops: 10,
  queues: 16,
  perQueue: 3,
} as const;
