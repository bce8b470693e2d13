export { Hash, HashWriterBusyError } from './table.js';
export {
  HASH_EXTRA_FLAGS_TRANS_MEM_SUPPORT,
  HASH_EXTRA_FLAGS_MULTI_WRITER_ADD,
  HASH_EXTRA_FLAGS_RW_CONCURRENCY,
  HASH_EXTRA_FLAGS_EXT_TABLE,
  HASH_EXTRA_FLAGS_NO_FREE_ON_DEL,
  HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
  HASH_MZ_PREFIX,
  HASH_NAME_MAX,
} from './options.js';
export type { HashOptions, HashEntry, HashFunc, KeyBatch } from './options.js';
export { crc32c, jhash } from './hashfn.js';
export { stringKey, u32Key, u64Key } from './keys.js';
export { MpError } from '@mp/memory';
export type { MpErrorCode } from '@mp/memory';
import './telemetry.js';
