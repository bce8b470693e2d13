import { MpError } from '@mp/memory';
import { loadAddon } from '@mp/memory/internal';
import { DESC, MEMIF_COOKIE, MSG_SIZE, OFF, RING } from './memif/layout.js';
import { GROUP_FLAG, PCI_IRQ, PCI_REGION, REGION_INFO, VFIO_API_VERSION, VFIO_TYPE1v2_IOMMU } from './vfio/regions.js';
import { BLK, HDR3 } from './drivers/af-packet-layout.js';

/** A uv_poll watcher: the callback runs once per readable wake-up (events -1: the descriptor failed). */
export interface WatchHandle {
  close(): void;
  ref(): void;
  unref(): void;
}

/** One memif ring as one side sees it (native/memif.cc, class Queue). */
export interface NativeQueue {
  rxBurst(dst: Uint8Array, offsets: Uint32Array, room: number, lens: Uint32Array, n: number): number;
  txBurst(src: Uint8Array, offsets: Uint32Array, lens: Uint32Array, n: number): number;
  close(): void;
}

/** Queue kinds of the native Queue. */
export const QUEUE_KIND = { clientTx: 0, clientRx: 1, serverRx: 2, serverTx: 3 } as const;

/** What the native addon (native/memif.cc) exports. Every argument is validated before it gets here. */
export interface PmdBinding {
  /** socket(SEQPACKET) + bind (a stale path is replaced) + chmod + listen → fd. Throws errno errors. */
  listen(name: string, abstract: boolean, mode: number, backlog: number): number;
  connect(name: string, abstract: boolean): number;
  /** → fd, or -errno (-EAGAIN: nobody waiting). */
  accept(fd: number): number;
  /** → 0 or -errno; passFd < 0: no descriptor. */
  send(fd: number, bytes: Uint8Array, passFd: number): number;
  /** → real length, 0 at EOF, -errno; out[0] = descriptor received or -1, out[1] = how many came. */
  recv(fd: number, bytes: Uint8Array, out: Int32Array): number;
  close(fd: number): void;
  memfd(name: string, size: number): number;
  fdInfo(fd: number): { kind: 'file' | 'eventfd' | 'other'; size: number; seals: number };
  eventfd(): number;
  notify(fd: number): number;
  drain(fd: number): number;
  map(fd: number, size: number): ArrayBuffer;
  /** Swap a mapping's pages for private zero pages now; false when it was not (or no longer) ours. */
  release(ab: ArrayBuffer): boolean;
  watch(fd: number, cb: (events: number) => void): WatchHandle;
  Queue: new (
    kind: number,
    regions: ArrayBuffer[],
    ringRegion: number,
    ringOffset: number,
    log2: number,
    bufferSize: number,
    eventfd: number,
    stats: BigUint64Array,
    /** Take this side's private index from the ring (a ring another process drove until now). */
    resume?: boolean,
  ) => NativeQueue;
  readonly layout: Readonly<Record<string, number>>;
}

function load(): PmdBinding {
  const b = loadAddon<PmdBinding>(import.meta.url, '@mp/pmd-vfio', 'mp_pmd_vfio');
  checkLayout(b.layout);
  return b;
}

/** Compare the compiler's sizeof/offsetof with src/memif/layout.ts; any difference is fatal. */
function checkLayout(l: Readonly<Record<string, number>>): void {
  const want: Record<string, number> = {
    msgSize: MSG_SIZE,
    ...Object.fromEntries(Object.entries(OFF).filter(([k]) => k !== 'type')),
    ringHdrSize: RING.headerSize,
    ringCookie: RING.cookie,
    ringFlagsOff: RING.flags,
    ringHead: RING.head,
    ringTail: RING.tail,
    descSize: DESC.size,
    descFlags: DESC.flags,
    descRegion: DESC.region,
    descLength: DESC.length,
    descOffset: DESC.offset,
    descMetadata: DESC.metadata,
    cookie: MEMIF_COOKIE,
  };
  const bad = Object.entries(want).filter(([k, v]) => l[k] !== v);
  if (bad.length > 0) {
    throw new MpError(
      'EPROTO',
      `@mp/pmd-vfio native layout differs from src/memif/layout.ts: ${bad.map(([k, v]) => `${k} native ${l[k]} != ts ${v}`).join(', ')}`,
    );
  }
}

/** The loaded addon (once per module instance). */
export const binding: PmdBinding = load();

// ---- vfio part (native/vfio.cc) -------------------------------------------------------------------------

/** The VFIO ioctls (native/vfio.cc). Every failure throws with `.code` = the errno name. */
export interface VfioNative {
  vfioOpen(path: string): number;
  /** op 0 GET_API_VERSION, 1 CHECK_EXTENSION, 2 SET_IOMMU, 3 GROUP_UNSET_CONTAINER → the ioctl's result. */
  vfioIoctlInt(fd: number, op: 0 | 1 | 2 | 3, arg?: number): number;
  vfioGroupStatus(fd: number): number;
  vfioGroupSetContainer(group: number, container: number): void;
  vfioGroupDevice(group: number, address: string): number;
  /** [flags, num_regions, num_irqs] */
  vfioDeviceInfo(fd: number): [number, number, number];
  vfioRegionInfo(fd: number, index: number): Uint8Array;
  /** [flags, count] */
  vfioIrqInfo(fd: number, index: number): [number, number];
  vfioSetIrqs(fd: number, index: number, start: number, efds: Int32Array): void;
  vfioPread(fd: number, offset: number, dst: Uint8Array): number;
  vfioPwrite(fd: number, offset: number, src: Uint8Array): number;
  vfioMmap(fd: number, offset: number, size: number): ArrayBuffer;
  vfioDmaMap(container: number, buffer: ArrayBuffer, iova: number): void;
  vfioDmaUnmap(container: number, iova: number, size: number): void;
  readonly vfioLayout: Readonly<Record<string, number>>;
}

/** Compare native/vfio.cc's sizes and constants with src/vfio/regions.ts; any difference is fatal. */
function checkVfioLayout(l: Readonly<Record<string, number>>): void {
  const want: Record<string, number> = {
    regionInfoSize: REGION_INFO.size,
    regionFlags: REGION_INFO.flags,
    regionIndex: REGION_INFO.index,
    regionSize: REGION_INFO.size_,
    regionOffset: REGION_INFO.offset,
    apiVersion: VFIO_API_VERSION,
    type1Iommu: VFIO_TYPE1v2_IOMMU,
    groupViable: GROUP_FLAG.viable,
    groupContainerSet: GROUP_FLAG.containerSet,
    pciConfigRegion: PCI_REGION.config,
    pciMsixIrq: PCI_IRQ.msix,
  };
  const bad = Object.entries(want).filter(([k, v]) => l[k] !== v);
  if (bad.length > 0) {
    throw new MpError('EPROTO', `@mp/pmd-vfio native vfio constants differ from src/vfio/regions.ts: ${bad.map(([k, v]) => `${k} native ${l[k]} != ts ${v}`).join(', ')}`);
  }
}

/** The vfio functions of the loaded addon. */
export const vfioNative: VfioNative = binding as unknown as VfioNative;
checkVfioLayout(vfioNative.vfioLayout);
// ---- af_packet and tap (native/af_packet.cc, native/tap.cc) ------------------------------------------

/** What afpOpen made: one AF_PACKET socket with its rings (map rxSize + txSize bytes of fd). */
export interface AfpSocket {
  fd: number;
  ifindex: number;
  rxSize: number;
  txSize: number;
  /** tp_hdrlen of TPACKET_V3 (PACKET_HDRLEN). */
  hdrLen: number;
  /** Where a TX frame's data starts within its slot (hdrLen - sizeof(sockaddr_ll)). */
  txDataOff: number;
}

/** An interface's state (ioctls by name). */
export interface IfState {
  ifindex: number;
  up: boolean;
  running: boolean;
  mtu: number;
  mac: number[];
}

/** The af_packet and tap functions of the addon. */
export interface NetBinding {
  afpOpen(
    ifname: string,
    o: { blockSize: number; blockNr: number; frameSize: number; txFrameNr: number; retireTovMs: number; qdiscBypass: boolean; /** group id | (type and flags << 16), unsigned; 0 = no fanout */ fanout: number },
  ): AfpSocket;
  /** → bytes queued or -errno. */
  afpKick(fd: number): number;
  /** [packets, drops, freezes] since the last call (the kernel resets them). */
  afpStats(fd: number): [number, number, number];
  /** fd < 0: a socket of this process's network namespace. Throws ENODEV for no such interface. */
  ifState(name: string, fd: number): IfState;
  ifSetUp(name: string, up: boolean, fd: number): void;
  copyFrames(dst: Uint8Array, dstOffs: Uint32Array, src: Uint8Array, srcOffs: Uint32Array, lens: Uint32Array, n: number): number;
  readonly afpLayout: Readonly<Record<string, number>>;
  tapOpen(name: string, queues: number): number[];
  /** → frames read (lens[i] > room: cut) or -errno. */
  tapRx(fd: number, dst: Uint8Array, offsets: Uint32Array, room: number, lens: Uint32Array, n: number): number;
  /** → frames written or -errno. */
  tapTx(fd: number, src: Uint8Array, offsets: Uint32Array, lens: Uint32Array, n: number): number;
}

/** The same addon, seen through its af_packet and tap functions (layout checked against af-packet-layout.ts). */
export const netBinding: NetBinding = checkAfpLayout(binding as unknown as NetBinding);

function checkAfpLayout(b: NetBinding): NetBinding {
  const l = b.afpLayout;
  const want: Record<string, number> = {
    blockStatus: BLK.blockStatus,
    numPkts: BLK.numPkts,
    firstPkt: BLK.firstPkt,
    nextOffset: HDR3.nextOffset,
    snaplen: HDR3.snaplen,
    len: HDR3.len,
    status: HDR3.status,
    mac: HDR3.mac,
    rxhash: HDR3.rxhash,
    hdrSize: HDR3.size,
  };
  const bad = Object.entries(want).filter(([k, v]) => l[k] !== v);
  if (bad.length > 0) {
    throw new MpError('EPROTO', `@mp/pmd-vfio native TPACKET_V3 layout differs from src/drivers/af-packet-layout.ts: ${bad.map(([k, v]) => `${k} native ${l[k]} != ts ${v}`).join(', ')}`);
  }
  return b;
}
// ---- net_af_xdp (native/af_xdp.cc) ----------------------------------------------------------------

/** One AF_XDP ring as mapped: `buf` and the byte offsets of its producer, consumer, flags and entries. */
export interface XskRingMap {
  buf: ArrayBuffer;
  producer: number;
  consumer: number;
  flags: number;
  desc: number;
}

/** The AF_XDP functions of the addon. Every argument is validated before it gets here. */
export interface XdpBinding {
  /** if_nametoindex. Throws ENODEV naming the interface. */
  xdpIfindex(name: string): number;
  /** IFF_* flags of the interface, or -errno (-ENODEV: gone). */
  xdpIfFlags(ifindex: number): number;
  /** ETHTOOL_GCHANNELS, or undefined when the driver reports none. */
  xdpChannels(name: string): { rx: number; tx: number; combined: number; maxRx: number; maxTx: number; maxCombined: number } | undefined;
  /** socket(AF_XDP) + XDP_UMEM_REG of buf[off, off+len) + ring sizes → fd. */
  xdpSocket(buf: ArrayBuffer, off: number, len: number, frameSize: number, fill: number, comp: number, rx: number, tx: number): number;
  xdpBind(fd: number, ifindex: number, queue: number): void;
  xdpRings(fd: number, fill: number, comp: number, rx: number, tx: number): { fill: XskRingMap; comp: XskRingMap; rx: XskRingMap; tx: XskRingMap };
  /** sendto(fd, NULL, 0, MSG_DONTWAIT) → 0 or -errno. */
  xdpKick(fd: number): number;
  /** XDP_STATISTICS of a socket. */
  xdpStats(fd: number): { rxDropped: number; rxInvalid: number; txInvalid: number; rxRingFull: number; rxFillEmpty: number; txRingEmpty: number };
  xdpMapCreate(entries: number): number;
  /** fd < 0: delete the key. */
  xdpMapSet(mapFd: number, key: number, fd: number): void;
  xdpProgLoad(mapFd: number): number;
  /** BPF_LINK_CREATE → the link fd and the XDP mode used. Throws EBUSY when another program is attached. */
  xdpAttach(ifindex: number, progFd: number): { fd: number; mode: 'drv' | 'skb' };
  /** BPF_LINK_DETACH → 0 or -errno. */
  xdpDetach(linkFd: number): number;
  /** memcpy src[srcOff[i], +lens[i]) → dst[dstOff[i], …) for i < n; → how many were in bounds. */
  xdpCopy(src: ArrayBuffer, srcOff: Uint32Array, dst: ArrayBuffer, dstOff: Uint32Array, lens: Uint32Array, n: number): number;
  readonly xdpLayout: Readonly<Record<string, number>>;
}

/** The addon's AF_XDP part (the same module as {@link binding}). */
export const xdp: XdpBinding = binding as unknown as XdpBinding;
