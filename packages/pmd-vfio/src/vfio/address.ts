/** PCI addresses as DPDK's `-a` takes them: `dddd:bb:dd.f` (domain optional: `bb:dd.f` is domain 0). */
import { MpError } from '@mp/memory';

const FULL = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\.([0-7])$/;
const SHORT = /^([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\.([0-7])$/;

/**
 * The canonical (lower-case, with domain) form of a PCI address, as sysfs and VFIO name devices.
 *
 * @throws {MpError} EINVAL — not `dddd:bb:dd.f` / `bb:dd.f` (device 00..1f, function 0..7)
 * @see rte_pci_addr_parse
 */
export function parsePciAddress(s: string): string {
  if (typeof s === 'string') {
    const f = FULL.exec(s);
    if (f) return `${f[1]}:${f[2]}:${f[3]}.${f[4]}`.toLowerCase();
    const m = SHORT.exec(s);
    if (m) return `0000:${m[1]}:${m[2]}.${m[3]}`.toLowerCase();
  }
  throw new MpError('EINVAL', `'${String(s)}' is not a PCI address (domain:bus:device.function, e.g. 0000:00:04.0; device 00..1f, function 0..7)`);
}
