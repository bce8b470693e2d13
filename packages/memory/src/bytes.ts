/**
 * Byte and word helpers for shared tables: UTF-8 names without TextEncoder on the ASCII path, C strings
 * in fixed fields, 64-bit counts in two 32-bit words, the name hash, and alignment arithmetic.
 */
import { MpError } from './errors.js';

// Made on first use: a TextDecoder costs ≈ 0.2 ms to construct, in every process start that loads the
// package, and most processes meet only ASCII names.
let encoder: InstanceType<typeof TextEncoder> | undefined;
let decoder: InstanceType<typeof TextDecoder> | undefined;
const enc = (): InstanceType<typeof TextEncoder> => (encoder ??= new TextEncoder());
const dec = (): InstanceType<typeof TextDecoder> => (decoder ??= new TextDecoder());

/** UTF-8 bytes of a name: a plain loop for ASCII (most names; TextEncoder costs µs per call here). */
export function utf8(name: string): Uint8Array {
  const n = name.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f) return enc().encode(name);
    out[i] = c;
  }
  return out;
}

/** The string of UTF-8 bytes [from, to) of `u8` (ASCII without TextDecoder). */
export function fromUtf8(u8: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = u8[i]!;
    if (c > 0x7f) return dec().decode(u8.subarray(from, to));
    s += String.fromCharCode(c);
  }
  return s;
}

/** FNV-1a, 32 bits: the memzone table's name hash. */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** `n` rounded up to a multiple of `a`. */
export const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;
/** A power of two in 1..2^30 (alignments, page sizes). */
export const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;


/** Store a 64-bit count (< 2^53) in two little-endian words at `u32[i]`. */
export function setU64(u32: Uint32Array, i: number, v: number): void {
  u32[i] = v >>> 0;
  u32[i + 1] = Math.floor(v / 2 ** 32);
}
/** The 64-bit count {@link setU64} stored at `u32[i]`. */
export function getU64(u32: Uint32Array, i: number): number {
  return u32[i]! + u32[i + 1]! * 2 ** 32;
}
/** Write `s` NUL-padded into `size` bytes at `at`; ENAMETOOLONG if it needs more than `size - 1`. */
export function writeCString(u8: Uint8Array, at: number, size: number, s: string): void {
  const b = enc().encode(s);
  if (b.length >= size) throw new MpError('ENAMETOOLONG', `'${s}' is longer than ${size - 1} bytes`);
  u8.fill(0, at, at + size);
  u8.set(b, at);
}
/** The NUL-terminated UTF-8 string in the `size` bytes at `at`. */
export function readCString(u8: Uint8Array, at: number, size: number): string {
  let end = at;
  while (end < at + size && u8[end] !== 0) end++;
  return fromUtf8(u8, at, end);
}

