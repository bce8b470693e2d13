/**
 * The native bulk lookup (native/hash.cc) against the TypeScript one (bulk.ts, the reference): the same
 * positions, data and hits on every table shape — both hash functions, key lengths with and without a
 * word tail, extendable buckets with long chains, hits, misses and deleted keys — and the same hashes.
 * Concurrent writers in another process: hash.mp.test.ts (its readers use the native path when loaded).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { init, eal } from '@mp/eal';
import { uniquePrefix, mpErrorCode } from '@mp/test-utils';
import { Hash, crc32c, jhash } from '../src/index.js';
import type { HashOptions } from '../src/index.js';
import { key } from './fixtures/keys.mjs';

beforeEach(() => {
  init([`--file-prefix=${uniquePrefix('hn')}`, '--proc-type=primary', '--no-huge', '-m', '256']);
});
afterEach(() => {
  eal().cleanup();
});

const SHAPES: Array<[string, HashOptions, number]> = [
  ['crc32c, 16-byte keys', { entries: 4096, keyLen: 16, hashFunc: 'crc32c' }, 3900],
  ['jhash, 13-byte keys', { entries: 2048, keyLen: 13, hashFunc: 'jhash', initVal: 0x1234 }, 1900],
  ['crc32c, 7-byte keys, seed', { entries: 1024, keyLen: 7, hashFunc: 'crc32c', initVal: 0xdeadbeef }, 1000],
  ['jhash, 64-byte keys', { entries: 512, keyLen: 64, hashFunc: 'jhash' }, 480],
  ['extendable, few buckets: long chains', { entries: 64, keyLen: 16, hashFunc: 'crc32c', extendable: true }, 64],
  ['extendable, jhash, 40-byte keys', { entries: 300, keyLen: 40, hashFunc: 'jhash', extendable: true, multiWriter: true }, 300],
];

describe('native bulk lookup', () => {
  it('is loaded (a local build, or with PREBUILDS_ONLY=1 the prebuild; else the comparisons below compare TypeScript with itself)', () => {
    const h = Hash.create('probe', { entries: 64, keyLen: 4 });
    expect(h.nativeBulk).toBe(true);
  });

  it.each(SHAPES)('%s: same positions, data, hits and hashes as the TypeScript path', (_name, opts, n) => {
    const h = Hash.create('t', opts);
    const kl = opts.keyLen;
    let added = 0;
    for (let i = 0; i < n; i++) {
      try {
        h.add(key(i, kl), i * 7 + 1);
        added++;
      } catch (err) {
        expect(mpErrorCode(() => { throw err; })).toBe('ENOSPC');
      }
    }
    expect(added).toBeGreaterThan(n / 2);
    for (let i = 0; i < n; i += 3) if (h.lookup(key(i, kl)) >= 0) h.delete(key(i, kl));
    expect(h.audit()).toEqual([]);
    const m = n + 200;
    // Offsets 0 and 1: the keys aligned to 4 bytes and not.
    for (const off of [0, 1]) {
      const packed = new Uint8Array(off + m * kl).subarray(off);
      for (let i = 0; i < m; i++) packed.set(key(i, kl), i * kl);
      const sigs = new Uint32Array(m);
      h.hashBulk(packed, sigs);
      const fn = opts.hashFunc === 'jhash' ? jhash : crc32c;
      for (let i = 0; i < m; i += 17) expect(sigs[i]).toBe(fn(key(i, kl), opts.initVal ?? 0));
      for (const withSigs of [false, true]) {
        const [pn, dn, pt, dt] = [new Int32Array(m), new Float64Array(m), new Int32Array(m), new Float64Array(m)];
        const hn = withSigs ? h.lookupBulkWithHash(packed, sigs, pn, dn) : h.lookupBulk(packed, pn, dn);
        const ht = h.lookupBulkTs(packed, withSigs ? sigs : undefined, pt, dt);
        expect(hn).toBe(ht);
        expect(hn).toBe(h.count());
        expect(Array.from(pn)).toEqual(Array.from(pt));
        expect(Array.from(dn)).toEqual(Array.from(dt));
        for (let i = 0; i < m; i += 13) expect(pn[i]).toBe(h.lookup(key(i, kl)));
      }
    }
  });

  it('checks its arguments as the TypeScript path does (EINVAL, nothing written)', () => {
    const h = Hash.create('args', { entries: 64, keyLen: 8 });
    const pos = new Int32Array(2).fill(7);
    expect(mpErrorCode(() => h.lookupBulk(new Uint8Array(12), pos))).toBe('EINVAL');
    expect(mpErrorCode(() => h.lookupBulk(new Uint8Array(24), pos))).toBe('EINVAL');
    expect(mpErrorCode(() => h.lookupBulkWithHash(new Uint8Array(16), new Uint32Array(1), pos))).toBe('EINVAL');
    expect(mpErrorCode(() => h.lookupBulk(new Uint8Array(16), pos, new Float64Array(1)))).toBe('EINVAL');
    expect(mpErrorCode(() => h.hashBulk(new Uint8Array(16), new Uint32Array(1)))).toBe('EINVAL');
    expect(Array.from(pos)).toEqual([7, 7]);
  });
});
