/**
 * What sysfs says about a PCI device before VFIO is asked anything: that it exists, its ids, its IOMMU
 * group (`/sys/bus/pci/devices/<addr>/iommu_group` → `../../../kernel/iommu_groups/<n>`) and the
 * driver it is bound to (`driver` → `.../drivers/vfio-pci`). The root is a parameter so tests run this
 * on a fake tree.
 */
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MpError } from '@mp/memory';
import { parsePciAddress } from './address.js';

export interface PciDeviceInfo {
  /** Canonical address. */
  address: string;
  vendor: number;
  device: number;
  /** IOMMU group number, or undefined when the device has none (IOMMU off). */
  iommuGroup: number | undefined;
  /** Name of the bound driver, or undefined when unbound. */
  driver: string | undefined;
}

function readHex(path: string): number {
  const t = readFileSync(path, 'utf8').trim();
  if (!/^0x[0-9a-fA-F]+$/.test(t)) throw new MpError('EPROTO', `${path} holds '${t}', not a hex id`);
  return parseInt(t, 16);
}

function linkName(path: string): string | undefined {
  try {
    return basename(readlinkSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Read a device's sysfs entry.
 *
 * @throws {MpError} EINVAL — a malformed address
 * @throws {MpError} ENODEV — no such PCI device (the address named)
 * @throws {MpError} EPROTO — an iommu_group link that does not end in a number
 */
export function readPciDevice(addr: string, sysfsRoot = '/sys'): PciDeviceInfo {
  const address = parsePciAddress(addr);
  const dir = join(sysfsRoot, 'bus/pci/devices', address);
  try {
    statSync(dir);
  } catch {
    throw new MpError('ENODEV', `no PCI device ${address} (${dir} is absent; lspci -D lists the addresses)`);
  }
  const g = linkName(join(dir, 'iommu_group'));
  if (g !== undefined && !/^\d+$/.test(g)) throw new MpError('EPROTO', `${join(dir, 'iommu_group')} points at '${g}', not a group number`);
  return {
    address,
    vendor: readHex(join(dir, 'vendor')),
    device: readHex(join(dir, 'device')),
    iommuGroup: g === undefined ? undefined : Number(g),
    driver: linkName(join(dir, 'driver')),
  };
}

/**
 * The device's IOMMU group, after checking that vfio-pci drives it.
 *
 * @throws {MpError} ENODEV — not bound to vfio-pci (bound elsewhere or unbound; how to bind it is in the
 *   message), or no IOMMU group (the IOMMU is off)
 */
export function vfioGroupOf(info: PciDeviceInfo): number {
  if (info.driver !== 'vfio-pci') {
    const now = info.driver === undefined ? 'not bound to any driver' : `bound to ${info.driver}`;
    throw new MpError('ENODEV', `PCI device ${info.address} is ${now}, not vfio-pci (bind it: dpdk-devbind.py -b vfio-pci ${info.address})`);
  }
  if (info.iommuGroup === undefined) {
    throw new MpError('ENODEV', `PCI device ${info.address} has no IOMMU group (the IOMMU is off: boot with intel_iommu=on / amd_iommu=on, or load vfio with enable_unsafe_noiommu_mode=1)`);
  }
  return info.iommuGroup;
}
