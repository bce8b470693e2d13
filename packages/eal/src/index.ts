export { init, eal, Eal } from './eal.js';
export type { ProcessInfo, EalEvents } from './eal.js';
export { parseArgs, parseLcores, validateOptions } from './args.js';
export type { EalOptions, ProcType, ParsedArgs } from './args.js';
export { MpError, memzone } from '@mp/memory';
export type { MpErrorCode, Memzone, MemzoneInfo, ReserveOptions } from '@mp/memory';
