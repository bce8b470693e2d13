/**
 * The telemetry registry (DPDK's rte_telemetry): commands that describe a running process, answered in
 * DPDK's telemetry v2 JSON over `<runtime dir>/dpdk_telemetry.v2[:<n>]` (see telemetry-server.ts).
 *
 * Each package registers its own commands when it is loaded (`/ring/list` by @mp/ring, `/ethdev/stats`
 * by the port package), so a stack without ports has no `/ethdev`. Names follow DPDK's wherever DPDK
 * has the command; @mp's own live under `/mp/`.
 *
 * The registry is process-wide: it lives in one slot on `globalThis` (DESIGN §12), so the ESM and CJS
 * copies of a package register into the same table. Registering a name again replaces the handler
 * (a package loaded twice registers twice; the last one answers).
 *
 * Protocol details kept from DPDK 22.11 (lib/telemetry/telemetry.c):
 * - a request is `<command>[,<params>]`, at most 1023 bytes; the command is what precedes the first ','
 * - the reply is one message `{"<command>":<data>}` of at most {@link MAX_OUTPUT_LEN} bytes; longer data
 *   is cut element by element from the end of its outer array or object, so it stays valid JSON
 * - an unknown command, or a handler that fails (throws), gets `{"<command>":null}`; the connection
 *   stays open
 * - `/` lists the commands, `/info` gives version, pid and the output limit, `/help,<command>` the
 *   command's help text (`{"/help":{"<command>":"<help>"}}`; unknown: `{"/help":null}`)
 */
import { MpError } from '@mp/memory';

/** What a command may answer: JSON values (bigints are written as integers). */
export type TelemetryValue =
  | null
  | string
  | number
  | boolean
  | bigint
  | readonly TelemetryValue[]
  | { readonly [key: string]: TelemetryValue | undefined };

/**
 * A command handler: `params` is what followed the first ',' of the request (undefined when nothing
 * did). Throw (any error) for a bad parameter: the client gets DPDK's `{"<command>":null}`.
 */
export type TelemetryHandler = (command: string, params: string | undefined) => TelemetryValue | Promise<TelemetryValue>;

/** One registered command. */
export interface TelemetryCommand {
  command: string;
  help: string;
  handler: TelemetryHandler;
}

/** DPDK's MAX_OUTPUT_LEN: the longest reply, in bytes (announced to clients on connect). */
export const MAX_OUTPUT_LEN = 16 * 1024;
/** DPDK's MAX_CMD_LEN: a command name is shorter than this. */
export const MAX_CMD_LEN = 56;
/** DPDK's MAX_HELP_LEN: a help text is shorter than this. */
export const MAX_HELP_LEN = 128;
/** Longest request read whole (DPDK's client_handler buffer, less its terminating NUL). */
export const MAX_INPUT_LEN = 1023;
/** Version string announced on connect and by `/info` (DPDK announces `DPDK <release>`). */
export const TELEMETRY_VERSION = '@mp 0.1.0 (DPDK telemetry v2)';

const COMMAND_RE = /^\/[A-Za-z0-9_/]*$/;

interface Registry {
  version: 1;
  commands: Map<string, TelemetryCommand>;
}
const SLOT = Symbol.for('@mp/eal.telemetry');

function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  let r = g[SLOT];
  if (r === undefined) {
    r = { version: 1, commands: new Map() };
    g[SLOT] = r;
  } else if (r.version !== 1) {
    throw new MpError('EPROTO', `telemetry registry slot holds version ${String(r.version)}; this @mp/eal uses version 1`);
  }
  return r;
}

/**
 * Register a telemetry command (rte_telemetry_register_cmd). Registering an existing name replaces it.
 *
 * @throws {MpError} EINVAL — the name does not start with '/', holds characters other than letters,
 *   digits, '_' and '/', is {@link MAX_CMD_LEN} bytes or longer, or the help text is
 *   {@link MAX_HELP_LEN} bytes or longer, or `handler` is not a function
 * @see rte_telemetry_register_cmd
 */
function register(command: string, help: string, handler: TelemetryHandler): void {
  if (typeof command !== 'string' || !COMMAND_RE.test(command) || command.length >= MAX_CMD_LEN) {
    throw new MpError('EINVAL', `telemetry command '${String(command)}' must start with '/', use only letters, digits, '_' and '/', and be shorter than ${MAX_CMD_LEN} bytes`);
  }
  if (typeof help !== 'string' || Buffer.byteLength(help) >= MAX_HELP_LEN) {
    throw new MpError('EINVAL', `help of telemetry command ${command} must be a string shorter than ${MAX_HELP_LEN} bytes`);
  }
  if (typeof handler !== 'function') throw new MpError('EINVAL', `handler of telemetry command ${command} is not a function`);
  registry().commands.set(command, { command, help, handler });
}

/** Remove a command; returns whether it was registered. */
function unregister(command: string): boolean {
  return registry().commands.delete(command);
}

/** The registered commands, sorted by name. */
function list(): TelemetryCommand[] {
  return [...registry().commands.values()].sort((a, b) => (a.command < b.command ? -1 : a.command > b.command ? 1 : 0));
}

/** True when `command` is registered. */
function has(command: string): boolean {
  return registry().commands.has(command);
}

/**
 * Answer one request the way the socket does: the reply text, `{"<command>":<data>}`, cut to
 * `maxLen` bytes as DPDK cuts it. Never throws.
 */
async function handle(request: string, maxLen = MAX_OUTPUT_LEN): Promise<string> {
  // strtok(buffer, ","): leading commas are skipped; the command is the first token.
  const text = request.replace(/^,+/, '');
  const comma = text.indexOf(',');
  const cmd = comma < 0 ? text : text.slice(0, comma);
  const rest = comma < 0 ? '' : text.slice(comma + 1);
  const params = rest === '' ? undefined : rest;
  const key = cmd === '' ? 'none' : cmd.slice(0, MAX_CMD_LEN);
  const entry = cmd.length < MAX_CMD_LEN ? registry().commands.get(cmd) : undefined;
  if (entry === undefined) return formatReply(key, null, maxLen);
  let data: TelemetryValue;
  try {
    data = await entry.handler(cmd, params);
  } catch {
    return formatReply(key, null, maxLen);
  }
  return formatReply(key, data ?? null, maxLen);
}

/** The process-wide telemetry registry: what the socket serves. @see rte_telemetry_register_cmd */
export const telemetry = { register, unregister, list, has, handle };

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)) ?? 'null';
const bytes = (s: string): number => Buffer.byteLength(s);

/** `{"<key>":<data>}` in at most maxLen bytes: a container too long loses entries from its end. */
export function formatReply(key: string, data: TelemetryValue, maxLen = MAX_OUTPUT_LEN): string {
  const head = `{${json(key)}:`;
  const full = `${head}${json(data)}}`;
  if (bytes(full) <= maxLen) return full;
  const room = maxLen - bytes(head) - 1;
  if (Array.isArray(data)) return `${head}${fitArray(data as TelemetryValue[], room)}}`;
  if (data !== null && typeof data === 'object') return `${head}${fitObject(data as Record<string, TelemetryValue>, room)}}`;
  // A scalar that does not fit (a huge string): DPDK drops it.
  return `${head}null}`;
}

function fitArray(items: readonly TelemetryValue[], room: number): string {
  let out = '[';
  for (const v of items) {
    const piece = (out.length > 1 ? ',' : '') + json(v);
    if (bytes(out) + bytes(piece) + 1 > room) break;
    out += piece;
  }
  return `${out}]`;
}

function fitObject(obj: Record<string, TelemetryValue>, room: number): string {
  let out = '{';
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const piece = (out.length > 1 ? ',' : '') + `${json(k)}:${json(v)}`;
    if (bytes(out) + bytes(piece) + 1 > room) break;
    out += piece;
  }
  return `${out}}`;
}

// The protocol's own commands, as DPDK registers them in telemetry.c.
register('/', 'Returns list of available commands, Takes no parameters', () => list().map((c) => c.command));
register('/info', 'Returns DPDK Telemetry information. Takes no parameters', () => ({
  version: TELEMETRY_VERSION,
  pid: process.pid,
  max_output_len: MAX_OUTPUT_LEN,
}));
register('/help', 'Returns help text for a command. Parameters: string command', (_cmd, params) => {
  const entry = params === undefined ? undefined : registry().commands.get(params);
  if (entry === undefined) throw new MpError('EINVAL', `no command ${String(params)}`);
  return { [entry.command]: entry.help };
});
