/**
 * The ring's flags (DPDK's RING_F_* values), the sync modes they name, and the one function that merges
 * them with the `producer` / `consumer` / `exactSize` options of {@link Ring.create}.
 */
import { MpError } from '@mp/memory';
import { SYNC_MT, SYNC_MT_HTS, SYNC_MT_RTS, SYNC_ST } from './layout.js';

// ---- flags (same values as DPDK's RING_F_*) -----------------------------------------------------------

/** The ring has one producer at a time (RING_F_SP_ENQ). */
export const RING_F_SP_ENQ = 0x0001;
/** The ring has one consumer at a time (RING_F_SC_DEQ). */
export const RING_F_SC_DEQ = 0x0002;
/** `count` is the exact capacity, not a power of two (RING_F_EXACT_SZ). */
export const RING_F_EXACT_SZ = 0x0004;
/** Multi-producer with relaxed tail sync (RING_F_MP_RTS_ENQ). */
export const RING_F_MP_RTS_ENQ = 0x0008;
/** Multi-consumer with relaxed tail sync (RING_F_MC_RTS_DEQ). */
export const RING_F_MC_RTS_DEQ = 0x0010;
/** Multi-producer with head/tail sync: one enqueue in flight at a time (RING_F_MP_HTS_ENQ). */
export const RING_F_MP_HTS_ENQ = 0x0020;
/** Multi-consumer with head/tail sync: one dequeue in flight at a time (RING_F_MC_HTS_DEQ). */
export const RING_F_MC_HTS_DEQ = 0x0040;
/** Short aliases, as the issue and DPDK's docs name them. */
export const SP_ENQ = RING_F_SP_ENQ;
export const SC_DEQ = RING_F_SC_DEQ;
export const EXACT_SZ = RING_F_EXACT_SZ;
export const MP_RTS_ENQ = RING_F_MP_RTS_ENQ;
export const MC_RTS_DEQ = RING_F_MC_RTS_DEQ;
export const MP_HTS_ENQ = RING_F_MP_HTS_ENQ;
export const MC_HTS_DEQ = RING_F_MC_HTS_DEQ;
const KNOWN_FLAGS = 0x7f;

/** RTE_RING_SZ_MASK: the largest ring size. */
export const RING_SZ_MASK = 0x7fffffff;

/** How a side of the ring synchronises (DPDK's `rte_ring_sync_type`). */
export type SyncMode = 'multi' | 'single' | 'rts' | 'hts';

/** Mode names by sync type (the SYNC_* values index it). */
export const SYNC_NAMES = ['multi', 'single', 'rts', 'hts'] as const;

/** Options of {@link Ring.create}. */
export interface RingCreateOptions {
  /** Bytes per element, a multiple of 4 (default 4; DPDK's classic ring holds 8-byte pointers). */
  elemSize?: number;
  /** `RING_F_*` bits (DPDK parity). Combined with `producer`/`consumer`/`exactSize`. */
  flags?: number;
  /** Producer sync: 'multi' (default, CAS), 'single' (SP_ENQ), 'rts' (MP_RTS_ENQ), 'hts' (MP_HTS_ENQ). */
  producer?: SyncMode;
  /** Consumer sync, as `producer`. */
  consumer?: SyncMode;
  /** Same as EXACT_SZ. */
  exactSize?: boolean;
}

/** DPDK's names of the flag bits, for messages. */
const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [RING_F_SP_ENQ, 'RING_F_SP_ENQ'],
  [RING_F_SC_DEQ, 'RING_F_SC_DEQ'],
  [RING_F_EXACT_SZ, 'RING_F_EXACT_SZ'],
  [RING_F_MP_RTS_ENQ, 'RING_F_MP_RTS_ENQ'],
  [RING_F_MC_RTS_DEQ, 'RING_F_MC_RTS_DEQ'],
  [RING_F_MP_HTS_ENQ, 'RING_F_MP_HTS_ENQ'],
  [RING_F_MC_HTS_DEQ, 'RING_F_MC_HTS_DEQ'],
];
const flagName = (bit: number): string => FLAG_NAMES.find(([b]) => b === bit)![1];

/** Per side: the flag bit of each mode ('multi' has none), as DPDK's RING_F_* sync bits. */
const SIDE_BITS = {
  producer: { single: RING_F_SP_ENQ, rts: RING_F_MP_RTS_ENQ, hts: RING_F_MP_HTS_ENQ },
  consumer: { single: RING_F_SC_DEQ, rts: RING_F_MC_RTS_DEQ, hts: RING_F_MC_HTS_DEQ },
} as const;
const SYNC_OF: Record<SyncMode, number> = { multi: SYNC_MT, single: SYNC_ST, rts: SYNC_MT_RTS, hts: SYNC_MT_HTS };

/**
 * One side's mode from the flag bits and the option: at most one sync bit, and an option that names the
 * same mode as the bits (or no option). Anything else is a conflict → EINVAL naming both.
 */
function sideMode(flags: number, opt: unknown, side: 'producer' | 'consumer'): SyncMode {
  const bits = SIDE_BITS[side];
  const set = (['single', 'rts', 'hts'] as const).filter((m) => (flags & bits[m]) !== 0);
  if (set.length > 1) {
    throw new MpError('EINVAL', `ring flags ${set.map((m) => flagName(bits[m])).join(' and ')} conflict: choose one ${side} mode`);
  }
  const fromFlags: SyncMode = set[0] ?? 'multi';
  if (opt === undefined) return fromFlags;
  if (typeof opt !== 'string' || !(opt in SYNC_OF)) {
    throw new MpError('EINVAL', `${side} mode '${String(opt)}' is not one of multi, single, rts, hts`);
  }
  const mode = opt as SyncMode;
  if (set.length === 1 && mode !== fromFlags) {
    throw new MpError('EINVAL', `ring flag ${flagName(bits[set[0]!])} conflicts with ${side}: '${mode}' (the flag means ${side}: '${fromFlags}'; give one of them)`);
  }
  return mode;
}

/**
 * Validate and merge `flags` with the `producer` / `consumer` / `exactSize` options.
 *
 * @throws {MpError} EINVAL — flags not a non-negative integer or with unknown bits; two sync bits on one
 *   side; an option that disagrees with a flag (`RING_F_SP_ENQ` with `producer: 'multi'`, `RING_F_EXACT_SZ`
 *   with `exactSize: false`, …); an unknown mode; `exactSize` not a boolean
 */
export function resolveFlags(opts: RingCreateOptions): { flags: number; prodSync: number; consSync: number } {
  const flags: unknown = opts.flags ?? 0;
  if (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0) {
    throw new MpError('EINVAL', `ring flags ${String(flags)} are not a non-negative integer of RING_F_* bits`);
  }
  if ((flags & ~KNOWN_FLAGS) !== 0 || flags > KNOWN_FLAGS) {
    throw new MpError('EINVAL', `unknown ring flags 0x${(flags - (flags & KNOWN_FLAGS)).toString(16)} (RING_F_* are 0x1..0x40)`);
  }
  const f = flags;
  const producer = sideMode(f, opts.producer, 'producer');
  const consumer = sideMode(f, opts.consumer, 'consumer');
  const exact = opts.exactSize;
  if (exact !== undefined && typeof exact !== 'boolean') throw new MpError('EINVAL', `exactSize ${String(exact)} is not a boolean`);
  if (exact === false && (f & RING_F_EXACT_SZ) !== 0) {
    throw new MpError('EINVAL', 'ring flag RING_F_EXACT_SZ conflicts with exactSize: false (give one of them)');
  }
  const out = (f & RING_F_EXACT_SZ) | (exact ? RING_F_EXACT_SZ : 0) |
    (producer === 'multi' ? 0 : SIDE_BITS.producer[producer]) | (consumer === 'multi' ? 0 : SIDE_BITS.consumer[consumer]);
  return { flags: out, prodSync: SYNC_OF[producer], consSync: SYNC_OF[consumer] };
}

