/** The benchmark harness of every @mp bench (private; README.md). */
export { median, percentile, percentiles } from './stats.js';
export { Samples, rounds, roundsSync, timed, mops, blackhole, sunk } from './rounds.js';
export type { Cell, Record, RoundsOptions } from './rounds.js';
export { fmt, fmtValue, ratio, tableLines, printTable } from './table.js';
export type { Row, TableSpec, Value } from './table.js';
export { startBench, load } from './header.js';
export type { Bench, BenchInfo } from './header.js';
export { hasTaskset, hasCommand, pinningNote, wrapArgv, runPeer, spawnPeer } from './peer.js';
export type { Peer, PeerOptions, RunResult } from './peer.js';
export { clockTicks, cpuSeconds, cpuShare } from './proc.js';
export { buildDpdkC } from './dpdk.js';
export type { DpdkBuild } from './dpdk.js';
