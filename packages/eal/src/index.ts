export { init, eal, Eal } from './eal.js';
export type { ProcessInfo, EalEvents } from './eal.js';
/** Slots in a group's process table: at most this many processes at once (primary included). */
export { MAX_PROCS } from './layout.js';
export { parseArgs, parseLcores, validateOptions } from './args.js';
export type { EalOptions, ProcType, ParsedArgs } from './args.js';
export { telemetry, formatReply, MAX_OUTPUT_LEN, MAX_CMD_LEN, MAX_HELP_LEN, MAX_INPUT_LEN, TELEMETRY_VERSION } from './telemetry.js';
export type { TelemetryValue, TelemetryHandler, TelemetryCommand } from './telemetry.js';
export { telemetrySocketName, TELEMETRY_SOCKET, MAX_CONNECTIONS } from './telemetry-server.js';
export type { TelemetryServer } from './telemetry-server.js';
import './telemetry-eal.js';
export { MpError, memzone } from '@mp/memory';
export type { MpErrorCode, Memzone, MemzoneInfo, ReserveOptions } from '@mp/memory';
export { inspectGroup, findGroups, defaultGroupBases, removeDeadGroup } from './inspect.js';
export type { GroupSnapshot, ProcessSnapshot, RemovedGroup } from './inspect.js';
