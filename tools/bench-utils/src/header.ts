/**
 * The header every bench prints first, and the context every table's JSON line carries: package, node
 * version, load average at the start (and, in the closing line, at the end), memory backing and CPU
 * pinning. The machine is shared (2 vCPUs, load 10+): a reader judges a figure by its load.
 */
import { loadavg } from 'node:os';
import { printTable, type TableSpec, type Row } from './table.js';

export interface BenchInfo {
  /** The package measured, e.g. `@mp/ring`. */
  package: string;
  /** What this bench measures, one line. */
  what?: string;
  /** Where shared memory lives, e.g. `/dev/shm, 4 KiB pages (--no-huge)`. */
  memory?: string;
  /** Which processes run on which CPUs, e.g. `producer core 0, consumer core 1 (taskset)`; `none`. */
  pinning?: string;
  /** Rounds, sizes and other parameters worth printing. */
  params?: string;
}

/** Load averages (1, 5, 15 min) rounded to 2 decimals. */
export const load = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

export interface Bench {
  readonly info: BenchInfo;
  readonly loadStart: number[];
  /** Fill in what was learnt after the start (memory backing found, pinning available). Printed as a note. */
  set(more: Partial<BenchInfo>): void;
  /** Print one table (markdown, then its JSON line). */
  table(spec: TableSpec, rows: readonly Row[]): void;
  /** Print a line under the tables (skips, goals, per-run figures). */
  note(text: string): void;
  /** Print the closing line: load average at the end. */
  end(): void;
}

/** Print the header and return the bench's printer. */
export function startBench(info: BenchInfo): Bench {
  const loadStart = load();
  const ctx: BenchInfo = { ...info };
  const line = (i: BenchInfo): string =>
    [
      `node ${process.version}`,
      `load ${loadStart.join(' ')} at start`,
      i.memory !== undefined ? `memory: ${i.memory}` : undefined,
      i.pinning !== undefined ? `pinning: ${i.pinning}` : undefined,
      i.params,
    ]
      .filter((x) => x !== undefined)
      .join('; ');
  console.log(`# ${info.package} bench${info.what ? ` — ${info.what}` : ''}`);
  console.log(line(info));
  return {
    info: ctx,
    loadStart,
    set(more) {
      Object.assign(ctx, more);
      const parts = Object.entries(more).map(([k, v]) => `${k}: ${v}`);
      if (parts.length > 0) console.log(parts.join('; '));
    },
    table(spec, rows) {
      printTable(spec, rows, { ...ctx, node: process.version, loadStart, loadNow: load() });
    },
    note(text) {
      console.log(text);
    },
    end() {
      console.log(`\n${ctx.package} bench done; load ${load().join(' ')} at end (${loadStart.join(' ')} at start)`);
    },
  };
}
