/**
 * Is run-time code generation worth it? (`node --import tsx bench/codegen.bench.ts`, also run by
 * `pnpm --filter @mp/hash bench`.) The same table (N 16-byte keys, crc32c) looked up through: the generated
 * probe (codegen.ts: geometry as literals, key words in locals, unrolled compare and hash); a
 * closure-specialised probe (the same algorithm, geometry in closure constants, loops over the key's
 * words — what the code would be without generation); and the generic path (read.ts, what runs under
 * --disallow-code-generation-from-strings). Prints Mops/s and ratios of one run. Never asserts time.
 */
import { roundsSync, startBench, timed } from '@mp/bench-utils';
import { init, eal } from '@mp/eal';
import { Hash } from '../src/index.js';
import { compileProbe } from '../src/codegen.js';
import { ctz, findKey, sigMatches } from '../src/read.js';
import { loadWords } from '../src/hashfn.js';
import { BUCKET, SLOT } from '../src/layout.js';
import { reread, type TableView } from '../src/view.js';

const N = Number(process.env.HASH_BENCH_KEYS ?? 1_000_000);
const KEY_LEN = 16;
const ROUNDS = 5;

/** The probe of compileProbe, written as a closure: geometry captured as constants, loops over words. */
function closureProbe(t: TableView): (key: Uint8Array, h: number) => number {
  const { u32, r32, mask, bw, kw0, slotWords, kWords, keyLen } = t;
  const kw = new Uint32Array(kWords);
  return (key, h) => {
    h >>>= 0;
    const sig = h >>> 16;
    let w = bw + (h & mask) * BUCKET.words;
    let mk = sigMatches(u32, w, sig);
    if (!(key instanceof Uint8Array) || key.length !== keyLen) t.badKey(key);
    loadWords(key, 0, keyLen, kw, 0);
    for (let pass = 0; pass < 2; pass++) {
      for (; mk !== 0; mk &= mk - 1) {
        const k = u32[w + BUCKET.keyIdxW + ctz(mk)]!;
        const s = kw0 + k * slotWords;
        const v = u32[s]!;
        const kk = s + SLOT.keyW;
        let j = 0;
        while (j < kWords && u32[kk + j] === kw[j]) j++;
        if (j !== kWords || k === 0 || (v & 1) !== 0) continue;
        const d = s + SLOT.dataW + (v & 2);
        t.dLo = u32[d]!;
        t.dHi = u32[d + 1]!;
        if (reread(u32, r32, s) === v) return k - 1;
        return findKey(t, key, h);
      }
      w = bw + (((h & mask) ^ sig) & mask) * BUCKET.words;
      mk = sigMatches(u32, w, sig);
    }
    return findKey(t, key, h);
  };
}

function keys(n: number): Uint8Array[] {
  let x = 12345;
  return Array.from({ length: n }, () => {
    const k = new Uint8Array(KEY_LEN);
    for (let j = 0; j < KEY_LEN; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      k[j] = x & 0xff;
    }
    return k;
  });
}
const bench = startBench({
  package: '@mp/hash',
  what: 'is run-time code generation worth it? (lookupWithHash through three probes)',
  memory: '/dev/shm, 4 KiB pages (--no-huge)',
  pinning: 'none (one process)',
  params: `${N} keys of ${KEY_LEN} bytes (crc32c), median of ${ROUNDS} interleaved rounds`,
});
init([`--file-prefix=hcg${process.pid}`, '--proc-type=primary', '--no-huge', '-m', '1024']);
const h = Hash.create('cg', { entries: Math.ceil(N * 1.25), keyLen: KEY_LEN, hashFunc: 'crc32c' });
const ks = keys(N);
ks.forEach((k, i) => h.add(k, i));
const sigs = Uint32Array.from(ks, (k) => h.hash(k));
const t = (h as unknown as { t: TableView }).t;
const GENERATED = 'generated (codegen.ts)';
const probes: Array<[string, (key: Uint8Array, h: number) => number]> = [
  [GENERATED, compileProbe(t, false, findKey)!],
  ['closure-specialised', closureProbe(t)],
  ['generic (read.ts; codegen disallowed)', (key, sig) => findKey(t, key, sig)],
];
// Interleaved rounds: the machine's noise hits each variant alike.
const rates = roundsSync(
  { rounds: ROUNDS },
  probes.map(([name, probe]) => [
    name,
    () => {
      const r = timed(() => {
        let s = 0;
        for (let i = 0; i < N; i++) s += probe(ks[i]!, sigs[i]!);
        return s;
      });
      if (r.value === Math.PI) console.log(r.value); // keep the sum alive
      return N / r.us;
    },
  ]),
);
bench.table(
  { title: `lookupWithHash, ${N} keys of ${KEY_LEN} bytes (crc32c), median of ${ROUNDS} interleaved rounds`, ours: 'probe', unit: 'Mops/s', refs: [GENERATED], rounds: true },
  probes.map(([name]) => ({ op: name, ours: rates.median(name), refs: { [GENERATED]: rates.median(GENERATED) }, samples: rates.all(name) })),
);
eal().cleanup();
bench.end();
