/**
 * Modern virtio over PCI (virtio 1.2 §4.1): find the four structures by walking the capability list,
 * reset, negotiate features, program and enable queues, notify, read the device configuration
 * consistently (config_generation). Works on any {@link PciFunction}: a vfio-pci device or the model.
 */
import { MpError } from '@mp/memory';
import type { Bar, PciFunction } from './pci-function.js';
import {
  CAP,
  CAP_COMMON,
  CAP_DEVICE,
  CAP_ISR,
  CAP_NOTIFY,
  COMMON,
  NETCFG,
  NO_VECTOR,
  PCI,
  STATUS,
  VIRTIO_NET_MODERN,
  VIRTIO_NET_TRANSITIONAL,
  VIRTIO_VENDOR,
  F,
  bit,
} from './layout.js';

/** Where a structure lives: BAR and offset in it. */
export interface CapLoc {
  bar: number;
  off: number;
  len: number;
}
export interface VirtioCaps {
  common: CapLoc;
  notify: CapLoc & { mult: number };
  isr: CapLoc;
  device: CapLoc;
}

/** virtio-net's configuration as read consistently. */
export interface NetConfig {
  mac: Uint8Array;
  status: number;
  maxPairs: number;
  mtu: number;
}

/**
 * Walk the PCI capability list for the virtio vendor capabilities (the first of each type wins, as the
 * spec asks). The walk stops after 48 hops (a looping list is malformed).
 *
 * @throws {MpError} ENODEV — not a virtio-net device (vendor/device ids named), or no capability list
 * @throws {MpError} ENOTSUP — a legacy-only device, or one of the four structures is missing
 */
export function findCaps(f: PciFunction): VirtioCaps {
  const vendor = f.configRead(PCI.vendorId, 2);
  const device = f.configRead(PCI.deviceId, 2);
  if (vendor !== VIRTIO_VENDOR || (device !== VIRTIO_NET_MODERN && device !== VIRTIO_NET_TRANSITIONAL)) {
    throw new MpError('ENODEV', `${f.address}: PCI id ${hex4(vendor)}:${hex4(device)} is not a virtio-net device (${hex4(VIRTIO_VENDOR)}:${hex4(VIRTIO_NET_MODERN)})`);
  }
  if ((f.configRead(PCI.status, 2) & PCI.statusCapList) === 0) throw new MpError('ENOTSUP', `${f.address}: no PCI capability list (a legacy-only virtio device; this driver is modern only)`);
  const found = new Map<number, CapLoc & { mult: number }>();
  let p = f.configRead(PCI.capPtr, 1) & 0xfc;
  for (let hops = 0; p !== 0 && hops < 48; hops++) {
    if (p + CAP.size > PCI.configSize) break;
    const id = f.configRead(p + CAP.vndr, 1);
    if (id === PCI.capVendor) {
      const type = f.configRead(p + CAP.cfgType, 1);
      if (!found.has(type)) {
        found.set(type, {
          bar: f.configRead(p + CAP.bar, 1),
          off: f.configRead(p + CAP.offset, 4) >>> 0,
          len: f.configRead(p + CAP.length, 4) >>> 0,
          mult: type === CAP_NOTIFY ? f.configRead(p + CAP.notifyMult, 4) >>> 0 : 0,
        });
      }
    }
    p = f.configRead(p + CAP.next, 1) & 0xfc;
  }
  const need = (t: number, name: string): CapLoc & { mult: number } => {
    const c = found.get(t);
    if (c === undefined) throw new MpError('ENOTSUP', `${f.address}: no virtio ${name} capability (a legacy-only device? this driver is modern only)`);
    if (c.bar > 5) throw new MpError('ENOTSUP', `${f.address}: virtio ${name} capability names BAR ${c.bar}`);
    return c;
  };
  const common = need(CAP_COMMON, 'common configuration');
  if (common.len < COMMON.size) throw new MpError('ENOTSUP', `${f.address}: common configuration is ${common.len} bytes (< ${COMMON.size})`);
  return { common, notify: need(CAP_NOTIFY, 'notify'), isr: need(CAP_ISR, 'ISR'), device: need(CAP_DEVICE, 'device configuration') };
}

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');

/** The features this driver can use. MRG_RXBUF is not asked for: every rx buffer holds a whole frame. */
export const DRIVER_FEATURES = bit(F.version1) | bit(F.netMac) | bit(F.netStatus) | bit(F.netMtu) | bit(F.netCtrlVq) | bit(F.netMq);

/** One modern virtio-PCI device's registers. */
export class VirtioPci {
  private readonly common: Bar;
  private readonly c: number;
  private readonly notifyBar: Bar;
  private readonly isrBar: Bar;
  private readonly dev: Bar;

  constructor(readonly fn: PciFunction, readonly caps: VirtioCaps) {
    this.common = fn.bar(caps.common.bar);
    this.c = caps.common.off;
    this.notifyBar = fn.bar(caps.notify.bar);
    this.isrBar = fn.bar(caps.isr.bar);
    this.dev = fn.bar(caps.device.bar);
  }

  status(): number {
    return this.common.read8(this.c + COMMON.status);
  }

  /**
   * Reset the device: write 0, then wait until it reads back 0 (the device may take a while).
   * @throws {MpError} ETIMEDOUT — the device did not finish its reset
   */
  reset(): void {
    this.common.write8(this.c + COMMON.status, 0);
    for (let i = 0; i < 1_000_000; i++) if (this.status() === 0) return;
    throw new MpError('ETIMEDOUT', `${this.fn.address}: virtio reset did not complete`);
  }

  private addStatus(s: number): void {
    this.common.write8(this.c + COMMON.status, this.status() | s);
  }

  deviceFeatures(): bigint {
    this.common.write32(this.c + COMMON.dfSelect, 0);
    const lo = this.common.read32(this.c + COMMON.df) >>> 0;
    this.common.write32(this.c + COMMON.dfSelect, 1);
    const hi = this.common.read32(this.c + COMMON.df) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * Reset, acknowledge, and negotiate: driver features = device ∩ `wanted`; FEATURES_OK must stay set.
   *
   * @throws {MpError} ENOTSUP — the device lacks VERSION_1 (a legacy device) or refused the features
   * @throws {MpError} ETIMEDOUT — the reset did not complete
   */
  negotiate(wanted: bigint): bigint {
    this.reset();
    this.addStatus(STATUS.acknowledge);
    this.addStatus(STATUS.driver);
    const dev = this.deviceFeatures();
    if ((dev & bit(F.version1)) === 0n) {
      this.addStatus(STATUS.failed);
      throw new MpError('ENOTSUP', `${this.fn.address}: the device does not offer VIRTIO_F_VERSION_1 (legacy devices are not supported)`);
    }
    const feats = dev & wanted;
    this.common.write32(this.c + COMMON.gfSelect, 0);
    this.common.write32(this.c + COMMON.gf, Number(feats & 0xffffffffn));
    this.common.write32(this.c + COMMON.gfSelect, 1);
    this.common.write32(this.c + COMMON.gf, Number(feats >> 32n));
    this.addStatus(STATUS.featuresOk);
    if ((this.status() & STATUS.featuresOk) === 0) {
      this.addStatus(STATUS.failed);
      throw new MpError('ENOTSUP', `${this.fn.address}: the device refused features 0x${feats.toString(16)} (FEATURES_OK not kept)`);
    }
    // Interrupts: none per queue (the queues are polled); the configuration change on vector 0.
    this.common.write16(this.c + COMMON.msixConfig, 0);
    return feats;
  }

  numQueues(): number {
    return this.common.read16(this.c + COMMON.numQueues);
  }

  /** The largest size queue q may have (0: no such queue). */
  queueMax(q: number): number {
    this.common.write16(this.c + COMMON.qSelect, q);
    return this.common.read16(this.c + COMMON.qSize);
  }

  /** Program queue q (size n, the three addresses); returns its notify offset in bytes in the notify BAR. */
  setupQueue(q: number, n: number, desc: number, driver: number, device: number): number {
    const b = this.common;
    const c = this.c;
    b.write16(c + COMMON.qSelect, q);
    b.write16(c + COMMON.qSize, n);
    b.write16(c + COMMON.qMsix, NO_VECTOR);
    b.write32(c + COMMON.qDescLo, desc >>> 0);
    b.write32(c + COMMON.qDescHi, (desc / 2 ** 32) >>> 0);
    b.write32(c + COMMON.qDriverLo, driver >>> 0);
    b.write32(c + COMMON.qDriverHi, (driver / 2 ** 32) >>> 0);
    b.write32(c + COMMON.qDeviceLo, device >>> 0);
    b.write32(c + COMMON.qDeviceHi, (device / 2 ** 32) >>> 0);
    const off = b.read16(c + COMMON.qNotifyOff);
    b.write16(c + COMMON.qEnable, 1);
    return this.caps.notify.off + off * this.caps.notify.mult;
  }

  driverOk(): void {
    this.addStatus(STATUS.driverOk);
  }

  /** Tell the device queue q has new buffers (one 16-bit write of the queue's index). */
  notify(notifyOff: number, q: number): void {
    this.notifyBar.write16(notifyOff, q);
  }

  /** Read (and so acknowledge) the ISR status. */
  isr(): number {
    return this.isrBar.read8(this.caps.isr.off);
  }

  /** The device configuration, read until config_generation is the same before and after. */
  netConfig(): NetConfig {
    const d = this.caps.device.off;
    for (;;) {
      const g = this.common.read8(this.c + COMMON.cfgGeneration);
      const mac = new Uint8Array(6);
      for (let i = 0; i < 6; i++) mac[i] = this.dev.read8(d + NETCFG.mac + i);
      const cfg = { mac, status: this.dev.read16(d + NETCFG.status), maxPairs: this.dev.read16(d + NETCFG.maxPairs), mtu: this.dev.read16(d + NETCFG.mtu) };
      if (this.common.read8(this.c + COMMON.cfgGeneration) === g) return cfg;
    }
  }
}
