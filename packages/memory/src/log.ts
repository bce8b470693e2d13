/** Log levels, as DPDK's `--log-level` numbers (1 emergency … 8 debug) or names. */
export type LogLevel = 'error' | 'warning' | 'notice' | 'info' | 'debug';

const ORDER: Record<LogLevel, number> = { error: 4, warning: 5, notice: 6, info: 7, debug: 8 };
let threshold = ORDER.notice;

/** Set the process-wide log level (`--log-level` of @mp/eal lands here). */
export function setLogLevel(level: LogLevel | number): void {
  threshold = typeof level === 'number' ? level : ORDER[level];
}

/** One line on stderr, prefixed like DPDK's `EAL:` lines. */
export function log(level: LogLevel, component: string, message: string): void {
  if (ORDER[level] <= threshold) process.stderr.write(`${component}: ${message}\n`);
}
