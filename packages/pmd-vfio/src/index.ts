/**
 * @mp/pmd-vfio: poll-mode drivers. This release holds the memif layer (DPDK's net_memif below
 * ethdev): the memif 2.0 control protocol in both roles and a burst data path.
 */
export { MpError } from '@mp/memory';
export { MemifInterface } from './memif/interface.js';
export type { MemifOptions, DownInfo } from './memif/interface.js';
export type { UpInfo } from './memif/control.js';
export { HANDSHAKE_TIMEOUT_MS } from './memif/control.js';
export { MemifQueue } from './memif/queue.js';
export type { QueueStats } from './memif/queue.js';
export * as memifProtocol from './memif/protocol.js';
export * as memifLayout from './memif/layout.js';
