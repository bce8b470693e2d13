/**
 * The VFIO layer's parts that need no device: PCI address validation, sysfs discovery on a fake tree,
 * the decoding of vfio_region_info, and the refusals on this machine (no /dev/vfio/vfio → ENOTSUP).
 * The real device path is gated: it runs only where /dev/vfio/vfio exists and MP_TEST_VFIO_DEVICE
 * names a virtio-net device bound to vfio-pci, and shows as skipped (with the reason) elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init } from '@mp/eal';
import { pktmbufPoolCreate } from '@mp/mempool';
import { mpErrorCode, uniquePrefix } from '@mp/test-utils';
import { MpError, VfioFunction, decodeRegionInfo, ethdev, parsePciAddress, readPciDevice, vfioGroupOf } from '../src/index.js';

const HAVE_VFIO = existsSync('/dev/vfio/vfio');
const DEVICE = process.env['MP_TEST_VFIO_DEVICE'];

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mp-vfio-'));
  init([`--file-prefix=${uniquePrefix('vf')}`, '--no-huge', '-m', '64']);
});
afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  (await import('@mp/eal')).eal().cleanup();
});

/** A fake sysfs device: ids, and optionally an IOMMU group and a bound driver (links as the kernel makes them). */
function fakeDevice(root: string, addr: string, o: { group?: string; driver?: string; vendor?: string } = {}): void {
  const dir = join(root, 'bus/pci/devices', addr);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vendor'), `${o.vendor ?? '0x1af4'}\n`);
  writeFileSync(join(dir, 'device'), '0x1041\n');
  if (o.group !== undefined) symlinkSync(`../../../kernel/iommu_groups/${o.group}`, join(dir, 'iommu_group'));
  if (o.driver !== undefined) symlinkSync(`../../../bus/pci/drivers/${o.driver}`, join(dir, 'driver'));
}

describe('PCI addresses', () => {
  it.each([
    ['0000:00:04.0', '0000:00:04.0'],
    ['00:04.0', '0000:00:04.0'],
    ['0000:AF:1F.7', '0000:af:1f.7'],
    ['10de:3b:00.1', '10de:3b:00.1'],
  ])('%s → %s', (s, want) => expect(parsePciAddress(s)).toBe(want));
  it.each([[''], ['0000:00:04'], ['0000:00:20.0'], ['0000:00:04.8'], ['000:00:04.0'], ['0000:00:04.0 '], ['../00:04.0'], ['zz:00.0']])('refuses %j with EINVAL', (s) => {
    expect(mpErrorCode(() => parsePciAddress(s))).toBe('EINVAL');
  });
});

describe('sysfs discovery (a fake tree)', () => {
  it('reads ids, the IOMMU group from the iommu_group link and the driver from the driver link', () => {
    const root = join(tmp, 's1');
    fakeDevice(root, '0000:00:04.0', { group: '12', driver: 'vfio-pci' });
    const info = readPciDevice('00:04.0', root);
    expect(info).toEqual({ address: '0000:00:04.0', vendor: 0x1af4, device: 0x1041, iommuGroup: 12, driver: 'vfio-pci' });
    expect(vfioGroupOf(info)).toBe(12);
  });

  it('a device bound elsewhere, unbound, or without an IOMMU group → ENODEV naming it (and how to bind it)', () => {
    const root = join(tmp, 's2');
    fakeDevice(root, '0000:00:05.0', { group: '3', driver: 'virtio-pci' });
    fakeDevice(root, '0000:00:06.0', { group: '4' });
    fakeDevice(root, '0000:00:07.0', { driver: 'vfio-pci' });
    const e1 = (() => {
      try {
        vfioGroupOf(readPciDevice('0000:00:05.0', root));
      } catch (err) {
        return err as MpError;
      }
      return undefined;
    })();
    expect(e1?.code).toBe('ENODEV');
    expect(e1?.message).toContain('0000:00:05.0 is bound to virtio-pci');
    expect(e1?.message).toContain('dpdk-devbind.py -b vfio-pci 0000:00:05.0');
    expect(mpErrorCode(() => vfioGroupOf(readPciDevice('0000:00:06.0', root)))).toBe('ENODEV');
    expect(() => vfioGroupOf(readPciDevice('0000:00:07.0', root))).toThrow(/no IOMMU group/);
  });

  it('no such device → ENODEV naming the address; a malformed one → EINVAL; a group link not ending in a number → EPROTO', () => {
    const root = join(tmp, 's3');
    fakeDevice(root, '0000:00:08.0', { group: 'x', driver: 'vfio-pci' });
    expect(() => readPciDevice('0000:00:09.0', root)).toThrow(/ENODEV: no PCI device 0000:00:09.0/);
    expect(mpErrorCode(() => readPciDevice('00:09', root))).toBe('EINVAL');
    expect(mpErrorCode(() => readPciDevice('0000:00:08.0', root))).toBe('EPROTO');
  });
});

describe('vfio_region_info decoding', () => {
  const raw = (flags: number, index: number, size: bigint, offset: bigint, len = 32): Uint8Array => {
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 32, true);
    if (len >= 32) {
      dv.setUint32(4, flags, true);
      dv.setUint32(8, index, true);
      dv.setBigUint64(16, size, true);
      dv.setBigUint64(24, offset, true);
    }
    return b;
  };
  it('a mappable BAR and the config region (read/write, not mappable), at VFIO_PCI_OFFSET_SHIFT offsets', () => {
    expect(decodeRegionInfo(raw(7, 4, 0x4000n, 4n << 40n))).toEqual({ index: 4, flags: 7, size: 0x4000, offset: 4 * 2 ** 40, readable: true, writable: true, mappable: true });
    expect(decodeRegionInfo(raw(3, 7, 256n, 7n << 40n))).toMatchObject({ index: 7, size: 256, readable: true, writable: true, mappable: false });
  });
  it('too short → EPROTO; a size beyond 2^53 → EPROTO', () => {
    expect(mpErrorCode(() => decodeRegionInfo(raw(0, 0, 0n, 0n, 16)))).toBe('EPROTO');
    expect(mpErrorCode(() => decodeRegionInfo(raw(1, 0, 1n << 60n, 0n)))).toBe('EPROTO');
  });
});

describe('VFIO refusals', () => {
  it.skipIf(HAVE_VFIO)(`without /dev/vfio/vfio: VfioFunction.open and ethdev.probe of a PCI address → ENOTSUP saying so${HAVE_VFIO ? ' (skipped: this machine has /dev/vfio/vfio)' : ''}`, () => {
    expect(() => VfioFunction.open('0000:00:04.0')).toThrow(/ENOTSUP: \/dev\/vfio\/vfio is absent.*0000:00:04.0/);
    expect(mpErrorCode(() => ethdev.probe('0000:00:04.0'))).toBe('ENOTSUP');
    // Nothing was left behind by the failed probe.
    expect(ethdev.list().some((p) => p.name === '0000:00:04.0')).toBe(false);
  });

  it('the address is checked first (EINVAL), then /dev/vfio/vfio (ENOTSUP), then sysfs (ENODEV naming the device)', () => {
    const dev = join(tmp, 'dev-vfio');
    mkdirSync(dev, { recursive: true });
    expect(mpErrorCode(() => VfioFunction.open('0000:00:04', { dev }))).toBe('EINVAL');
    expect(mpErrorCode(() => VfioFunction.open('0000:00:04.0', { dev }))).toBe('ENOTSUP');
    writeFileSync(join(dev, 'vfio'), '');
    const root = join(tmp, 's4');
    fakeDevice(root, '0000:00:04.0', { group: '5', driver: 'e1000' });
    expect(() => VfioFunction.open('0000:00:04.0', { dev, sysfs: root })).toThrow(/ENODEV: PCI device 0000:00:04.0 is bound to e1000/);
    expect(() => VfioFunction.open('0000:00:0a.0', { dev, sysfs: root })).toThrow(/ENODEV: no PCI device 0000:00:0a.0/);
  });

  it('a container that is not a VFIO device (a plain file here) fails its first ioctl: ENOTSUP naming the device, and no fd leaks', () => {
    const dev = join(tmp, 'dev-vfio2');
    mkdirSync(dev, { recursive: true });
    writeFileSync(join(dev, 'vfio'), '');
    const root = join(tmp, 's5');
    fakeDevice(root, '0000:00:04.0', { group: '5', driver: 'vfio-pci' });
    const before = countFds();
    const err = (() => {
      try {
        VfioFunction.open('0000:00:04.0', { dev, sysfs: root });
      } catch (e) {
        return e as MpError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(MpError);
    expect(err?.code).toBe('ENOTSUP');
    expect(err?.message).toContain('0000:00:04.0');
    expect(countFds()).toBe(before);
  });
});

function countFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('a real virtio-net device on vfio-pci', () => {
  it.skipIf(!HAVE_VFIO || DEVICE === undefined)(
    'needs /dev/vfio/vfio and MP_TEST_VFIO_DEVICE=<a virtio-net device bound to vfio-pci> (absent here: no VFIO in this kernel): probe, start, link up, send and receive',
    () => {
      const pool = pktmbufPoolCreate('vfio', 2047);
      const p = ethdev.probe(DEVICE!);
      p.configure(1, 1);
      p.rxQueueSetup(0, 256, pool);
      p.txQueueSetup(0, 256);
      p.start();
      expect(p.link().status).toBe('up');
      const h = new Uint32Array(32);
      expect(p.rxBurst(0, h, 32)).toBeGreaterThanOrEqual(0);
      p.stop();
      p.close();
      expect(pool.availCount).toBe(2047);
    },
  );
});
