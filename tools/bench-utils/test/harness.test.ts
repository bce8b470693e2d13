// The bench harness itself: the statistics every bench prints, the rounds, the table and its JSON line,
// child peers and /proc CPU time. (The harness is vitest-free; only this test uses vitest.)
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Samples,
  buildDpdkC,
  cpuSeconds,
  median,
  percentile,
  percentiles,
  printTable,
  ratio,
  rounds,
  roundsSync,
  runPeer,
  spawnPeer,
  tableLines,
  wrapArgv,
} from '../src/index.js';

describe('order statistics', () => {
  it('take the value at index ⌊n·p⌋ of the sorted samples (an even count: the upper middle), without sorting the input', () => {
    const xs = [5, 1, 4, 2];
    expect(median(xs)).toBe(4);
    expect(xs).toEqual([5, 1, 4, 2]);
    expect(median([3, 1, 2])).toBe(2);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(6);
    expect(percentiles(Float64Array.of(10, 30, 20), [0.5, 0.99])).toEqual([20, 30]);
  });

  it('are NaN for no samples', () => {
    expect(median([])).toBeNaN();
    expect(median(undefined)).toBeNaN();
    expect(percentiles([], [0.5, 0.99])).toEqual([NaN, NaN]);
  });
});

describe('rounds', () => {
  it('run every cell once per round, in turn, and record nothing during warm-up', async () => {
    const order: string[] = [];
    const s = await rounds({ rounds: 2, warmup: 1 }, [
      ['a', (_rec, r) => {
        order.push(`a${r}`);
        return 10 + r;
      }],
      ['b', (rec, r) => {
        order.push(`b${r}`);
        rec('b x', r);
        rec('b y', -r);
      }],
    ]);
    expect(order).toEqual(['a-1', 'b-1', 'a0', 'b0', 'a1', 'b1']);
    expect(s.all('a')).toEqual([10, 11]);
    expect(s.all('b x')).toEqual([0, 1]);
    expect(s.all('b y')).toEqual([-0, -1]);
    expect(s.keys()).toEqual(['a', 'b x', 'b y']);
  });

  it('record a returned number only when finite, and add to a given Samples', () => {
    const into = new Samples();
    into.add('a', 1);
    roundsSync({ rounds: 2, into }, [['a', () => NaN], ['b', () => 'text'], ['c', () => 3]]);
    expect(into.all('a')).toEqual([1]);
    expect(into.all('b')).toEqual([]);
    expect(into.median('c')).toBe(3);
    expect(into.median('none')).toBeNaN();
  });
});

describe('the table', () => {
  afterEach(() => vi.restoreAllMocks());

  it('has one shape: op | ours | unit | each reference and its ratio | each anchor and its ratio | rounds | note', () => {
    const lines = tableLines(
      { title: 'T', ours: '@mp/x', unit: 'Mpps', refs: ['R1', 'R2'], anchors: ['A'], rounds: true },
      [
        { op: 'one', ours: 2, refs: { R1: 4, R2: undefined }, anchors: { A: '60–95' }, samples: [1, 2, 3], note: 'n' },
        { op: 'two', ours: [10, 100], unit: 'µs', refs: { R1: [5, 50] } },
      ],
    );
    expect(lines[0]).toBe('\nT — ratio = ours ÷ reference');
    expect(lines[1]).toBe('| op | @mp/x | unit | R1 | ratio | R2 | ratio | A (ANCHORS.md) | ratio | rounds | note |');
    expect(lines[3]).toBe('| one | 2.00 | Mpps | 4.00 | 0.50× | — | — | 60–95 | — | 1.00, 2.00, 3.00 | n |');
    expect(lines[4]).toBe('| two | 10.00 / 100.00 | µs | 5.00 / 50.00 | 2.00× | — | — | — | — |  |  |');
  });

  it("divides reference by ours for speeds from times (ratio: 'ref/ours'), and keeps two significant digits below 0.1", () => {
    const lines = tableLines({ title: 'T', ours: 'x', unit: 'ns', refs: ['C'], ratio: 'ref/ours' }, [{ op: 'o', ours: 40, refs: { C: 1 } }]);
    expect(lines[0]).toContain('reference ÷ ours');
    expect(lines[3]).toBe('| o | 40.00 | ns | 1.00 | 0.025× |');
    expect(ratio(1, 0)).toBe('—');
    expect(ratio(0.5, 1)).toBe('0.50×');
  });

  it('is followed by one bench-json line carrying the rows and the context', () => {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((l: string) => void out.push(l));
    printTable({ title: 'T', ours: 'x', unit: 'u', refs: ['R'] }, [{ op: 'o', ours: 1, refs: { R: NaN }, samples: [1] }], { package: '@mp/x', loadStart: [1, 2, 3] });
    const json = out.filter((l) => l.startsWith('bench-json '));
    expect(json).toHaveLength(1);
    const j = JSON.parse(json[0]!.slice('bench-json '.length)) as Record<string, unknown>;
    expect(j).toMatchObject({ package: '@mp/x', loadStart: [1, 2, 3], table: 'T', unit: 'u', ratio: 'ours/ref' });
    expect(j.rows).toEqual([{ op: 'o', unit: 'u', ours: 1, refs: { R: null }, samples: [1] }]);
  });
});

describe('peers', () => {
  it('runPeer returns the output, the exit code and the wall time of a child', async () => {
    const r = await runPeer([process.execPath, '-e', 'console.log("hi"); console.error("e"); process.exit(3)']);
    expect(r).toMatchObject({ out: 'hi\n', err: 'e\n', code: 3 });
    expect(r.ms).toBeGreaterThan(0);
  });

  it('spawnPeer reads lines, waits for one, and ends the child by closing its stdin', async () => {
    const p = spawnPeer([process.execPath, '-e', 'console.log("a\\nb\\nready"); process.stdin.on("end", () => process.exit(7)); process.stdin.resume()']);
    expect(await p.next()).toBe('a');
    expect(await p.waitFor('ready')).toBe('ready');
    expect(p.lines).toEqual(['a', 'b', 'ready']);
    expect(await p.end()).toBe(7);
  });

  it('spawnPeer rejects a wait on a child that exited, naming it and its last stderr lines', async () => {
    const p = spawnPeer([process.execPath, '-e', 'console.error("boom"); process.exit(2)'], { stderr: 'pipe' });
    await expect(p.next()).rejects.toThrow(/exited \(2\):\nboom/);
  });

  it('wrapArgv runs in a namespace and pins when asked', () => {
    expect(wrapArgv(['x'], {})).toEqual(['x']);
    expect(wrapArgv(['x'], { netns: 'n' }).slice(0, 4)).toEqual(['ip', 'netns', 'exec', 'n']);
    const pinned = wrapArgv(['x'], { cpu: 1 });
    expect(pinned.at(-1)).toBe('x');
    expect(pinned.length === 1 || pinned.slice(0, 3).join(' ') === 'taskset -c 1').toBe(true);
  });
});

describe('/proc CPU time', () => {
  it('cpuSeconds of this process agrees with process.cpuUsage to a few clock ticks', () => {
    const t = Date.now();
    while (Date.now() - t < 300); // burn some CPU
    const u = process.cpuUsage();
    const proc = cpuSeconds(process.pid);
    expect(Math.abs(proc - (u.user + u.system) / 1e6)).toBeLessThan(0.1);
    expect(proc).toBeGreaterThan(0);
  });
});

describe('DPDK C references', () => {
  it('a source that does not compile gives a reason, not a throw', () => {
    const r = buildDpdkC('/nonexistent/x.c', '/tmp', {});
    expect(r.bin).toBeUndefined();
    expect(r.skipped).toMatch(/libdpdk not found|building x\.c failed/);
  });
});
