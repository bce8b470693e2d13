/**
 * What the virtio-PCI driver needs of a PCI function, and nothing more: its configuration space, its
 * BARs as registers, DMA mapping of memory it hands the device, and the configuration-change
 * interrupt. Two implementations: {@link VfioFunction} (a real device bound to vfio-pci) and the
 * in-memory device model of `src/virtio/model-*.ts` (a virtio-net device simulated by another process
 * over shared memory). The driver code above this line is the same for both.
 */

/** Registers of one BAR. Offsets are bytes; every access is one access of its width. */
export interface Bar {
  read8(off: number): number;
  read16(off: number): number;
  read32(off: number): number;
  write8(off: number, v: number): void;
  write16(off: number, v: number): void;
  write32(off: number, v: number): void;
}

/** A PCI function the driver programs. */
export interface PciFunction {
  /** `0000:00:04.0`, or the model's name. */
  readonly address: string;
  /** Read 1, 2 or 4 bytes of configuration space. */
  configRead(off: number, width: 1 | 2 | 4): number;
  /** Write 1, 2 or 4 bytes of configuration space. */
  configWrite(off: number, width: 1 | 2 | 4, v: number): void;
  /** BAR `index`, mapped on first use. @throws {MpError} EINVAL — no such (memory) BAR */
  bar(index: number): Bar;
  /**
   * Make `buffer` (the memzone `name`) readable and writable by the device at `iova`. Mapping the same
   * iova again is a no-op. @throws {MpError} ENOSPC / EPERM / ENOMEM from the IOMMU
   */
  dmaMap(name: string, buffer: ArrayBuffer, iova: number): void;
  /** Undo {@link dmaMap}. */
  dmaUnmap(iova: number, size: number): void;
  /** Call `cb` on each configuration-change interrupt until the returned handle is closed. */
  watchConfig(cb: () => void): { close(): void };
  /** Drop this process's handles (mappings, fds). */
  close(): void;
}
