/**
 * THE layout of ethdev's shared state: the port table, memzone `mp_ethdev`, one per group (created by
 * the first process that probes a port). Every offset, size, magic and version lives here and nowhere
 * else. Integers are little-endian u32; counters are f64 (exact to 2^53; an aligned 8-byte store is
 * never torn on the machines we build for) written only by the process that owns the queue.
 *
 * Header (64 bytes)
 * | off | size | field                      | written by                              |
 * |   0 |    4 | magic 'MPET'               | creator, once, last                     |
 * |   4 |    2 | layout version             | creator, once                           |
 * |   6 |    2 | flags (0)                  | creator, once                           |
 * |   8 |    4 | table lock owner (RobustLock word) | lock holder                     |
 * |  12 |    4 | generation                 | lock holder, bumped on every port change |
 *
 * Port entry i at 64 + i·PORT.size (PORT.size = 2816)
 * | off  | size   | field                                         | written by                  |
 * |    0 |      4 | state (PS_*)                                  | lock holder                 |
 * |    4 |      4 | prober pid (its control plane)                | prober                      |
 * |    8 |      4 | nb rx queues                                  | configure (lock)            |
 * |   12 |      4 | nb tx queues                                  | configure (lock)            |
 * |   16 |      4 | link status (0 down, 1 up)                    | driver                      |
 * |   20 |      4 | link speed, Mbps                              | driver                      |
 * |   24 |      4 | link duplex (1 full)                          | driver                      |
 * |   28 |      4 | link generation (bumped on every change)      | driver                      |
 * |   32 |      4 | mtu                                           | creator / setMtu            |
 * |   36 |      4 | port generation (bumped at probe and close)   | lock holder                 |
 * |   40 |      8 | MAC address (6 bytes + 2 zero)                | prober                      |
 * |   48 |     16 | reserved                                      |                             |
 * |   64 |     64 | name (NUL-terminated UTF-8)                   | prober                      |
 * |  128 |     32 | driver name                                   | prober                      |
 * |  160 |    256 | devargs as given                              | prober                      |
 * |  416 |     32 | reserved                                      |                             |
 * |  448 | 16·64  | rx queues (RXQ below)                         |                             |
 * | 1472 | 16·64  | tx queues (TXQ below)                         |                             |
 * | 2496 |    320 | driver's own words (DRV_SIZE)                 | the driver                  |
 *
 * Queue entry (64 bytes; rx and tx alike)
 * | off | size | field                                                      |
 * |   0 |    4 | nb descriptors (0 = not set up)                            |
 * |   4 |    4 | mempool id (rx; 0 for tx)                                  |
 * |   8 |    4 | owner pid (the one process polling it; 0 = unclaimed)      |
 * |  12 |   20 | reserved                                                   |
 * |  32 |    8 | packets (f64)                                              |
 * |  40 |    8 | bytes (f64)                                                |
 * |  48 |    8 | errors (f64): rx errors / tx packets refused by a full queue |
 * |  56 |    8 | rx: mbuf allocation failures (f64)                         |
 */

import { wordIndex, wordsOf } from '@mp/memory/internal';

export const ETH_MZ_NAME = 'mp_ethdev';
export const ETH_MAGIC = 0x5445504d; // 'MPET' little-endian
export const ETH_VERSION = 1;

/** RTE_MAX_ETHPORTS. */
export const MAX_PORTS = 32;
/** Queues per direction (RTE_MAX_QUEUES_PER_PORT is 1024 in DPDK; 16 here). */
export const MAX_QUEUES = 16;
export const PORT_NAME_MAX = 63;
export const DRIVER_NAME_MAX = 31;
export const DEVARGS_MAX = 255;

export const HDR = {
  magic: 0,
  version: 4,
  flags: 6,
  lockOwner: 8,
  generation: 12,
  size: 64,
} as const;
/** Word (Uint32Array) indices of the header's 32-bit fields. */
export const HDR_W = wordsOf(HDR, ['magic', 'lockOwner', 'generation'] as const);

export const Q = {
  nbDesc: 0,
  poolId: 4,
  owner: 8,
  packets: 32,
  bytes: 40,
  errors: 48,
  nombuf: 56,
  size: 64,
} as const;

export const PORT = {
  state: 0,
  prober: 4,
  nbRxq: 8,
  nbTxq: 12,
  linkStatus: 16,
  linkSpeed: 20,
  linkDuplex: 24,
  linkGen: 28,
  mtu: 32,
  portGen: 36,
  mac: 40,
  name: 64,
  nameSize: 64,
  driver: 128,
  driverSize: 32,
  devargs: 160,
  devargsSize: 256,
  rxq: 448,
  txq: 448 + MAX_QUEUES * Q.size,
  drv: 448 + 2 * MAX_QUEUES * Q.size,
  drvSize: 320,
  size: 448 + 2 * MAX_QUEUES * Q.size + 320,
} as const;
/** 32-bit words of a port's driver area. */
export const DRV_WORDS = wordIndex(PORT.drvSize);

/** Port states. */
export const PS_FREE = 0;
export const PS_PROBED = 1;
export const PS_CONFIGURED = 2;
export const PS_STARTED = 3;
export const PS_STOPPED = 4;

export const ETH_MZ_SIZE = HDR.size + MAX_PORTS * PORT.size;

/** Byte offset of port `i`'s entry. */
export const portOff = (i: number): number => HDR.size + i * PORT.size;
/** Byte offset of rx queue `q` of port `i`. */
export const rxqOff = (i: number, q: number): number => portOff(i) + PORT.rxq + q * Q.size;
/** Byte offset of tx queue `q` of port `i`. */
export const txqOff = (i: number, q: number): number => portOff(i) + PORT.txq + q * Q.size;
