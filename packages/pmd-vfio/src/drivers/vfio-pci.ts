/**
 * vfio-pci: a virtio-net PCI device bound to vfio-pci (devargs: its PCI address, `0000:00:04.0`, as
 * DPDK's `-a`). The prober opens the container, group and device (../vfio/vfio.ts); every other
 * process asks it for the three fds once (`mp_vfio_fds` over @mp/ipc, SCM_RIGHTS — 3 fds, within the
 * 8 a message carries) and then programs the device and polls its queues with its own mappings.
 */
import * as ipc from '@mp/ipc';
import { MpError } from '@mp/memory';
import { VfioFunction } from '../vfio/vfio.js';
import type { VfioFds } from '../vfio/vfio.js';
import type { PortContext } from './driver.js';
import { virtioDriver } from './net-virtio.js';

/** @mp/ipc action the prober answers with a port's VFIO fds. */
export const FDS_ACTION = 'mp_vfio_fds';
const FETCH_TIMEOUT_MS = 2000;
/** SCM_RIGHTS descriptors per @mp/ipc message (DPDK's RTE_MP_MAX_FD_NUM). */
const MAX_FDS = 8;

/** The functions this process opened, by port id (it probed those ports). */
const held = new Map<number, VfioFunction>();

let registered = false;
function registerAction(): void {
  if (registered) return;
  ipc.start();
  ipc.actionRegister(FDS_ACTION, (msg) => {
    const req = JSON.parse(Buffer.from(msg.param).toString('utf8')) as { port: number };
    const f = held.get(req.port);
    if (f === undefined) throw new MpError('ENODEV', `vfio-pci port ${req.port} is not held by pid ${process.pid}`);
    const fds = [...f.fds()];
    if (fds.length > MAX_FDS) throw new MpError('E2BIG', `${fds.length} fds do not fit one message`);
    return { name: FDS_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify({ address: f.address }))), fds };
  });
  registered = true;
}

function fetch(ctx: PortContext, address: string): VfioFunction {
  const prober = ctx.prober();
  const r = ipc.requestSync({ name: FDS_ACTION, param: new Uint8Array(Buffer.from(JSON.stringify({ port: ctx.id }))) }, { to: prober, timeoutMs: FETCH_TIMEOUT_MS });
  const m = r.msgs[0];
  if (m === undefined) throw new MpError('ENODEV', `vfio-pci ${address}: its prober (pid ${prober}) did not hand over the VFIO fds: ${r.errors[0]?.message ?? 'no answer'}`);
  if (m.fds.length !== 3) throw new MpError('EPROTO', `vfio-pci ${address}: ${m.fds.length} fds came (want container, group, device)`);
  return VfioFunction.fromFds(address, m.fds as unknown as VfioFds);
}

export const vfioPci = virtioDriver('vfio-pci', {
  keys: [],
  probe(ctx, d) {
    const f = VfioFunction.open(d.name);
    registerAction();
    held.set(ctx.id, f);
    return f;
  },
  open(ctx, d) {
    const own = held.get(ctx.id);
    if (own !== undefined) return own;
    return fetch(ctx, d.name);
  },
  release(ctx) {
    held.get(ctx.id)?.close();
    held.delete(ctx.id);
  },
});
