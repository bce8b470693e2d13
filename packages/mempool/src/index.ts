export { Mempool } from './mempool.js';
export { poolFor } from './pools.js';
export { poolOf, indexOf, handleOf } from './handle.js';
export {
  MEMPOOL_F_NO_SPREAD,
  MEMPOOL_F_NO_CACHE_ALIGN,
  MEMPOOL_F_SP_PUT,
  MEMPOOL_F_SC_GET,
  MEMPOOL_F_NO_IOVA_CONTIG,
} from './options.js';
export type { MempoolCreateOptions, MempoolDescriptor } from './options.js';
export { Mbuf, pktmbufPoolCreate } from './mbuf.js';
export type { PktmbufPoolOptions } from './mbuf.js';
export {
  MEMPOOL_NAME_MAX,
  MEMPOOL_MZ_PREFIX,
  MEMPOOL_VERSION,
  CACHE_MAX_SIZE,
  MAX_OBJECTS,
  MAX_POOLS,
  OWNER_FREE,
  OWNER_IN_FLIGHT,
  PKTMBUF_HEADROOM,
  MBUF_DEFAULT_BUF_SIZE,
  MBUF_HDR_SIZE,
  MBUF_PORT_INVALID,
  MB as MBUF_FIELDS,
} from './layout.js';
export { MpError } from '@mp/memory';
export type { MpErrorCode } from '@mp/memory';
export * as mempoolLayout from './layout.js';
import './telemetry.js';
