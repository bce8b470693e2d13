/**
 * Run-time code generation of a table's lookups: when a process attaches a table, its geometry (bucket
 * mask, offsets, slot size), hash function and key length are written into the code as constants and the
 * key's words are loaded into locals and compared without a loop — as DPDK picks a compare function per
 * key length (rte_hash_k16_cmp_eq and its siblings). Everything generated is built by the {@link js} tag,
 * which accepts only integer literals and code it built itself: no string from a caller, a table header
 * or a name ever reaches `new Function`.
 *
 * Generation may be disallowed (`node --disallow-code-generation-from-strings`, or a CSP-like policy):
 * {@link codegenAllowed} is then false and every `compile*` returns undefined, and the table uses the
 * generic TypeScript paths of read.ts and bulk.ts (same results, slower; see the README for the margin).
 */
import { TSO } from '@mp/memory/internal';
import type { HashPass, PrimaryPass } from './bulk.js';
import { CRC32C_TABLES } from './hashfn.js';
import { BUCKET, BUCKET_ENTRIES, HASH_FUNC_IDS, SLOT } from './layout.js';
import { LITTLE_ENDIAN, MISS, RETRY, TWO32 } from './read.js';
import type { TableView } from './view.js';

/** A piece of generated source; only {@link js} makes one. */
export class Code {
  private constructor(readonly src: string) {}
  /** @internal the tag's constructor */
  static of(src: string): Code {
    return new Code(src);
  }
}

/**
 * Tagged template of generated code: every interpolated value must be a safe integer (written as its
 * decimal literal) or a {@link Code} (an array of them is joined by newlines).
 *
 * @throws {TypeError} anything else interpolated (a bug of this file, never input)
 */
export function js(parts: TemplateStringsArray, ...values: ReadonlyArray<number | Code | readonly Code[]>): Code {
  let s = parts[0]!;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new TypeError(`codegen: ${String(v)} is not an integer literal`);
      s += String(v);
    } else if (v instanceof Code) {
      s += v.src;
    } else if (Array.isArray(v) && v.every((c) => c instanceof Code)) {
      s += (v as readonly Code[]).map((c) => c.src).join('\n');
    } else {
      throw new TypeError('codegen: only integer literals and generated code may be interpolated');
    }
    s += parts[i + 1]!;
  }
  return Code.of(s);
}

/** Can this process compile code from strings? (false under --disallow-code-generation-from-strings) */
export const codegenAllowed: boolean = (() => {
  try {
    return new Function('return 1')() === 1;
  } catch {
    return false;
  }
})();

/** Compile `body` as a function of `params`; undefined when generation is disallowed. */
function compile<T>(params: readonly string[], body: Code): T | undefined {
  if (!codegenAllowed) return undefined;
  return new Function(...params, body.src) as T;
}

/** Longest key (in 32-bit words) that gets an unrolled probe; longer keys use the generic loop. */
export const PROBE_UNROLL_WORDS = 16;

/** The seqlock's closing read of slot word `s` (see view.ts reread). */
const CLOSE = TSO ? js`r32[s]` : js`Atomics.load(u32, s)`;

/** k0, k1, …: the locals holding a key's words. */
const kvar = (j: number): Code => js`k${j}`;

/**
 * The table's hash function over a key of `keyLen` bytes whose 32-bit words (little-endian, zero padded)
 * are the expressions `word(j)`: a block that sets the already declared `h` (unsigned). crc32c is
 * hashfn.ts's crc32cWords unrolled (slicing by 4 over the tables `tab`); jhash is jhashWords unrolled.
 */
function hashCode(fnId: number, keyLen: number, initVal: number, word: (j: number) => Code): Code {
  const out: Code[] = [];
  if (fnId === HASH_FUNC_IDS.crc32c) {
    out.push(js`let c = ${initVal >>> 0};`, js`let x = 0;`);
    for (let j = 0; j < keyLen >>> 2; j++) {
      out.push(js`x = (c ^ ${word(j)}) >>> 0; c = tab[768 + (x & 255)] ^ tab[512 + ((x >>> 8) & 255)] ^ tab[256 + ((x >>> 16) & 255)] ^ tab[x >>> 24];`);
    }
    if ((keyLen & 3) !== 0) {
      out.push(js`x = ${word(keyLen >>> 2)};`);
      for (let r = 0; r < (keyLen & 3); r++) out.push(js`c = tab[(c ^ x) & 255] ^ (c >>> 8); x >>>= 8;`);
    }
  } else {
    const v = { a: js`a`, b: js`b`, c: js`c` };
    const rot = (x: Code, k: number): Code => js`((${x} << ${k}) | (${x} >>> ${32 - k}))`;
    out.push(js`let a = ${(0xdeadbeef + keyLen + initVal) | 0};`, js`let b = a;`, js`let c = a;`);
    let i = 0;
    let n = keyLen;
    for (; n > 12; i += 3, n -= 12) {
      out.push(js`a = (a + ${word(i)}) | 0; b = (b + ${word(i + 1)}) | 0; c = (c + ${word(i + 2)}) | 0;`);
      for (const [x, y, z, k] of [['a', 'c', 'b', 4], ['b', 'a', 'c', 6], ['c', 'b', 'a', 8], ['a', 'c', 'b', 16], ['b', 'a', 'c', 19], ['c', 'b', 'a', 4]] as const) {
        out.push(js`${v[x]} = (${v[x]} - ${v[y]}) | 0; ${v[x]} ^= ${rot(v[y], k)}; ${v[y]} = (${v[y]} + ${v[z]}) | 0;`);
      }
    }
    out.push(js`a = (a + ${word(i)}) | 0;`);
    if (n > 4) out.push(js`b = (b + ${word(i + 1)}) | 0;`);
    if (n > 8) out.push(js`c = (c + ${word(i + 2)}) | 0;`);
    for (const [x, y, k] of [['c', 'b', 14], ['a', 'c', 11], ['b', 'a', 25], ['c', 'b', 16], ['a', 'c', 4], ['b', 'a', 14], ['c', 'b', 24]] as const) {
      out.push(js`${v[x]} ^= ${v[y]}; ${v[x]} = (${v[x]} - ${rot(v[y], k)}) | 0;`);
    }
  }
  return js`{
    ${out}
    h = c >>> 0;
  }`;
}

/** Validate a key of `keyLen` bytes, load its words into k0…, and the compare of slot words at kk. */
function keyCode(keyLen: number): { validate: Code; load: Code; cmp: Code } {
  const words = (keyLen + 3) >>> 2;
  const load: Code[] = [];
  const cmp: Code[] = [];
  for (let i = 0; i < words; i++) {
    let bytes = js`key[${i * 4}]`;
    for (let b = 1; b < 4 && i * 4 + b < keyLen; b++) bytes = js`${bytes} | (key[${i * 4 + b}] << ${8 * b})`;
    load.push(js`const ${kvar(i)} = ${bytes};`);
    cmp.push(js`${i === 0 ? js`` : js` && `}i32[kk + ${i}] === ${kvar(i)}`);
  }
  return {
    validate: js`if (!(key instanceof Uint8Array) || key.length !== ${keyLen}) t.badKey(key);`,
    load: js`${load}`,
    cmp: Code.of(cmp.map((c) => c.src).join('')),
  };
}

/**
 * The table's hash(), compiled from the same snippets as its lookup (so the tests of hash() against the
 * standalone crc32c/jhash, themselves checked against DPDK's vectors, cover the lookup's inlined hash).
 * With `intoKw`, it also leaves the key's words in t.kw (what the writers search and store): the
 * validated load and the hash of add/delete in one call.
 */
export function compileHash(t: TableView, intoKw = false): ((key: Uint8Array) => number) | undefined {
  if (t.kWords > PROBE_UNROLL_WORDS) return undefined;
  const k = keyCode(t.keyLen);
  const store = intoKw ? Array.from({ length: t.kWords }, (_, j) => js`kw[${j}] = ${kvar(j)};`) : [];
  const make = compile<(t: TableView, tab: Uint32Array, kw: Uint32Array) => (key: Uint8Array) => number>(
    ['t', 'tab', 'kw'],
    js`return function ${intoKw ? js`loadHash` : js`hash`}(key) {
    ${k.validate}
    ${k.load}
    ${store}
    let h = 0;
    ${hashCode(t.fnId, t.keyLen, t.initVal, kvar)}
    return h;
  };`,
  );
  return make?.(t, CRC32C_TABLES, t.kw);
}

/** A whole lookup of one table: with the key's hash given (`probe`), or hashing it (`lookup`). */
export type Probe = (key: Uint8Array, h: number) => number;

/**
 * Entry bits of the bucket whose four signature words (u32 index w…w+3) are loaded into `a0`…`a3`
 * already XORed with sig·0x10001: read.ts sigMatches's exact zero-lane test, with no loop and no branch
 * (the bucket's cache miss then feeds arithmetic, not a branch the CPU must guess). Lane j of word i
 * lands on bit 2i + 16j; {@link entryOf} maps a bit back to the entry.
 */
function sigBits(): Code {
  const lane = (a: Code, shift: number): Code => js`((~(((${a} & 0x7fff7fff) + 0x7fff7fff) | ${a}) & 0x80008000) >>> ${shift})`;
  return js`(${lane(js`a0`, 15)} | ${lane(js`a1`, 13)} | ${lane(js`a2`, 11)} | ${lane(js`a3`, 9)})`;
}

/** The bucket entry of bit `e` of {@link sigBits}: lane 0 of a word is entry 2i on a little-endian CPU. */
const entryOf = LITTLE_ENDIAN ? js`(e & 15) + (e >>> 4)` : js`(e & 15) + 1 - (e >>> 4)`;

/**
 * The fast path of a lookup, compiled for table t: the signatures of the primary, then the secondary
 * bucket matched without a branch ({@link sigBits}), each candidate's key compared word by word against
 * the key's words held in locals, the data read under the slot's seqlock; when that does not settle it
 * (not there, a chain, a slot being rewritten, a miss that must be checked against the change counter)
 * `slow` (read.ts findKey: the full protocol). Sets t.dLo/dHi on a hit. Undefined for keys longer than
 * PROBE_UNROLL_WORDS words.
 */
export function compileProbe(t: TableView, hashing: boolean, slow: (t: TableView, key: Uint8Array, h: number) => number): Probe | undefined {
  if (t.kWords > PROBE_UNROLL_WORDS) return undefined;
  const k = keyCode(t.keyLen);
  const sigs = js`
      const a0 = u32[w] ^ two;
      const a1 = u32[w + 1] ^ two;
      const a2 = u32[w + 2] ^ two;
      const a3 = u32[w + 3] ^ two;`;
  const bucket = js`
    const sig = h >>> 16;
    const two = sig * 0x10001;
    let b = h & ${t.mask};
    let w = ${t.bw} + b * ${BUCKET.words};`;
  // One bucket's candidates (bits of the signature match), each key compared and its data read under the
  // slot's seqlock; `unsettled` ends the scan when a matching slot's state does not settle it.
  const scan = (unsettled: Code): Code => js`for (let z = ${sigBits()}; z !== 0; z &= z - 1) {
          const e = 31 - Math.clz32(z & -z);
          const k = u32[w + ${BUCKET.keyIdxW} + ${entryOf}];
          const s = ${t.kw0} + k * ${t.slotWords};
          const v = u32[s];
          const kk = s + ${SLOT.keyW};
          if (!(${k.cmp}) || k === 0 || (v & 1) !== 0) continue;
          const d = s + ${SLOT.dataW} + (v & 2);
          t.dLo = u32[d];
          t.dHi = u32[d + 1];
          if (${CLOSE} === v) return k - 1;
          ${unsettled}
        }`;
  // Without hashing, the primary bucket's signatures are loaded before anything else, so its cache miss
  // is under way while the key is validated and loaded.
  const head = hashing
    ? js`
    ${k.validate}
    ${k.load}
    let h = 0;
    ${hashCode(t.fnId, t.keyLen, t.initVal, kvar)}
    ${bucket}
    ${sigs}`
    : js`
    h >>>= 0;
    ${bucket}
    ${sigs}
    ${k.validate}
    ${k.load}`;
  const body = js`return function ${hashing ? js`lookup(key)` : js`probe(key, h)`} {
    ${head}
      ${scan(js`return slow(t, key, h);`)}
      w = ${t.bw} + ((b ^ sig) & ${t.mask}) * ${BUCKET.words};
      {
        ${sigs}
        ${scan(js`break;`)}
      }
    return slow(t, key, h);
  };`;
  type Make = (t: TableView, slow: unknown, u32: Uint32Array, r32: Uint32Array, i32: Int32Array, tab: Uint32Array) => Probe;
  const make = compile<Make>(['t', 'slow', 'u32', 'r32', 'i32', 'tab'], body);
  if (make === undefined) return undefined;
  const buf = t.buf;
  return make(t, slow, new Uint32Array(buf), new Uint32Array(buf), new Int32Array(buf), CRC32C_TABLES);
}

/** The bulk lookup's {@link PrimaryPass} for table t, compiled as {@link compileProbe} is. */
export function compilePrimaryPass(t: TableView): PrimaryPass | undefined {
  const words = t.kWords;
  if (words > PROBE_UNROLL_WORDS || (t.keyLen & 3) !== 0) return undefined;
  const cmp = Code.of(Array.from({ length: words }, (_, j) => js`u32[s + ${SLOT.keyW + j}] === kv[at + ${j}]`.src).join(' && '));
  const lanes: Code[] = [];
  for (let j = 0; j < BUCKET_ENTRIES / 2; j++) {
    const [lo, hi] = LITTLE_ENDIAN ? [2 * j, 2 * j + 1] : [2 * j + 1, 2 * j];
    lanes.push(js`{ const x = u32[w + ${BUCKET.sigU16 / 2 + j}] ^ two; const z = ~(((x & 0x7fff7fff) + 0x7fff7fff) | x) & 0x80008000; mk |= (((z >>> 15) & 1) << ${lo}) | ((z >>> 31) << ${hi}); }`);
  }
  const body = js`return function primaryPass(kv, kb, m, positions, start, data) {
    let touch = 0;
    for (let i = 0; i < m; i++) {
      const w = bp[i];
      const two = (bh[i] >>> 16) * 0x10001;
      let mk = 0;
      ${lanes}
      bm[i] = mk;
      if (mk !== 0) touch ^= u32[${t.kw0} + u32[w + ${BUCKET.keyIdxW} + 31 - Math.clz32(mk & -mk)] * ${t.slotWords}];
    }
    sink[0] ^= touch;
    let np = 0;
    outer: for (let i = 0; i < m; i++) {
      const w = bp[i];
      const at = kb + i * ${words};
      let r = ${MISS};
      for (let mk = bm[i]; mk !== 0; mk &= mk - 1) {
        const k = u32[w + ${BUCKET.keyIdxW} + 31 - Math.clz32(mk & -mk)];
        const s = ${t.kw0} + k * ${t.slotWords};
        const v = u32[s];
        if (k === 0 || !(${cmp})) continue;
        if ((v & 1) !== 0) { r = ${RETRY}; continue; }
        const d = s + ${SLOT.dataW} + (v & 2);
        const lo = u32[d];
        const hi = u32[d + 1];
        if (${CLOSE} !== v) { r = ${RETRY}; continue; }
        positions[start + i] = k - 1;
        if (data !== undefined) data[start + i] = lo + hi * ${TWO32};
        continue outer;
      }
      positions[start + i] = r;
      pend[np++] = i;
    }
    return np;
  };`;
  type Make = (u32: Uint32Array, r32: Uint32Array, bh: Uint32Array, bp: Int32Array, bm: Uint32Array, pend: Int32Array, sink: Int32Array) => PrimaryPass;
  const make = compile<Make>(['u32', 'r32', 'bh', 'bp', 'bm', 'pend', 'sink'], body);
  return make?.(new Uint32Array(t.buf), new Uint32Array(t.buf), t.bh, t.bp, t.bm, t.bs, t.sink);
}

/**
 * Pass 1 of a bulk lookup without given hashes, compiled for table t with the seed and key length as
 * constants and the table walk unrolled. Undefined unless its keys are whole words (≤ PROBE_UNROLL_WORDS).
 */
export function compileHashPass(t: TableView): HashPass | undefined {
  const words = t.keyLen >>> 2;
  if ((t.keyLen & 3) !== 0 || words > PROBE_UNROLL_WORDS) return undefined;
  const body = js`return function hashPass(kv, kb, m) {
    for (let i = 0; i < m; i++) {
      const at = kb + i * ${words};
      let h = 0;
      ${hashCode(t.fnId, t.keyLen, t.initVal, (j) => js`kv[at + ${j}]`)}
      bh[i] = h;
    }
  };`;
  const make = compile<(tab: Uint32Array, bh: Uint32Array) => HashPass>(['tab', 'bh'], body);
  return make?.(CRC32C_TABLES, t.bh);
}
