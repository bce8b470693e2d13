/**
 * @mp/pmd-vfio — ethdev for @mp groups: ports probed from DPDK devargs, whose queues any process of the
 * group polls itself (one process per queue), with stats and link events in every process; drivers
 * net_ring and net_memif (the memif 2.0 layer below it: control protocol in both roles and a burst
 * data path, whose rings every process of the group maps itself).
 */
import { registerDriver } from './ethdev/port.js';
import { netRing } from './drivers/net-ring.js';
import { netMemif } from './drivers/net-memif.js';
import { netAfXdp } from './drivers/net-af-xdp.js';

registerDriver(netRing);
registerDriver(netMemif);
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
