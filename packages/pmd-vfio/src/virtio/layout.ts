/**
 * THE layout of everything virtio this package reads or writes: the modern virtio-PCI capability and
 * register structures (virtio 1.2, §4.1.4), the split virtqueue (§2.7) and virtio-net's header and
 * device configuration (§5.1). All little-endian. Numbers live here and nowhere else.
 *
 * PCI vendor capability (cap_vndr 0x09), at a config-space offset found by walking the capability list
 * | off | size | field                                   |
 * |   0 |    1 | cap_vndr (0x09)                         |
 * |   1 |    1 | cap_next                                |
 * |   2 |    1 | cap_len                                 |
 * |   3 |    1 | cfg_type (CAP_COMMON … CAP_PCI)         |
 * |   4 |    1 | bar                                     |
 * |   5 |    1 | id                                      |
 * |   8 |    4 | offset within the bar                   |
 * |  12 |    4 | length                                  |
 * |  16 |    4 | notify_off_multiplier (CAP_NOTIFY only) |
 *
 * Common configuration (cfg_type 1), in a BAR; queue_* fields show the queue named by queue_select
 * | off | size | field                  | off | size | field              |
 * |   0 |    4 | device_feature_select  |  22 |    2 | queue_select       |
 * |   4 |    4 | device_feature         |  24 |    2 | queue_size         |
 * |   8 |    4 | driver_feature_select  |  26 |    2 | queue_msix_vector  |
 * |  12 |    4 | driver_feature         |  28 |    2 | queue_enable       |
 * |  16 |    2 | config_msix_vector     |  30 |    2 | queue_notify_off   |
 * |  18 |    2 | num_queues             |  32 |    8 | queue_desc         |
 * |  20 |    1 | device_status          |  40 |    8 | queue_driver       |
 * |  21 |    1 | config_generation      |  48 |    8 | queue_device       |
 *
 * Split virtqueue of N entries (N a power of two ≤ QUEUE_MAX), as this driver places it in its memzone
 * (one slot per virtqueue, VQ.slot(N) bytes apart)
 * | off          | size   | field                                     | written by            |
 * |            0 |     64 | driver state: S_* words below (size first | the polling process   |
 * |              |        |   so a slot is readable without knowing N) |                       |
 * |           64 |   16·N | descriptor table {addr u64, len u32,      | driver                |
 * |              |        |   flags u16, next u16}                    |                       |
 * |    64 + 16·N | 6+2·N  | avail {flags u16, idx u16, ring u16[N],   | driver (idx: release) |
 * |              |        |   used_event u16}                         |                       |
 * | align 4      | 6+8·N  | used {flags u16, idx u16, ring {id u32,   | device (idx: release) |
 * |              |        |   len u32}[N], avail_event u16}           |                       |
 * | align 64     |   4·N  | mbuf handle of descriptor i (0 = free)    | the polling process   |
 * |              |   4·N  | free descriptor stack                     | the polling process   |
 * The driver state is in shared memory so that a queue set up (and filled) by one process is polled by
 * another, and taken over after its poller dies.
 *
 * virtio-net header with VIRTIO_F_VERSION_1 (12 bytes, in front of every frame, both directions):
 * flags u8, gso_type u8, hdr_len u16, gso_size u16, csum_start u16, csum_offset u16, num_buffers u16.
 *
 * virtio-net device configuration (cfg_type 4)
 * | off | size | field                                         |
 * |   0 |    6 | mac (VIRTIO_NET_F_MAC)                        |
 * |   6 |    2 | status (VIRTIO_NET_F_STATUS): bit 0 link up   |
 * |   8 |    2 | max_virtqueue_pairs (VIRTIO_NET_F_MQ)         |
 * |  10 |    2 | mtu (VIRTIO_NET_F_MTU)                        |
 */

/** PCI configuration space. */
export const PCI = {
  vendorId: 0x00,
  deviceId: 0x02,
  command: 0x04,
  status: 0x06,
  capPtr: 0x34,
  /** status bit: a capability list exists */
  statusCapList: 0x10,
  /** command bits: memory space, bus master */
  cmdMemory: 0x2,
  cmdBusMaster: 0x4,
  capVendor: 0x09,
  capMsix: 0x11,
  configSize: 256,
} as const;

/** Red Hat's virtio vendor id; modern virtio-net is device 0x1041 (0x1040 + 1), transitional 0x1000. */
export const VIRTIO_VENDOR = 0x1af4;
export const VIRTIO_NET_MODERN = 0x1041;
export const VIRTIO_NET_TRANSITIONAL = 0x1000;

/** Offsets in a virtio vendor capability. */
export const CAP = { vndr: 0, next: 1, len: 2, cfgType: 3, bar: 4, id: 5, offset: 8, length: 12, notifyMult: 16, size: 16, notifySize: 20 } as const;
export const CAP_COMMON = 1;
export const CAP_NOTIFY = 2;
export const CAP_ISR = 3;
export const CAP_DEVICE = 4;
export const CAP_PCI = 5;

/** Offsets in the common configuration. */
export const COMMON = {
  dfSelect: 0,
  df: 4,
  gfSelect: 8,
  gf: 12,
  msixConfig: 16,
  numQueues: 18,
  status: 20,
  cfgGeneration: 21,
  qSelect: 22,
  qSize: 24,
  qMsix: 26,
  qEnable: 28,
  qNotifyOff: 30,
  qDescLo: 32,
  qDescHi: 36,
  qDriverLo: 40,
  qDriverHi: 44,
  qDeviceLo: 48,
  qDeviceHi: 52,
  size: 56,
} as const;

/** device_status bits. */
export const STATUS = { acknowledge: 1, driver: 2, driverOk: 4, featuresOk: 8, needsReset: 64, failed: 128 } as const;
/** MSI-X "no vector". */
export const NO_VECTOR = 0xffff;
/** ISR bits: a queue interrupt, a configuration change. */
export const ISR_QUEUE = 1;
export const ISR_CONFIG = 2;

/** Feature bits (as bit numbers). */
export const F = {
  netMtu: 3,
  netMac: 5,
  netMrgRxbuf: 15,
  netStatus: 16,
  netCtrlVq: 17,
  netMq: 22,
  ringEventIdx: 29,
  version1: 32,
  accessPlatform: 33,
  ringPacked: 34,
  inOrder: 35,
} as const;
export const bit = (n: number): bigint => 1n << BigInt(n);

/** virtio-net device configuration offsets and values. */
export const NETCFG = { mac: 0, status: 6, maxPairs: 8, mtu: 10, size: 12 } as const;
export const NET_S_LINK_UP = 1;
/** The net header's size with VERSION_1, and the offset of num_buffers in it. */
export const NET_HDR_SIZE = 12;
export const NET_HDR_NUM_BUFFERS = 10;
/** Control virtqueue: class MQ, command VQ_PAIRS_SET; ack values. */
export const CTRL_MQ = 4;
export const CTRL_MQ_VQ_PAIRS_SET = 0;
export const CTRL_OK = 0;
export const CTRL_ERR = 1;

/** Descriptor flags, ring flags. */
export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
export const AVAIL_F_NO_INTERRUPT = 1;
export const USED_F_NO_NOTIFY = 1;

/** The largest queue this driver sets up (the device may offer more; it gets this many). */
export const QUEUE_MAX = 4096;

/** Indices of the driver-state words of a queue slot (u32). */
export const S = {
  /** next avail index (free running, mod 2^16) */
  avail: 0,
  /** next used index to read */
  used: 1,
  /** free descriptors */
  nfree: 2,
  /** queue size N (0 = not set up) */
  size: 3,
  /** used elements whose id or length was malformed (dropped) */
  bad: 4,
  /** notify offset in the notify BAR, bytes */
  notifyOff: 5,
  size_: 64,
} as const;

/** Byte offset of the driver state in every slot. */
export const VQ_STATE = 0;

/** Byte offsets of the parts of a queue slot of N entries, and the slot's size. */
export interface VqLayout {
  n: number;
  desc: number;
  avail: number;
  used: number;
  state: number;
  handles: number;
  free: number;
  size: number;
}

const up = (x: number, a: number): number => Math.ceil(x / a) * a;

/** The layout of a queue slot of n entries (n a power of two). */
export function vqLayout(n: number): VqLayout {
  // The state words come first: VQ_STATE is where any process finds a slot's size.
  const state = 0;
  const desc = S.size_;
  const avail = desc + 16 * n;
  const used = up(avail + 6 + 2 * n, 4);
  const handles = up(used + 6 + 8 * n, 64);
  const free = handles + 4 * n;
  const size = up(free + 4 * n, 4096);
  return { n, desc, avail, used, state, handles, free, size };
}

/** Virtqueue numbering of virtio-net: receiveq k = 2k, transmitq k = 2k + 1, controlq after the pairs. */
export const rxVq = (k: number): number => 2 * k;
export const txVq = (k: number): number => 2 * k + 1;
export const ctrlVq = (maxPairs: number): number => 2 * maxPairs;

/**
 * IOVAs this driver gives the device: one window of IOVA_STRIDE bytes per DMA-mapped memzone, at
 * IOVA_BASE + slot · IOVA_STRIDE; slot 0 is the port's virtqueue memzone, slot k (1..255) the mempool
 * of id k. Fixed, so every process of the group computes the same address for the same byte.
 */
export const IOVA_BASE = 2 ** 32;
export const IOVA_STRIDE = 2 ** 32;
export const iovaOf = (slot: number): number => IOVA_BASE + slot * IOVA_STRIDE;
