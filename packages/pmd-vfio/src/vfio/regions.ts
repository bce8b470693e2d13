/**
 * VFIO's region and interrupt numbering for PCI devices (linux/vfio.h) and the decoding of
 * `struct vfio_region_info`, whose size and offsets native/vfio.cc reports (checked at load).
 *
 * struct vfio_region_info (32 bytes)
 * | off | size | field                                  |
 * |   0 |    4 | argsz                                  |
 * |   4 |    4 | flags (READ 1, WRITE 2, MMAP 4, CAPS 8) |
 * |   8 |    4 | index                                  |
 * |  12 |    4 | cap_offset                             |
 * |  16 |    8 | size                                   |
 * |  24 |    8 | offset (within the device fd)          |
 */
import { MpError } from '@mp/memory';

export const REGION_INFO = { size: 32, flags: 4, index: 8, size_: 16, offset: 24 } as const;
export const REGION_FLAG = { read: 1, write: 2, mmap: 4, caps: 8 } as const;
/** VFIO_PCI_*_REGION_INDEX. */
export const PCI_REGION = { bar0: 0, bar5: 5, rom: 6, config: 7, vga: 8 } as const;
/** VFIO_PCI_*_IRQ_INDEX. */
export const PCI_IRQ = { intx: 0, msi: 1, msix: 2, err: 3, req: 4 } as const;
/** VFIO_GROUP_FLAGS_*. */
export const GROUP_FLAG = { viable: 1, containerSet: 2 } as const;
export const VFIO_API_VERSION = 0;
export const VFIO_TYPE1v2_IOMMU = 3;

export interface RegionInfo {
  index: number;
  flags: number;
  size: number;
  offset: number;
  readable: boolean;
  writable: boolean;
  mappable: boolean;
}

/**
 * Decode a `struct vfio_region_info` as the kernel filled it.
 *
 * @throws {MpError} EPROTO — shorter than the struct, or a size/offset beyond 2^53
 */
export function decodeRegionInfo(raw: Uint8Array): RegionInfo {
  if (raw.byteLength < REGION_INFO.size) throw new MpError('EPROTO', `vfio_region_info is ${raw.byteLength} bytes (< ${REGION_INFO.size})`);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const size = dv.getBigUint64(REGION_INFO.size_, true);
  const offset = dv.getBigUint64(REGION_INFO.offset, true);
  if (size > BigInt(Number.MAX_SAFE_INTEGER) || offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MpError('EPROTO', `vfio_region_info size 0x${size.toString(16)} / offset 0x${offset.toString(16)} is beyond 2^53`);
  }
  const flags = dv.getUint32(REGION_INFO.flags, true);
  return {
    index: dv.getUint32(REGION_INFO.index, true),
    flags,
    size: Number(size),
    offset: Number(offset),
    readable: (flags & REGION_FLAG.read) !== 0,
    writable: (flags & REGION_FLAG.write) !== 0,
    mappable: (flags & REGION_FLAG.mmap) !== 0,
  };
}
