/**
 * @internal Not public API: the raw native binding and the codec, for tests (a deliberately
 * misbehaving peer speaks raw SOCK_SEQPACKET through these) and for the ethdev layer of this package.
 */
export { binding, QUEUE_KIND } from './binding.js';
export type { PmdBinding, NativeQueue, WatchHandle } from './binding.js';
export { encode, decode } from './memif/protocol.js';
export type { MemifMsg, Decoded } from './memif/protocol.js';
export { VirtioNetModel, fnv1a, fillFrame } from './virtio/model-device.js';
export type { ModelOptions, PairStats } from './virtio/model-device.js';
export { serveQueueFds, requestQueueFds, requestQueueFdsSync, FDS_PER_CHUNK } from './drivers/queue-fds.js';
export { netBinding } from './binding.js';
export { ifDown } from './drivers/link-watch.js';
export { xdp } from './binding.js';
export type { XdpBinding, XskRingMap } from './binding.js';
export { afXdpUnavailable } from './drivers/net-af-xdp.js';
