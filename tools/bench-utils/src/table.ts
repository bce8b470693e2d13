/**
 * The one table shape of every bench:
 *
 *   | op | <ours> | unit | <reference, this run> | ratio | … | <anchor, ANCHORS.md> | ratio | … | rounds | note |
 *
 * References are measured in the same run (the only fair comparison on a shared machine); anchors are the
 * fixed figures of ../shared/bench/ANCHORS.md. A ratio is ours ÷ reference unless the table says
 * `ratio: 'ref/ours'` (a speed from times: > 1 is faster). After the markdown, one line
 * `bench-json {…}` carries the same table with its context for tools that compare runs.
 */

/** A figure: a number, a pair such as [p50, p99] (the ratio uses the first), or text (no ratio). */
export type Value = number | readonly number[] | string;

export interface TableSpec {
  /** One line above the table: what was measured, how many rounds. */
  title: string;
  /** Column head of our figure, e.g. `@mp/ring`. */
  ours: string;
  /** Unit of every row that does not name its own. */
  unit: string;
  /** Column heads of the references measured in this run. */
  refs?: readonly string[];
  /** Column heads of the anchors taken from ANCHORS.md. */
  anchors?: readonly string[];
  /** How ratio columns divide (default `ours/ref`). */
  ratio?: 'ours/ref' | 'ref/ours';
  /** Decimals of values (default 2; a row may override). */
  digits?: number;
  /** Add a column with each row's per-round samples. */
  rounds?: boolean;
}

export interface Row {
  op: string;
  ours: Value;
  unit?: string;
  /** By reference column head; missing or undefined prints `—`. */
  refs?: Readonly<Record<string, Value | undefined>>;
  /** By anchor column head; a string (a range such as `60–95`) is printed as is, without a ratio. */
  anchors?: Readonly<Record<string, Value | undefined>>;
  /** Per-round samples of `ours` (shown when the table has `rounds`). */
  samples?: readonly number[];
  note?: string;
  digits?: number;
}

const first = (v: Value | undefined): number =>
  typeof v === 'number' ? v : Array.isArray(v) ? (v as readonly number[])[0] ?? NaN : NaN;

/** A number with `d` decimals; `—` for NaN/undefined. */
export function fmt(x: number | undefined, d = 2): string {
  return x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d);
}

/** A figure as printed: pairs joined by ` / `. */
export function fmtValue(v: Value | undefined, d = 2): string {
  if (v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return fmt(v, d);
  return (v as readonly number[]).map((x) => fmt(x, d)).join(' / ');
}

/** `a ÷ b` as `1.23×` (two significant digits below 0.1: `0.031×`); `—` when either is missing or b is 0. */
export function ratio(a: number, b: number, d = 2): string {
  const r = a / b;
  if (!Number.isFinite(r)) return '—';
  return `${Math.abs(r) >= 0.1 || r === 0 ? r.toFixed(d) : r.toPrecision(2)}×`;
}

/** The markdown lines of a table (no JSON). */
export function tableLines(spec: TableSpec, rows: readonly Row[]): string[] {
  const refs = spec.refs ?? [];
  const anchors = spec.anchors ?? [];
  const rel = (ours: Value, other: Value | undefined): string =>
    spec.ratio === 'ref/ours' ? ratio(first(other), first(ours)) : ratio(first(ours), first(other));
  const hasNote = rows.some((r) => r.note !== undefined && r.note !== '');
  const head = ['op', spec.ours, 'unit'];
  for (const r of refs) head.push(r, 'ratio');
  for (const a of anchors) head.push(`${a} (ANCHORS.md)`, 'ratio');
  if (spec.rounds) head.push('rounds');
  if (hasNote) head.push('note');
  const out = [
    `\n${spec.title}${refs.length + anchors.length > 0 ? ` — ratio = ${spec.ratio === 'ref/ours' ? 'reference ÷ ours (speed: > 1 is faster)' : 'ours ÷ reference'}` : ''}`,
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
  ];
  for (const row of rows) {
    const d = row.digits ?? spec.digits ?? 2;
    const cells = [row.op, fmtValue(row.ours, d), row.unit ?? spec.unit];
    for (const r of refs) cells.push(fmtValue(row.refs?.[r], d), row.refs?.[r] === undefined ? '—' : rel(row.ours, row.refs[r]));
    for (const a of anchors) cells.push(fmtValue(row.anchors?.[a], d), row.anchors?.[a] === undefined ? '—' : rel(row.ours, row.anchors[a]));
    if (spec.rounds) cells.push(row.samples === undefined ? '' : row.samples.map((x) => fmt(x, d)).join(', '));
    if (hasNote) cells.push(row.note ?? '');
    out.push(`| ${cells.join(' | ')} |`);
  }
  return out;
}

/** Print a table, then its `bench-json` line with `context` (package, node, load, memory, pinning). */
export function printTable(spec: TableSpec, rows: readonly Row[], context: object): void {
  for (const l of tableLines(spec, rows)) console.log(l);
  const json = {
    ...context,
    table: spec.title,
    ours: spec.ours,
    unit: spec.unit,
    ratio: spec.ratio ?? 'ours/ref',
    rows: rows.map((r) => ({ op: r.op, unit: r.unit ?? spec.unit, ours: r.ours, refs: r.refs, anchors: r.anchors, samples: r.samples, note: r.note })),
  };
  console.log(`bench-json ${JSON.stringify(json)}`);
}
