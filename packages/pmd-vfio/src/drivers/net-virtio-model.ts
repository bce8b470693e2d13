/**
 * net_virtio_model: the virtio-net driver over the in-memory device model (../virtio/model-*.ts) — the
 * same driver code as vfio-pci, against a device another process of the group simulates. For tests,
 * benches and trying the driver on machines without VFIO; the device is made with
 * `VirtioNetModel.create(name)` from `@mp/pmd-vfio/internal`.
 *
 * Devargs: `net_virtio_model<N>,device=<model name>`.
 */
import { MpError } from '@mp/memory';
import { ModelFunction } from '../virtio/model-regs.js';
import type { Devargs } from '../ethdev/devargs.js';
import { virtioDriver } from './net-virtio.js';

function deviceName(d: Devargs): string {
  const n = d.args.get('device');
  if (n === undefined || !/^[A-Za-z0-9_.-]{1,28}$/.test(n)) {
    throw new MpError('EINVAL', `${d.name}: device=<model name> (1..28 of A-Z a-z 0-9 _ . -) is required, got ${n === undefined ? 'none' : `'${n}'`}`);
  }
  return n;
}

export const netVirtioModel = virtioDriver('net_virtio_model', {
  keys: ['device'],
  probe: (_ctx, d) => new ModelFunction(deviceName(d)),
  open: (_ctx, d) => new ModelFunction(deviceName(d)),
  release: () => {},
});
