/**
 * Interleaved rounds: every round runs each cell once, in turn, so a change in the machine's other load
 * hits all cells alike (the machine is shared: only ratios within one run mean anything). Warm-up rounds
 * run the same cells first and record nothing.
 */
import { median, percentile } from './stats.js';

/** Samples by key, in the order they were recorded. */
export class Samples {
  readonly #by = new Map<string, number[]>();

  /** Record one sample. */
  add(key: string, value: number): void {
    const a = this.#by.get(key);
    if (a === undefined) this.#by.set(key, [value]);
    else a.push(value);
  }

  /** All samples of `key` ([] when none). */
  all(key: string): number[] {
    return this.#by.get(key) ?? [];
  }

  /** Median of `key`'s samples (NaN when none). */
  median(key: string): number {
    return median(this.all(key));
  }

  /** p-quantile of `key`'s samples (NaN when none). */
  percentile(key: string, p: number): number {
    return percentile(this.all(key), p);
  }

  /** Keys with at least one sample, in first-recorded order. */
  keys(): string[] {
    return [...this.#by.keys()];
  }
}

/** Records a sample under a key; a no-op during warm-up rounds. */
export type Record = (key: string, value: number) => void;

/**
 * One cell of a round: it may record any number of samples through `record`; a finite number it returns
 * is recorded under the cell's own name. `round` is 0-based; warm-up rounds are negative.
 */
export type Cell = (record: Record, round: number) => unknown;

export interface RoundsOptions {
  /** Measured rounds. */
  rounds: number;
  /** Warm-up rounds before them, recording nothing (default 0). */
  warmup?: number;
  /** Where samples go (default: a new Samples). */
  into?: Samples;
  /** Called before each round (warm-up included), e.g. to print progress. */
  onRound?: (round: number) => void | Promise<void>;
}

/** Run `cells` round after round, each round every cell in turn; returns the samples. */
export async function rounds(opts: RoundsOptions, cells: ReadonlyArray<readonly [string, Cell]>): Promise<Samples> {
  const into = opts.into ?? new Samples();
  const warm = opts.warmup ?? 0;
  const off: Record = () => {};
  for (let r = -warm; r < opts.rounds; r++) {
    await opts.onRound?.(r);
    const record: Record = r < 0 ? off : (k, v) => into.add(k, v);
    for (const [name, cell] of cells) {
      const v = await cell(record, r);
      if (typeof v === 'number' && Number.isFinite(v)) record(name, v);
    }
  }
  return into;
}

/** {@link rounds} for synchronous cells (in-process microbenchmarks: no await between cells). */
export function roundsSync(opts: Omit<RoundsOptions, 'onRound'>, cells: ReadonlyArray<readonly [string, (record: Record, round: number) => unknown]>): Samples {
  const into = opts.into ?? new Samples();
  const warm = opts.warmup ?? 0;
  const off: Record = () => {};
  for (let r = -warm; r < opts.rounds; r++) {
    const record: Record = r < 0 ? off : (k, v) => into.add(k, v);
    for (const [name, cell] of cells) {
      const v = cell(record, r);
      if (typeof v === 'number' && Number.isFinite(v)) record(name, v);
    }
  }
  return into;
}

/** Wall time of `fn` in µs (process.hrtime), and what it returned. */
export function timed<T>(fn: () => T): { us: number; value: T } {
  const t = process.hrtime.bigint();
  const value = fn();
  return { us: Number(process.hrtime.bigint() - t) / 1e3, value };
}

let sink: unknown;
/** Keeps a value alive so the work that made it cannot be optimised away. */
export function blackhole(v: unknown): void {
  sink = v;
}
/** The last value given to {@link blackhole} (so the store is observable). */
export const sunk = (): unknown => sink;

/** Operations per µs (= Mops/s) of `ops` operations done by `fn`, timed once; its result is kept alive. */
export function mops(ops: number, fn: () => unknown): number {
  const t = timed(fn);
  blackhole(t.value);
  return ops / t.us;
}
