/**
 * net_af_xdp's words in the port table entry (PortContext.words), written by the prober, read by every
 * process; and the names every part of the driver shares.
 *
 * Driver words (PortContext.words), written by the prober:
 * ```
 * | word | field                                                                          |
 * |    0 | socket generation: +1 each time the sockets are made; 0 = none; a queue remaps  |
 * |    1 | 1 while the interface is up and running (and the port started)                |
 * |    2 | ifindex                                                                        |
 * |    3 | start_queue                                                                    |
 * |    4 | queue_count                                                                    |
 * |    5 | sockets made (queues)                                                          |
 * |    6 | rx ring size = rx frames per queue (fill ring the same)                         |
 * |    7 | tx ring size = tx frames per queue (completion ring the same)                   |
 * |    8 | bytes of UMEM per queue (rx frames, then tx frames; FRAME bytes each)           |
 * |    9 | XDP mode: 1 native (drv), 2 generic (skb)                                       |
 * ```
 * UMEM of queue q: memzone `xdp<port>g<gen>` bytes [q·slice, (q+1)·slice); frame addresses are
 * offsets in that slice: rx frames [0, rxd·FRAME), tx frames after.
 */

export const W_GEN = 0;
export const W_UP = 1;
export const W_IFINDEX = 2;
export const W_START_Q = 3;
export const W_QCOUNT = 4;
export const W_NQ = 5;
export const W_RXD = 6;
export const W_TXD = 7;
export const W_SLICE = 8;
export const W_MODE = 9;
/** Words the driver uses (zeroed at probe). */
export const W_COUNT = 10;

export const DRIVER = 'net_af_xdp';
/** UMEM frame size (the kernel accepts 2048..page size). */
export const FRAME = 2048;

/** The memzone holding the UMEMs of a port's sockets of generation `gen`. */
export const mzName = (port: number, gen: number): string => `xdp${port}g${gen}`;
