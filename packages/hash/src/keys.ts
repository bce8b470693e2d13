import { MpError } from '@mp/memory';

const enc = new TextEncoder();

/**
 * A key of `keyLen` bytes holding `s` in UTF-8, zero padded (as C code would `strncpy` into a fixed key).
 *
 * @throws {MpError} EINVAL — `s` takes more than keyLen bytes, or keyLen is not a positive integer
 */
export function stringKey(s: string, keyLen: number): Uint8Array {
  if (!Number.isInteger(keyLen) || keyLen < 1) throw new MpError('EINVAL', `keyLen must be a positive integer, got ${keyLen}`);
  const key = new Uint8Array(keyLen);
  const r = enc.encodeInto(s, key);
  if (r.read < s.length) throw new MpError('EINVAL', `'${s.slice(0, 40)}' takes more than ${keyLen} bytes of UTF-8`);
  return key;
}

/**
 * A key of `keyLen` bytes (default 4) holding the unsigned 32-bit integer `n` little-endian, zero padded.
 *
 * @throws {MpError} EINVAL — n not a 32-bit unsigned integer, or keyLen < 4
 */
export function u32Key(n: number, keyLen = 4): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new MpError('EINVAL', `u32Key takes an integer in 0…2^32-1, got ${n}`);
  if (!Number.isInteger(keyLen) || keyLen < 4) throw new MpError('EINVAL', `u32Key needs keyLen ≥ 4, got ${keyLen}`);
  const key = new Uint8Array(keyLen);
  new DataView(key.buffer).setUint32(0, n, true);
  return key;
}

/**
 * A key of `keyLen` bytes (default 8) holding the unsigned 64-bit integer `n` little-endian, zero padded.
 *
 * @throws {MpError} EINVAL — n out of range (a number must be a safe integer ≥ 0), or keyLen < 8
 */
export function u64Key(n: number | bigint, keyLen = 8): Uint8Array {
  const big = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : -1n;
  if (big < 0n || big >= 1n << 64n) throw new MpError('EINVAL', `u64Key takes an integer in 0…2^64-1, got ${String(n)}`);
  if (!Number.isInteger(keyLen) || keyLen < 8) throw new MpError('EINVAL', `u64Key needs keyLen ≥ 8, got ${keyLen}`);
  const key = new Uint8Array(keyLen);
  new DataView(key.buffer).setBigUint64(0, big, true);
  return key;
}
