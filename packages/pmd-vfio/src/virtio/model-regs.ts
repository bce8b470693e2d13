/**
 * The in-memory virtio-net device model, part 1: its register file in shared memory and the
 * {@link PciFunction} a driver process uses to reach it. The model stands in for a PCI device on
 * machines without VFIO (this CI): a driver programs it exactly as it programs a vfio-pci device,
 * while another process (./model-device.ts) plays the device — it reads the driver's rings and moves
 * frames through them, so the shared-memory rings are really crossed by two processes.
 *
 * What a real device does on a register write (select a queue's window, check FEATURES_OK, reset) is
 * done here, in the writing process, on the shared state; the device process sees the result. A
 * notify write bumps a futex word the device process sleeps on; the device's configuration interrupt
 * bumps a counter that {@link ModelFunction.watchConfig} watches (an eventfd in the vfio case).
 *
 * Memzone `vm_<name>`
 * | off  | size   | field                                                       | written by        |
 * |    0 |    256 | PCI configuration space (ids, capability list)              | device, at create |
 * |  256 |     64 | control words M_* (u32)                                     | both (below)      |
 * |  512 | 32·64  | per-queue registers Q_* (u32 × 16 per queue)                | driver            |
 * | 4096 | 64·64  | IOMMU table: {iova u64, len u64, used u32, pad, name[32]}   | driver (dmaMap)   |
 * | 8192 | 0x4000 | BAR 4: common cfg @0, ISR @0x1000, device cfg @0x2000,       | both              |
 * |      |        |   notify @0x3000 (4 bytes per queue)                        |                   |
 */
import { MpError, futexWake, memzone } from '@mp/memory';
import type { Bar, PciFunction } from './pci-function.js';
import { COMMON, F, STATUS, bit } from './layout.js';

export const MODEL_MAGIC = 0x4c444d56; // 'VMDL'
export const MODEL_VERSION = 1;
export const MODEL_BAR = 4;
export const MODEL_MAX_QUEUES = 32;
/** How often a driver process looks at the model's interrupt counter, ms. */
const IRQ_POLL_MS = 10;

export const ML = {
  config: 0,
  ctl: 256,
  queues: 512,
  queueSize: 64,
  iommu: 4096,
  iommuEntry: 64,
  iommuEntries: 64,
  iommuNameMax: 31,
  bar: 8192,
  barSize: 0x4000,
  commonOff: 0,
  isrOff: 0x1000,
  deviceOff: 0x2000,
  notifyOff: 0x3000,
  notifyMult: 4,
  size: 8192 + 0x4000,
} as const;

/** Control words (u32 index from ML.ctl). */
export const M = {
  magic: 0,
  version: 1,
  devFeatLo: 2,
  devFeatHi: 3,
  drvFeatLo: 4,
  drvFeatHi: 5,
  numQueues: 6,
  /** bumped at every reset and at DRIVER_OK: the device re-reads the queues */
  gen: 7,
  /** futex: bumped by every notify write */
  doorbell: 8,
  /** futex: bumped by every configuration interrupt */
  irq: 9,
  dfSelect: 10,
  gfSelect: 11,
  /** the device process's pid (0: not running) */
  devicePid: 12,
} as const;

/** Queue register words (u32 index within a queue's 16). */
export const Q = { size: 0, msix: 1, enable: 2, notifyOff: 3, descLo: 4, descHi: 5, drvLo: 6, drvHi: 7, devLo: 8, devHi: 9, max: 10 } as const;

export const modelZoneName = (name: string): string => `vm_${name}`;

/** Typed views of a model memzone, shared by the driver-side function and the device. */
export class ModelMemory {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** Control words (M_*). */
  readonly ctl: Uint32Array;

  constructor(readonly buffer: ArrayBuffer) {
    this.u8 = new Uint8Array(buffer, 0, ML.size);
    this.u16 = new Uint16Array(buffer, 0, ML.size / 2);
    this.u32 = new Uint32Array(buffer, 0, ML.size / 4);
    this.ctl = new Uint32Array(buffer, ML.ctl, 16);
  }

  /** Index in u32 of queue q's register w. */
  qw(q: number, w: number): number {
    return (ML.queues + q * ML.queueSize) / 4 + w;
  }

  /** The IOMMU entry covering `iova`, as [index, offset in it], or undefined. */
  iommuFind(iova: number): { name: string; off: number; len: number } | undefined {
    for (let i = 0; i < ML.iommuEntries; i++) {
      const w = (ML.iommu + i * ML.iommuEntry) / 4;
      if (Atomics.load(this.u32, w + 4) !== 1) continue;
      const base = this.u32[w]! + this.u32[w + 1]! * 2 ** 32;
      const len = this.u32[w + 2]! + this.u32[w + 3]! * 2 ** 32;
      if (iova >= base && iova < base + len) return { name: this.iommuName(i), off: iova - base, len: len - (iova - base) };
    }
    return undefined;
  }

  private iommuName(i: number): string {
    const at = ML.iommu + i * ML.iommuEntry + 32;
    const b = this.u8.subarray(at, at + 32);
    const end = b.indexOf(0);
    return Buffer.from(b.subarray(0, end < 0 ? 32 : end)).toString('utf8');
  }

  /** Record a DMA window (what an IOMMU does on VFIO_IOMMU_MAP_DMA). */
  iommuMap(name: string, iova: number, len: number): void {
    if (Buffer.byteLength(name) > ML.iommuNameMax) throw new MpError('EINVAL', `model IOMMU: memzone name '${name}' is longer than ${ML.iommuNameMax} bytes`);
    let free = -1;
    for (let i = 0; i < ML.iommuEntries; i++) {
      const w = (ML.iommu + i * ML.iommuEntry) / 4;
      const used = Atomics.load(this.u32, w + 4);
      if (used === 1 && this.u32[w]! + this.u32[w + 1]! * 2 ** 32 === iova) return; // mapped already
      if (used === 0 && free < 0) free = i;
    }
    for (let i = free; i >= 0 && i < ML.iommuEntries; i++) {
      const w = (ML.iommu + i * ML.iommuEntry) / 4;
      // Claim the entry (2 = being written), fill it, publish it (1); pairs with the load in iommuFind.
      if (Atomics.compareExchange(this.u32, w + 4, 0, 2) !== 0) continue;
      this.u32[w] = iova >>> 0;
      this.u32[w + 1] = (iova / 2 ** 32) >>> 0;
      this.u32[w + 2] = len >>> 0;
      this.u32[w + 3] = (len / 2 ** 32) >>> 0;
      const at = ML.iommu + i * ML.iommuEntry + 32;
      this.u8.fill(0, at, at + 32);
      this.u8.set(Buffer.from(name, 'utf8'), at);
      Atomics.store(this.u32, w + 4, 1);
      return;
    }
    throw new MpError('ENOSPC', `model IOMMU: all ${ML.iommuEntries} DMA windows are in use`);
  }

  iommuUnmap(iova: number): void {
    for (let i = 0; i < ML.iommuEntries; i++) {
      const w = (ML.iommu + i * ML.iommuEntry) / 4;
      if (Atomics.load(this.u32, w + 4) === 1 && this.u32[w]! + this.u32[w + 1]! * 2 ** 32 === iova) Atomics.store(this.u32, w + 4, 0);
    }
  }

  devFeatures(): bigint {
    return (BigInt(this.ctl[M.devFeatHi]!) << 32n) | BigInt(this.ctl[M.devFeatLo]!);
  }

  drvFeatures(): bigint {
    return (BigInt(this.ctl[M.drvFeatHi]!) << 32n) | BigInt(this.ctl[M.drvFeatLo]!);
  }

  /** Device status byte. */
  status(): number {
    return Atomics.load(this.u8, ML.bar + ML.commonOff + COMMON.status);
  }

  /** Wake whoever sleeps on control word `w`. */
  bump(w: number): void {
    Atomics.add(this.ctl, w, 1);
    futexWake(this.ctl, w);
  }
}

/** BAR 4 of the model: registers with the side effects a device gives them. */
class ModelBar implements Bar {
  constructor(private readonly m: ModelMemory) {}

  read8(off: number): number {
    this.check(off, 1);
    // Reading the ISR acknowledges it (clears it), as on a device.
    if (off === ML.isrOff) return Atomics.exchange(this.m.u8, ML.bar + off, 0);
    return Atomics.load(this.m.u8, ML.bar + off);
  }
  read16(off: number): number {
    this.check(off, 2);
    return Atomics.load(this.m.u16, (ML.bar + off) >> 1);
  }
  read32(off: number): number {
    this.check(off, 4);
    return Atomics.load(this.m.u32, (ML.bar + off) >> 2);
  }

  write8(off: number, v: number): void {
    this.check(off, 1);
    if (off === ML.commonOff + COMMON.status) {
      this.writeStatus(v & 0xff);
      return;
    }
    Atomics.store(this.m.u8, ML.bar + off, v);
  }

  write16(off: number, v: number): void {
    this.check(off, 2);
    const m = this.m;
    if (off >= ML.notifyOff && off < ML.notifyOff + MODEL_MAX_QUEUES * ML.notifyMult) {
      m.bump(M.doorbell);
      return;
    }
    Atomics.store(m.u16, (ML.bar + off) >> 1, v);
    const c = off - ML.commonOff;
    const sel = this.selected();
    if (c === COMMON.qSelect) this.loadWindow(v);
    else if (sel >= 0 && c === COMMON.qSize) m.u32[m.qw(sel, Q.size)] = v;
    else if (sel >= 0 && c === COMMON.qMsix) m.u32[m.qw(sel, Q.msix)] = v;
    else if (sel >= 0 && c === COMMON.qEnable) Atomics.store(m.u32, m.qw(sel, Q.enable), v);
  }

  write32(off: number, v: number): void {
    this.check(off, 4);
    const m = this.m;
    Atomics.store(m.u32, (ML.bar + off) >> 2, v >>> 0);
    const c = off - ML.commonOff;
    if (c === COMMON.dfSelect) {
      const s = v >>> 0;
      Atomics.store(m.u32, (ML.bar + COMMON.df) >> 2, s === 0 ? m.ctl[M.devFeatLo]! : s === 1 ? m.ctl[M.devFeatHi]! : 0);
    } else if (c === COMMON.gfSelect) {
      m.ctl[M.gfSelect] = v;
    } else if (c === COMMON.gf) {
      const s = m.ctl[M.gfSelect]!;
      if (s === 0) m.ctl[M.drvFeatLo] = v >>> 0;
      else if (s === 1) m.ctl[M.drvFeatHi] = v >>> 0;
    } else if (c >= COMMON.qDescLo && c < COMMON.size) {
      const sel = this.selected();
      if (sel >= 0) m.u32[m.qw(sel, Q.descLo + ((c - COMMON.qDescLo) >> 2))] = v >>> 0;
    }
  }

  private selected(): number {
    const sel = Atomics.load(this.m.u16, (ML.bar + COMMON.qSelect) >> 1);
    return sel < this.m.ctl[M.numQueues]! ? sel : -1;
  }

  /** queue_select: show queue `q`'s registers in the window (size 0 for a queue that does not exist). */
  private loadWindow(q: number): void {
    const m = this.m;
    const b16 = (o: number, v: number): void => void Atomics.store(m.u16, (ML.bar + o) >> 1, v);
    const b32 = (o: number, v: number): void => void Atomics.store(m.u32, (ML.bar + o) >> 2, v);
    const ok = q < m.ctl[M.numQueues]!;
    const r = (w: number): number => (ok ? m.u32[m.qw(q, w)]! : 0);
    // A queue never sized by the driver shows the device's maximum.
    b16(COMMON.qSize, ok ? r(Q.size) || r(Q.max) : 0);
    b16(COMMON.qMsix, r(Q.msix));
    b16(COMMON.qEnable, r(Q.enable));
    b16(COMMON.qNotifyOff, ok ? q : 0);
    for (let w = 0; w < 6; w++) b32(COMMON.qDescLo + 4 * w, r(Q.descLo + w));
  }

  private writeStatus(v: number): void {
    const m = this.m;
    const at = ML.bar + ML.commonOff + COMMON.status;
    if (v === 0) {
      // Reset: forget features and queues; the device process sees the new generation.
      m.ctl[M.drvFeatLo] = 0;
      m.ctl[M.drvFeatHi] = 0;
      for (let q = 0; q < MODEL_MAX_QUEUES; q++) {
        const max = m.u32[m.qw(q, Q.max)]!;
        m.u32.fill(0, m.qw(q, 0), m.qw(q, 16));
        m.u32[m.qw(q, Q.max)] = max;
      }
      Atomics.store(m.u8, at, 0);
      m.bump(M.gen);
      m.bump(M.doorbell);
      return;
    }
    const old = Atomics.load(m.u8, at);
    if ((v & STATUS.featuresOk) !== 0 && (old & STATUS.featuresOk) === 0) {
      // The device accepts only a subset of what it offers, with VERSION_1.
      const drv = m.drvFeatures();
      if ((drv & ~m.devFeatures()) !== 0n || (drv & bit(F.version1)) === 0n) v &= ~STATUS.featuresOk;
    }
    Atomics.store(m.u8, at, v);
    if ((v & STATUS.driverOk) !== 0 && (old & STATUS.driverOk) === 0) {
      m.bump(M.gen);
      m.bump(M.doorbell);
    }
  }

  private check(off: number, width: number): void {
    if (!Number.isInteger(off) || off < 0 || off + width > ML.barSize || off % width !== 0) {
      throw new MpError('EINVAL', `model BAR ${MODEL_BAR}: ${width}-byte access at 0x${off.toString(16)} is outside the BAR or unaligned`);
    }
  }
}

/**
 * A driver process's handle on a model device (the PCI function of the model named `name`).
 *
 * @throws {MpError} ENODEV — no model of that name runs in this group
 * @throws {MpError} EPROTO — the memzone is not a model of this layout version
 */
export class ModelFunction implements PciFunction {
  readonly address: string;
  private readonly m: ModelMemory;
  private readonly bar4: ModelBar;

  constructor(name: string) {
    this.address = `model:${name}`;
    const mz = memzone.find(modelZoneName(name));
    if (mz === undefined) throw new MpError('ENODEV', `no virtio device model '${name}' in this group (no memzone ${modelZoneName(name)})`);
    this.m = new ModelMemory(mz.buffer);
    if (this.m.ctl[M.magic] !== MODEL_MAGIC || this.m.ctl[M.version] !== MODEL_VERSION) {
      throw new MpError('EPROTO', `memzone ${modelZoneName(name)} is not a virtio model of version ${MODEL_VERSION}`);
    }
    this.bar4 = new ModelBar(this.m);
  }

  configRead(off: number, width: 1 | 2 | 4): number {
    if (off < 0 || off + width > 256) throw new MpError('EINVAL', `config space read at ${off} (+${width}) is outside 256 bytes`);
    const b = this.m.u8;
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + b[ML.config + off + i]!;
    return v;
  }

  configWrite(off: number, width: 1 | 2 | 4, v: number): void {
    if (off < 0 || off + width > 256) throw new MpError('EINVAL', `config space write at ${off} (+${width}) is outside 256 bytes`);
    // Only the command register is writable on the model.
    if (off !== 4) return;
    for (let i = 0; i < width; i++) this.m.u8[ML.config + off + i] = (v >>> (8 * i)) & 0xff;
  }

  bar(index: number): Bar {
    if (index !== MODEL_BAR) throw new MpError('EINVAL', `the virtio model has no BAR ${index} (only BAR ${MODEL_BAR})`);
    return this.bar4;
  }

  dmaMap(name: string, buffer: ArrayBuffer, iova: number): void {
    this.m.iommuMap(name, iova, buffer.byteLength);
  }

  dmaUnmap(iova: number): void {
    this.m.iommuUnmap(iova);
  }

  /**
   * The model's configuration interrupt is a counter word the device bumps: checked every
   * IRQ_POLL_MS by an unref'd timer (it never keeps the process alive; a vfio eventfd does not either).
   */
  watchConfig(cb: () => void): { close(): void } {
    const ctl = this.m.ctl;
    let seen = Atomics.load(ctl, M.irq);
    const t = setInterval(() => {
      const now = Atomics.load(ctl, M.irq);
      if (now !== seen) {
        seen = now;
        cb();
      }
    }, IRQ_POLL_MS);
    t.unref();
    return {
      close(): void {
        clearInterval(t);
      },
    };
  }

  close(): void {}
}
