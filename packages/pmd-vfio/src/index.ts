/**
 * @mp/pmd-vfio — ethdev for @mp groups: ports probed from DPDK devargs, whose queues any process of the
 * group polls itself (one process per queue), with stats and link events in every process; drivers
 * net_ring and net_memif (the memif 2.0 layer below it: control protocol in both roles and a burst
 * data path, whose rings every process of the group maps itself), net_af_packet and net_tap (kernel
 * interfaces whose sockets / queue descriptors reach every process over @mp/ipc).
 */
import { registerDriver } from './ethdev/port.js';
import { netRing } from './drivers/net-ring.js';
import { netMemif } from './drivers/net-memif.js';
import { netVirtioModel } from './drivers/net-virtio-model.js';
import { vfioPci } from './drivers/vfio-pci.js';
import { netAfPacket } from './drivers/net-af-packet.js';
import { netTap } from './drivers/net-tap.js';
import { netAfXdp } from './drivers/net-af-xdp.js';

registerDriver(netRing);
registerDriver(netMemif);
registerDriver(netVirtioModel);
registerDriver(vfioPci);
registerDriver(netAfPacket);
registerDriver(netTap);
registerDriver(netAfXdp);
import './ethdev/telemetry.js';

export * as ethdev from './ethdev/api.js';
export { Port } from './ethdev/port.js';
export type { EthStats, EthLink, PortInfo } from './ethdev/port.js';
export type { LinkEvent } from './ethdev/events.js';
export { parseDevargs } from './ethdev/devargs.js';
export type { Devargs } from './ethdev/devargs.js';
export type { Driver, DriverPort, BurstQueue, PortContext } from './drivers/driver.js';
export { MAX_PORTS, MAX_QUEUES } from './ethdev/layout.js';
export * as ethdevLayout from './ethdev/layout.js';
export { MpError } from '@mp/memory';
export { MemifInterface } from './memif/interface.js';
export type { MemifOptions, DownInfo } from './memif/interface.js';
export type { UpInfo, RingShare } from './memif/control.js';
export { HANDSHAKE_TIMEOUT_MS } from './memif/control.js';
export { MemifQueue } from './memif/queue.js';
export type { QueueStats } from './memif/queue.js';
export * as memifProtocol from './memif/protocol.js';
export * as memifLayout from './memif/layout.js';
export { VfioFunction } from './vfio/vfio.js';
export type { VfioPaths, VfioFds } from './vfio/vfio.js';
export { parsePciAddress } from './vfio/address.js';
export { readPciDevice, vfioGroupOf } from './vfio/sysfs.js';
export type { PciDeviceInfo } from './vfio/sysfs.js';
export { decodeRegionInfo } from './vfio/regions.js';
export type { RegionInfo } from './vfio/regions.js';
export type { PciFunction, Bar } from './virtio/pci-function.js';
