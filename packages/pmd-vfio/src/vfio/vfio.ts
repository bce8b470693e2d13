/**
 * A PCI function bound to vfio-pci, as the kernel's VFIO interface gives it (driver-api/vfio.rst):
 * a container (/dev/vfio/vfio) with a type-1 IOMMU, the device's group (/dev/vfio/<n>), the device fd;
 * configuration space through the config region, BARs mmapped, DMA mapped into the container's
 * IOMMU, MSI-X vector 0 as an eventfd for the configuration interrupt.
 *
 * The process that opens it (the prober) hands the three fds to the others over @mp/ipc (SCM_RIGHTS,
 * see ../drivers/vfio-pci.ts): they share the container, so a DMA mapping made by one holds for all.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MpError } from '@mp/memory';
import type { MpErrorCode } from '@mp/memory';
import { binding, vfioNative as v } from '../binding.js';
import type { WatchHandle } from '../binding.js';
import type { Bar, PciFunction } from '../virtio/pci-function.js';
import { parsePciAddress } from './address.js';
import { GROUP_FLAG, PCI_IRQ, PCI_REGION, VFIO_API_VERSION, VFIO_TYPE1v2_IOMMU, decodeRegionInfo } from './regions.js';
import type { RegionInfo } from './regions.js';
import { readPciDevice, vfioGroupOf } from './sysfs.js';

/** Where to look (tests point these at fakes). */
export interface VfioPaths {
  /** Default `/sys`. */
  sysfs?: string;
  /** Default `/dev/vfio`. */
  dev?: string;
}

/** The container, group and device fds of one function, in that order. */
export type VfioFds = readonly [container: number, group: number, device: number];

/** Rethrow a native errno error as MpError with `what` in front. */
function fail(err: unknown, what: string, map: Record<string, string> = {}): never {
  const e = err as NodeJS.ErrnoException;
  const code = (map[e.code ?? ''] ?? e.code ?? 'EIO') as MpErrorCode;
  throw new MpError(code, `${what}: ${e.message}`, { cause: err, ...(e.syscall ? { syscall: e.syscall } : {}) });
}

/** Registers of a BAR mapped into this process: one access of the width asked (Atomics). */
class MmioBar implements Bar {
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  constructor(
    readonly buffer: ArrayBuffer,
    private readonly what: string,
  ) {
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >> 1);
    this.u32 = new Uint32Array(buffer, 0, buffer.byteLength >> 2);
  }
  private check(off: number, w: number): void {
    if (!Number.isInteger(off) || off < 0 || off + w > this.u8.length || off % w !== 0) {
      throw new MpError('EINVAL', `${this.what}: ${w}-byte access at 0x${off.toString(16)} is outside the BAR or unaligned`);
    }
  }
  read8(off: number): number {
    this.check(off, 1);
    return Atomics.load(this.u8, off);
  }
  read16(off: number): number {
    this.check(off, 2);
    return Atomics.load(this.u16, off >> 1);
  }
  read32(off: number): number {
    this.check(off, 4);
    return Atomics.load(this.u32, off >> 2);
  }
  write8(off: number, val: number): void {
    this.check(off, 1);
    Atomics.store(this.u8, off, val);
  }
  write16(off: number, val: number): void {
    this.check(off, 2);
    Atomics.store(this.u16, off >> 1, val);
  }
  write32(off: number, val: number): void {
    this.check(off, 4);
    Atomics.store(this.u32, off >> 2, val >>> 0);
  }
}

export class VfioFunction implements PciFunction {
  private readonly bars = new Map<number, MmioBar>();
  private config: RegionInfo | undefined;
  private closed = false;
  private readonly one = new Uint8Array(4);

  private constructor(
    readonly address: string,
    private readonly container: number,
    private readonly group: number,
    private readonly device: number,
  ) {}

  /**
   * Open a device bound to vfio-pci: check sysfs, open the container and the group, attach them, pick
   * the type-1 IOMMU, get the device fd.
   *
   * @throws {MpError} EINVAL — a malformed address
   * @throws {MpError} ENOTSUP — /dev/vfio/vfio is absent (no VFIO in this kernel), an unknown VFIO API
   *   version, or no type-1 IOMMU
   * @throws {MpError} ENODEV — no such device, not bound to vfio-pci, no IOMMU group (all naming the address)
   * @throws {MpError} EPERM — the group's device file may not be opened (root, or chown it to this user)
   * @throws {MpError} EBUSY — the group is not viable (another device of it is bound to a host driver)
   *   or in use by another container
   * @see rte_vfio_setup_device
   */
  static open(addr: string, paths: VfioPaths = {}): VfioFunction {
    const address = parsePciAddress(addr);
    const devDir = paths.dev ?? '/dev/vfio';
    const cpath = join(devDir, 'vfio');
    if (!existsSync(cpath)) throw new MpError('ENOTSUP', `${cpath} is absent: this kernel has no VFIO (CONFIG_VFIO, modprobe vfio-pci) — cannot use PCI device ${address}`);
    const group = vfioGroupOf(readPciDevice(address, paths.sysfs));
    const fds: number[] = [];
    try {
      let container: number;
      try {
        container = v.vfioOpen(cpath);
      } catch (err) {
        fail(err, `open ${cpath}`, { EACCES: 'EPERM' });
      }
      fds.push(container);
      const api = v.vfioIoctlInt(container, 0);
      if (api !== VFIO_API_VERSION) throw new MpError('ENOTSUP', `VFIO API version ${api} (this driver speaks ${VFIO_API_VERSION})`);
      if (v.vfioIoctlInt(container, 1, VFIO_TYPE1v2_IOMMU) !== 1) throw new MpError('ENOTSUP', `the VFIO container has no type-1 v2 IOMMU (needed for ${address})`);
      const gpath = join(devDir, String(group));
      let g: number;
      try {
        g = v.vfioOpen(gpath);
      } catch (err) {
        fail(err, `open ${gpath} (IOMMU group of ${address})`, { EACCES: 'EPERM', ENOENT: 'ENODEV' });
      }
      fds.push(g);
      const st = v.vfioGroupStatus(g);
      if ((st & GROUP_FLAG.viable) === 0) throw new MpError('EBUSY', `IOMMU group ${group} of ${address} is not viable: bind every device of /sys/kernel/iommu_groups/${group}/devices to vfio-pci (or unbind it)`);
      try {
        v.vfioGroupSetContainer(g, container);
      } catch (err) {
        fail(err, `IOMMU group ${group} of ${address}: VFIO_GROUP_SET_CONTAINER (is another process using it?)`, { EINVAL: 'EBUSY' });
      }
      v.vfioIoctlInt(container, 2, VFIO_TYPE1v2_IOMMU);
      let dev: number;
      try {
        dev = v.vfioGroupDevice(g, address);
      } catch (err) {
        fail(err, `${address}: VFIO_GROUP_GET_DEVICE_FD`, { EINVAL: 'ENODEV' });
      }
      fds.push(dev);
      const f = new VfioFunction(address, container, g, dev);
      f.info();
      return f;
    } catch (err) {
      for (const fd of fds.reverse()) binding.close(fd);
      if (err instanceof MpError) throw err;
      fail(err, `VFIO setup of ${address}`, { ENOTTY: 'ENOTSUP' });
    }
  }

  /** A function from fds another process opened (received over @mp/ipc; this object owns them now). */
  static fromFds(address: string, fds: VfioFds): VfioFunction {
    const f = new VfioFunction(parsePciAddress(address), fds[0], fds[1], fds[2]);
    f.info();
    return f;
  }

  /** The three fds to hand to another process (still owned by this one). */
  fds(): VfioFds {
    return [this.container, this.group, this.device];
  }

  /**
   * VFIO_DEVICE_GET_INFO.
   * @throws {MpError} ENODEV — the fd is not a PCI device of VFIO
   */
  info(): { flags: number; regions: number; irqs: number } {
    let r: [number, number, number];
    try {
      r = v.vfioDeviceInfo(this.device);
    } catch (err) {
      fail(err, `${this.address}: VFIO_DEVICE_GET_INFO`, { ENOTTY: 'ENODEV', EINVAL: 'ENODEV' });
    }
    if (r[1] <= PCI_REGION.config) throw new MpError('ENODEV', `${this.address}: VFIO reports ${r[1]} regions (not a PCI device)`);
    return { flags: r[0], regions: r[1], irqs: r[2] };
  }

  /**
   * VFIO_DEVICE_GET_REGION_INFO, decoded.
   * @throws {MpError} EINVAL — no such region · EPROTO — an undecodable answer
   */
  region(index: number): RegionInfo {
    try {
      return decodeRegionInfo(v.vfioRegionInfo(this.device, index));
    } catch (err) {
      if (err instanceof MpError) throw err;
      fail(err, `${this.address}: region ${index}`);
    }
  }

  /** @throws {MpError} EIO — a short read · EINVAL — no config region */
  configRead(off: number, width: 1 | 2 | 4): number {
    const c = (this.config ??= this.region(PCI_REGION.config));
    const b = this.one.subarray(0, width);
    if (v.vfioPread(this.device, c.offset + off, b) !== width) throw new MpError('EIO', `${this.address}: short read of config space at ${off}`);
    let x = 0;
    for (let i = width - 1; i >= 0; i--) x = x * 256 + b[i]!;
    return x;
  }

  /** @throws {MpError} EIO — a short write · EINVAL — no config region */
  configWrite(off: number, width: 1 | 2 | 4, val: number): void {
    const c = (this.config ??= this.region(PCI_REGION.config));
    const b = this.one.subarray(0, width);
    for (let i = 0; i < width; i++) b[i] = (val >>> (8 * i)) & 0xff;
    if (v.vfioPwrite(this.device, c.offset + off, b) !== width) throw new MpError('EIO', `${this.address}: short write of config space at ${off}`);
  }

  /**
   * BAR `index` mmapped (memory decoding and bus mastering are switched on first).
   * @throws {MpError} EINVAL — not 0..5, absent, or not mappable · ENOMEM / EPERM — from mmap
   */
  bar(index: number): Bar {
    let b = this.bars.get(index);
    if (b !== undefined) return b;
    if (!Number.isInteger(index) || index < 0 || index > PCI_REGION.bar5) throw new MpError('EINVAL', `${this.address}: no BAR ${index} (0..5)`);
    const r = this.region(index);
    if (r.size === 0 || !r.mappable) throw new MpError('EINVAL', `${this.address}: BAR ${index} is ${r.size === 0 ? 'absent' : 'not mappable (an I/O BAR?)'}`);
    // Bus mastering and memory decoding on, as DPDK's pci_vfio does before the device DMAs.
    this.configWrite(0x04, 2, this.configRead(0x04, 2) | 0x6);
    try {
      b = new MmioBar(v.vfioMmap(this.device, r.offset, r.size), `${this.address} BAR ${index}`);
    } catch (err) {
      fail(err, `${this.address}: mmap of BAR ${index}`);
    }
    this.bars.set(index, b);
    return b;
  }

  /** @throws {MpError} ENOMEM (locked-memory limit) / ENOSPC / EINVAL — from VFIO_IOMMU_MAP_DMA */
  dmaMap(name: string, buffer: ArrayBuffer, iova: number): void {
    try {
      v.vfioDmaMap(this.container, buffer, iova);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // mapped already (by this group)
      fail(err, `${this.address}: VFIO_IOMMU_MAP_DMA of memzone ${name} at IOVA 0x${iova.toString(16)}`);
    }
  }

  dmaUnmap(iova: number, size: number): void {
    v.vfioDmaUnmap(this.container, iova, size);
  }

  /**
   * MSI-X vector 0 → an eventfd → `cb` (the virtio configuration vector is 0).
   * @throws {MpError} EINVAL — the device has no MSI-X (from VFIO_DEVICE_SET_IRQS)
   */
  watchConfig(cb: () => void): { close(): void } {
    const efd = binding.eventfd();
    let w: WatchHandle;
    try {
      v.vfioSetIrqs(this.device, PCI_IRQ.msix, 0, Int32Array.of(efd));
      w = binding.watch(efd, () => {
        binding.drain(efd);
        cb();
      });
      w.unref();
    } catch (err) {
      binding.close(efd);
      fail(err, `${this.address}: MSI-X vector 0`);
    }
    return {
      close: (): void => {
        w.close();
        try {
          v.vfioSetIrqs(this.device, PCI_IRQ.msix, 0, new Int32Array(0));
        } finally {
          binding.close(efd);
        }
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bars.clear();
    binding.close(this.device);
    binding.close(this.group);
    binding.close(this.container);
  }
}
