export { MpError, fromSystemError, isMpErrorCode } from './errors.js';
export type { MpErrorCode, MpErrorOptions } from './errors.js';
export { validateName } from './names.js';
export { setLogLevel, setLogger, logEnabled } from './log.js';
export type { LogLevel, LogRecord, Logger } from './log.js';
export { futexWait, futexWaitAsync, futexWake } from './futex.js';
export type { FutexWaitResult } from './futex.js';
export { RobustLock, LOCK_LIVE_BASE } from './lock.js';
export { mapFile, ofdLock, ofdTest, watchPid, pageSize } from './sys.js';
export type { MappedFile } from './sys.js';
export { listenSeqpacket, connectSeqpacket, SeqpacketConnection } from './seqpacket.js';
export type { SeqpacketListener, ListenOptions, PeerCredentials } from './seqpacket.js';
export { openOwnedFile, lstatOwned, ensureOwnedDir, removeOwned } from './files.js';
export type { OwnedFile, FileKind } from './files.js';
export { hugepageInfo, chooseBacking, DEFAULT_SHM_CAP, SHM_DIR } from './hugepages.js';
export type { HugepageInfo, HugepageSize, HugetlbfsMount, Backing } from './hugepages.js';
export * as memzone from './memzone-api.js';
export {
  MEMZONE_2MB,
  MEMZONE_1GB,
  MEMZONE_SIZE_HINT_ONLY,
  MEMZONE_16MB,
  MEMZONE_16GB,
  MEMZONE_256KB,
  MEMZONE_256MB,
  MEMZONE_512MB,
  MEMZONE_4GB,
  MEMZONE_IOVA_CONTIG,
  CACHE_LINE_SIZE,
  SOCKET_ID_ANY,
} from './memzone-types.js';
export type { Memzone, MemzoneInfo, MemzoneDescriptor, ReserveOptions } from './memzone-types.js';
export type { MemoryRegion, FormatOptions } from './memzone.js';
export { MEMZONE_NAME_MAX, FILE_PREFIX_MAX } from './layout.js';
