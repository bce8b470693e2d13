export { MpError, fromSystemError, isMpErrorCode } from './errors.js';
export type { MpErrorCode, MpErrorOptions } from './errors.js';
export { validateName } from './names.js';
// Internal helpers, also at '@mp/memory/internal' (where the @mp packages import them from). They leave
// this public index once @mp/pmd-vfio imports them from there too.
export { loadAddon } from './addon.js';
export { processSlot } from './slot.js';
export { TSO } from './order.js';
export { log, logEnabled, setLogLevel, setLogger } from './log.js';
export type { LogLevel, LogRecord, Logger } from './log.js';
export { futexWait, futexWaitAsync, futexWake } from './futex.js';
export type { FutexWaitResult } from './futex.js';
export { RobustLock, sleepSync, LOCK_LIVE_BASE } from './lock.js';
export { mapFile, ofdLock, ofdTest, watchPid, pageSize } from './sys.js';
export { listenSeqpacket, connectSeqpacket, SeqpacketConnection } from './seqpacket.js';
export type { SeqpacketListener, ListenOptions, PeerCredentials } from './seqpacket.js';
export { openOwnedFile, checkOwnedFd, lstatOwned, ensureOwnedDir, removeOwned, euid } from './files.js';
export type { OwnedFile, FileKind } from './files.js';
export type { MappedFile } from './sys.js';
export { hugepageInfo, chooseBacking, DEFAULT_SHM_CAP, SHM_DIR } from './hugepages.js';
export type { HugepageInfo, HugepageSize, HugetlbfsMount, Backing } from './hugepages.js';
export * as memzone from './memzone-api.js';
export {
  GroupMemory,
  crashPoint,
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
  SEGMENT_CHUNK,
} from './memzone.js';
export { attachMemory, detachMemory, groupMemory } from './group.js';
export type { Memzone, MemzoneInfo, MemzoneDescriptor, ReserveOptions, MemoryRegion, FormatOptions } from './memzone.js';
export { memRegionSize, MEMZONE_NAME_MAX } from './layout.js';
