import { MpError } from '@mp/memory';

// ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as the SSE4.2 crc32 instruction computes it:
// no initial or final inversion, the caller's value is the running CRC. DPDK's rte_hash_crc feeds 8, then
// 4, 2 and 1 bytes to that instruction; CRC is byte-serial, so a slicing-by-4 table walk gives the same bits.
const CRC_T = new Uint32Array(4 * 256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC_T[i] = c >>> 0;
}
for (let i = 0; i < 256; i++) {
  for (let t = 1; t < 4; t++) {
    const prev = CRC_T[(t - 1) * 256 + i]!;
    CRC_T[t * 256 + i] = ((prev >>> 8) ^ CRC_T[prev & 0xff]!) >>> 0;
  }
}

/**
 * The slicing-by-4 tables (4 × 256 words: byte 3's table first at index 768 … byte 0's at 0), for code
 * that inlines the word step of {@link crc32cWords}.
 * @internal
 */
export const CRC32C_TABLES: Uint32Array = CRC_T;

/**
 * CRC32C of `len` bytes held little-endian in `w[at…]` (words zero padded), from running value `crc`.
 * @internal
 */
export function crc32cWords(w: Uint32Array, at: number, len: number, crc: number): number {
  const t = CRC_T;
  const full = len >>> 2;
  for (let i = 0; i < full; i++) {
    const x = (crc ^ w[at + i]!) >>> 0;
    crc = t[768 + (x & 0xff)]! ^ t[512 + ((x >>> 8) & 0xff)]! ^ t[256 + ((x >>> 16) & 0xff)]! ^ t[x >>> 24]!;
  }
  let rem = len & 3;
  if (rem !== 0) {
    let x = w[at + full]!;
    while (rem-- > 0) {
      crc = t[(crc ^ x) & 0xff]! ^ (crc >>> 8);
      x >>>= 8;
    }
  }
  return crc >>> 0;
}

// ---- Jenkins lookup3 hash as rte_jhash computes it on a little-endian machine (x86: aligned path).
/**
 * rte_jhash of `len` bytes held little-endian in `w[at…]` (words zero padded, which is what rte_jhash's
 * masks of the last word amount to).
 * @internal
 */
export function jhashWords(w: Uint32Array, at: number, len: number, initVal: number): number {
  let a = (0xdeadbeef + len + initVal) | 0;
  let b = a;
  let c = a;
  let i = at;
  let n = len;
  while (n > 12) {
    a = (a + w[i]!) | 0;
    b = (b + w[i + 1]!) | 0;
    c = (c + w[i + 2]!) | 0;
    // mix(a, b, c)
    a = (a - c) | 0; a ^= (c << 4) | (c >>> 28); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 6) | (a >>> 26); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 8) | (b >>> 24); b = (b + a) | 0;
    a = (a - c) | 0; a ^= (c << 16) | (c >>> 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= (a << 19) | (a >>> 13); a = (a + c) | 0;
    c = (c - b) | 0; c ^= (b << 4) | (b >>> 28); b = (b + a) | 0;
    i += 3;
    n -= 12;
  }
  if (n === 0) return c >>> 0;
  a = (a + w[i]!) | 0;
  if (n > 4) b = (b + w[i + 1]!) | 0;
  if (n > 8) c = (c + w[i + 2]!) | 0;
  // final(a, b, c)
  c ^= b; c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c; a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a; b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b; c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c; a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a; b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b; c = (c - ((b << 24) | (b >>> 8))) | 0;
  return c >>> 0;
}

/** Load `key` into `w[at…]` as little-endian u32 words, the last one zero padded. @internal */
export function loadWords(key: Uint8Array, off: number, len: number, w: Uint32Array, at: number): void {
  const full = len >>> 2;
  let j = off;
  for (let i = 0; i < full; i++, j += 4) {
    w[at + i] = key[j]! | (key[j + 1]! << 8) | (key[j + 2]! << 16) | (key[j + 3]! << 24);
  }
  const rem = len & 3;
  if (rem !== 0) {
    let x = 0;
    for (let k = rem - 1; k >= 0; k--) x = (x << 8) | key[j + k]!;
    w[at + full] = x;
  }
}

let scratch = new Uint32Array(64);
function words(key: Uint8Array, fn: string): Uint32Array {
  if (!(key instanceof Uint8Array)) throw new MpError('EINVAL', `${fn}: key must be a Uint8Array`);
  const need = (key.length + 3) >>> 2;
  if (need > scratch.length) scratch = new Uint32Array(need * 2);
  loadWords(key, 0, key.length, scratch, 0);
  return scratch;
}
function checkInit(initVal: number, fn: string): number {
  if (!Number.isInteger(initVal) || initVal < -0x80000000 || initVal > 0xffffffff) {
    throw new MpError('EINVAL', `${fn}: initVal must be a 32-bit integer, got ${initVal}`);
  }
  return initVal >>> 0;
}

/**
 * CRC32C of `key`, bit-identical to DPDK's `rte_hash_crc(key, key.length, initVal)` (SSE4.2 `crc32`
 * semantics: no inversion; `initVal` is the starting CRC).
 *
 * @throws {MpError} EINVAL — `key` is not a Uint8Array or `initVal` not a 32-bit integer
 * @see rte_hash_crc
 */
export function crc32c(key: Uint8Array, initVal = 0): number {
  const w = words(key, 'crc32c');
  return crc32cWords(w, 0, key.length, checkInit(initVal, 'crc32c'));
}

/**
 * Bob Jenkins' lookup3 hash of `key`, bit-identical to DPDK's `rte_jhash(key, key.length, initVal)`.
 *
 * @throws {MpError} EINVAL — `key` is not a Uint8Array or `initVal` not a 32-bit integer
 * @see rte_jhash
 */
export function jhash(key: Uint8Array, initVal = 0): number {
  const w = words(key, 'jhash');
  return jhashWords(w, 0, key.length, checkInit(initVal, 'jhash'));
}
