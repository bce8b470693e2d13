export { init, eal, Eal } from './eal.js';
export type { ProcessInfo, EalEvents } from './eal.js';
/** Slots in a group's process table: at most this many processes at once (primary included). */
export { MAX_PROCS } from './layout.js';
export { parseArgs, parseLcores, validateOptions } from './args.js';
export type { EalOptions, ProcType, ParsedArgs } from './args.js';
export { MpError, memzone } from '@mp/memory';
export type { MpErrorCode, Memzone, MemzoneInfo, ReserveOptions } from '@mp/memory';
