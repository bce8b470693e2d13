/**
 * DPDK's device-argument syntax: `<name>[,key=value]*`, where the name is a driver prefix and an
 * instance number (`net_ring0`, `net_memif1,role=server,socket=/run/x.sock`) or a PCI address
 * (`0000:00:04.0`, the vfio-pci driver).
 */
import { MpError } from '@mp/memory';
import { DEVARGS_MAX, PORT_NAME_MAX } from './layout.js';

/** A parsed devargs string. */
export interface Devargs {
  /** The device (port) name: `net_ring0`, `0000:00:04.0`. */
  name: string;
  /** The driver: the name without its instance number, or `vfio-pci` for a PCI address. */
  driver: string;
  /** key=value pairs in order (a key may not repeat). */
  args: Map<string, string>;
  /** The string as given. */
  text: string;
}

const PCI_ADDR = /^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
const VDEV_NAME = /^(net_[a-z_]+?)(\d+)$/;
/** A key: lower case, digits, `_` and `-` (DPDK's own keys have both: `socket-abstract`, `zero-copy`). */
const KEY = /^[a-z][a-z0-9_-]*$/;

/**
 * Parse devargs.
 *
 * @throws {MpError} EINVAL — empty, too long, a malformed name (named), a pair without `=`, an empty or
 *   repeated key
 * @see rte_devargs_parse
 */
export function parseDevargs(text: string): Devargs {
  if (typeof text !== 'string' || text.length === 0) throw new MpError('EINVAL', 'devargs must be a non-empty string such as net_ring0 or net_memif0,role=server');
  if (Buffer.byteLength(text) > DEVARGS_MAX) throw new MpError('EINVAL', `devargs are ${Buffer.byteLength(text)} bytes (at most ${DEVARGS_MAX})`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new MpError('EINVAL', `devargs ${JSON.stringify(text)} hold a control character`);
  const [name, ...pairs] = text.split(',');
  let driver: string;
  if (PCI_ADDR.test(name!)) {
    driver = 'vfio-pci';
  } else {
    const m = VDEV_NAME.exec(name!);
    if (!m) {
      throw new MpError('EINVAL', `device name '${name}' is neither a vdev name (a driver and an instance number: net_ring0, net_memif1) nor a PCI address (0000:00:04.0)`);
    }
    driver = m[1]!;
  }
  if (Buffer.byteLength(name!) > PORT_NAME_MAX) throw new MpError('EINVAL', `device name '${name}' is longer than ${PORT_NAME_MAX} bytes`);
  const args = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new MpError('EINVAL', `devargs '${text}': '${pair}' is not key=value`);
    const key = pair.slice(0, eq);
    if (!KEY.test(key)) throw new MpError('EINVAL', `devargs '${text}': key '${key}' is not a lower-case identifier (a-z, 0-9, _ and -)`);
    if (args.has(key)) throw new MpError('EINVAL', `devargs '${text}': key '${key}' given twice`);
    args.set(key, pair.slice(eq + 1));
  }
  return { name: name!, driver, args, text };
}

/**
 * Check that `d` uses only `allowed` keys.
 *
 * @throws {MpError} EINVAL — an unknown key (named, with the allowed ones)
 */
export function checkKeys(d: Devargs, allowed: readonly string[]): void {
  for (const k of d.args.keys()) {
    if (!allowed.includes(k)) {
      throw new MpError('EINVAL', `${d.driver} has no argument '${k}' (it takes ${allowed.length ? allowed.join(', ') : 'none'})`);
    }
  }
}

/**
 * An integer argument in [min, max], or `dflt` when absent.
 *
 * @throws {MpError} EINVAL — not an integer in range
 */
export function intArg(d: Devargs, key: string, dflt: number, min: number, max: number): number {
  const v = d.args.get(key);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new MpError('EINVAL', `${d.name}: ${key}=${v} must be an integer in ${min}..${max}`);
  return Number(v);
}

/**
 * A MAC address argument (`aa:bb:cc:dd:ee:ff`), or undefined when absent.
 *
 * @throws {MpError} EINVAL — malformed
 */
export function macArg(d: Devargs, key: string): Uint8Array | undefined {
  const v = d.args.get(key);
  if (v === undefined) return undefined;
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v)) throw new MpError('EINVAL', `${d.name}: ${key}=${v} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return Uint8Array.from(v.split(':').map((x) => parseInt(x, 16)));
}
