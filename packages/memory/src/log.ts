/**
 * The log of every @mp package: one process-wide level (`--log-level`) and one sink.
 *
 * Lines go to stderr as `COMPONENT: message` (DPDK's `EAL: …` style) unless an application installs its
 * own sink with {@link setLogger} — to route them into pino, winston, a test's array, or nowhere. The
 * level filters before the sink is called: a sink sees only lines at or above the level.
 *
 * What each level carries: `error`/`warning` — something was lost or refused; `notice` — the group
 * changed (adopted, stale files removed); `info` — one line per process lifecycle step; `debug` — what
 * someone debugging a group needs: attach and adopt steps, lock repairs, IPC peers and the inbox
 * fallback, telemetry connections.
 */

/** Log levels, as DPDK's `--log-level` numbers (1 emergency … 8 debug) or names. */
export type LogLevel = 'error' | 'warning' | 'notice' | 'info' | 'debug';

/** One log line, as handed to a sink. */
export interface LogRecord {
  level: LogLevel;
  /** `EAL`, `MEM`, `IPC`, `TELEMETRY`, … */
  component: string;
  message: string;
}

/** A log sink: receives every line that passes the level. Must not throw (what it throws is dropped). */
export type Logger = (record: LogRecord) => void;

const ORDER: Record<LogLevel, number> = { error: 4, warning: 5, notice: 6, info: 7, debug: 8 };
let threshold = ORDER.notice;
const stderrSink: Logger = (r) => {
  process.stderr.write(`${r.component}: ${r.message}\n`);
};
let sink: Logger = stderrSink;

/** Set the process-wide log level (`--log-level` of @mp/eal lands here). */
export function setLogLevel(level: LogLevel | number): void {
  threshold = typeof level === 'number' ? level : ORDER[level];
}

/** True when a line of `level` would be passed to the sink (to skip building costly messages). */
export function logEnabled(level: LogLevel): boolean {
  return ORDER[level] <= threshold;
}

/**
 * Route every @mp log line to `logger` instead of stderr; `undefined` restores stderr. Returns the sink
 * that was installed before, so a caller can chain or restore it.
 */
export function setLogger(logger: Logger | undefined): Logger {
  const before = sink;
  sink = logger ?? stderrSink;
  return before;
}

/** One line to the sink, when `level` passes the threshold. */
export function log(level: LogLevel, component: string, message: string): void {
  if (ORDER[level] > threshold) return;
  try {
    sink({ level, component, message });
  } catch {
    // a sink that throws loses its line, never the caller's work
  }
}
