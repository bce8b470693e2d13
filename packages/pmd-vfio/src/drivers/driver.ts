/**
 * What a poll-mode driver gives ethdev. A driver is stateless code: everything about a port lives in
 * its entry of the shared port table (the driver's own words included) or in kernel objects / memzones
 * the driver names there, so every process of the group can open the port and poll its own queues.
 */
import type { Mempool } from '@mp/mempool';
import type { Devargs } from '../ethdev/devargs.js';

/** One process's handle on a queue it polls. No allocation per call. */
export interface BurstQueue {
  /**
   * rx: fill `handles[0..)` with up to `n` mbuf handles, adopted by this process; tx: take up to `n`
   * mbuf handles from `handles[0..)` (released by this process: the driver owns them now). Returns how
   * many; tx's caller frees the rest, as DPDK.
   */
  burst(handles: Uint32Array, n: number): number;
  /** Drop this process's resources of the queue (mappings, fds); nothing shared changes. */
  close?(): void;
}

/** What the driver may touch of its port: the port table entry, through ethdev's accessors. */
export interface PortContext {
  readonly id: number;
  readonly name: string;
  /** The driver's own 320 bytes of the port entry, as u32 words (zero at probe). */
  readonly words: Uint32Array;
  /** The driver's own bytes (the same 320 bytes). */
  readonly bytes: Uint8Array;
  nbRxq(): number;
  nbTxq(): number;
  /** Descriptors of rx / tx queue q (0 = not set up). */
  rxDesc(q: number): number;
  txDesc(q: number): number;
  /** The pool rx queue q allocates from. */
  rxPool(q: number): Mempool;
  /**
   * The shared counters of a queue: `f64[at]` packets, `[at + 1]` bytes, `[at + 2]` errors, `[at + 3]`
   * (rx) mbuf allocation failures. ethdev counts packets (and tx refusals as errors); a driver adds
   * bytes, its own errors and allocation failures there.
   */
  counters(dir: 'rx' | 'tx', q: number): { f64: Float64Array; at: number };
  /** Pid of the process that probed the port. */
  prober(): number;
  /** Record a link change in the table and announce it to every process of the group. */
  setLink(up: boolean, speedMbps: number, reason?: string): void;
  /** Set the port's MAC address. */
  setMac(mac: Uint8Array): void;
}

/** A driver for one kind of device. */
export interface Driver {
  /** `net_ring`, `net_memif`, … */
  readonly name: string;
  /** The devargs keys it accepts. */
  readonly keys: readonly string[];
  /** Validate devargs and make the port's shared objects (in the probing process). */
  probe(ctx: PortContext, d: Devargs): void;
  /** This process's instance of the driver for an existing port. */
  open(ctx: PortContext, d: Devargs): DriverPort;
}

/** One process's instance of a driver for one port: control operations and its queues. */
export interface DriverPort {
  configure(nbRxq: number, nbTxq: number): void;
  rxQueueSetup(q: number, nbDesc: number, pool: Mempool): void;
  txQueueSetup(q: number, nbDesc: number): void;
  start(): void;
  stop(): void;
  /** Release the port's shared objects (the last close, in the closing process). */
  close(): void;
  /** This process's queue objects (made on first use; the queue is claimed by ethdev first). */
  rxQueue(q: number): BurstQueue;
  txQueue(q: number): BurstQueue;
  /** Driver-specific counters (xstats), beyond ethdev's per-queue ones. */
  xstats?(): Array<{ name: string; value: number }>;
  /** Forget this process's mappings (the process leaves; nothing shared changes). */
  detach?(): void;
}
