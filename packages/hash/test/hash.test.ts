import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { init, eal, memzone } from '@mp/eal';
import { uniquePrefix, mpErrorCode } from '@mp/test-utils';
import {
  Hash,
  HASH_EXTRA_FLAGS_EXT_TABLE,
  HASH_EXTRA_FLAGS_NO_FREE_ON_DEL,
  crc32c,
  jhash,
  stringKey,
  u32Key,
  u64Key,
} from '../src/index.js';
import type { HashFunc } from '../src/index.js';

const code = mpErrorCode;

/** Deterministic distinct keys: i in the first 4 bytes, a scramble of i in the rest. */
function key(i: number, len: number): Uint8Array {
  const k = new Uint8Array(len);
  let x = (i * 2654435761) >>> 0;
  for (let j = 0; j < len; j++) {
    k[j] = j < 4 ? (i >>> (8 * j)) & 0xff : (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  }
  return k;
}

beforeEach(() => {
  init([`--file-prefix=${uniquePrefix('h')}`, '--proc-type=primary', '--no-huge', '-m', '256']);
});
afterEach(() => {
  eal().cleanup();
});

describe('before init()', () => {
  it('create throws ENOTCONN without a group', () => {
    eal().cleanup();
    expect(code(() => Hash.create('x', { entries: 64, keyLen: 4 }))).toBe('ENOTCONN');
    init([`--file-prefix=${uniquePrefix('h')}`, '--proc-type=primary', '--no-huge']);
  });
});

const MODES: Array<{ hashFunc: HashFunc; extendable: boolean; multiWriter: boolean; keyLen: number }> = [
  { hashFunc: 'jhash', extendable: false, multiWriter: false, keyLen: 16 },
  { hashFunc: 'crc32c', extendable: false, multiWriter: true, keyLen: 16 },
  { hashFunc: 'crc32c', extendable: true, multiWriter: false, keyLen: 13 },
  { hashFunc: 'jhash', extendable: true, multiWriter: true, keyLen: 4 },
  { hashFunc: 'crc32c', extendable: true, multiWriter: false, keyLen: 64 },
  { hashFunc: 'jhash', extendable: false, multiWriter: false, keyLen: 100 },
  { hashFunc: 'jhash', extendable: false, multiWriter: true, keyLen: 13 },
];

describe.each(MODES)('table %o', (mode) => {
  const L = mode.keyLen;
  const make = (entries: number, initVal = 7): Hash => Hash.create('t', { entries, ...mode, initVal });

  it('add / lookup / lookupData / get / delete, with positions as rte_hash', () => {
    const h = make(1024);
    expect(h.count()).toBe(0);
    expect(h.lookup(key(1, L))).toBe(-1);
    expect(h.lookupData(key(1, L))).toBeUndefined();
    const p1 = h.add(key(1, L), 11);
    const p2 = h.add(key(2, L), 2 ** 52 + 3);
    expect(p1).not.toBe(p2);
    expect(p1).toBeGreaterThanOrEqual(0);
    expect(p1).toBeLessThanOrEqual(1024);
    expect(h.lookup(key(1, L))).toBe(p1);
    expect(h.lookupData(key(2, L))).toBe(2 ** 52 + 3);
    expect(h.get(key(1, L))).toEqual({ position: p1, data: 11 });
    expect(h.keyAt(p1)).toEqual(key(1, L));
    expect(h.dataAt(p2)).toBe(2 ** 52 + 3);
    // Update keeps the position.
    expect(h.add(key(1, L), 12)).toBe(p1);
    expect(h.lookupData(key(1, L))).toBe(12);
    expect(h.count()).toBe(2);
    expect(h.delete(key(1, L))).toBe(p1);
    expect(h.lookup(key(1, L))).toBe(-1);
    expect(h.keyAt(p1)).toBeUndefined();
    expect(code(() => h.delete(key(1, L)))).toBe('ENOENT');
    expect(h.count()).toBe(1);
    expect(h.audit()).toEqual([]);
  });

  it('hash() is the stored function with the stored seed; *WithHash agree with plain calls', () => {
    const h = make(256, 0x1234);
    const k = key(5, L);
    const fn = mode.hashFunc === 'crc32c' ? crc32c : jhash;
    expect(h.hash(k)).toBe(fn(k, 0x1234));
    const sig = h.hash(k);
    const p = h.addWithHash(k, sig, 99);
    expect(h.lookup(k)).toBe(p);
    expect(h.lookupWithHash(k, sig)).toBe(p);
    expect(h.lookupDataWithHash(k, sig)).toBe(99);
    expect(h.deleteWithHash(k, sig)).toBe(p);
    expect(h.lookupWithHash(k, sig)).toBe(-1);
    // The compiled fast path validates keys as the generic path does.
    expect(code(() => h.lookupWithHash(new Uint8Array(L + 1), sig))).toBe('EINVAL');
    expect(code(() => h.lookupWithHash('x'.repeat(L) as unknown as Uint8Array, sig))).toBe('EINVAL');
    expect(code(() => h.lookupDataWithHash(Array.from(k) as unknown as Uint8Array, sig))).toBe('EINVAL');
  });

  it('signatures one bit apart in neighbouring entries: every lookup path matches the signature exactly', () => {
    const h = make(256);
    const a = key(1, L);
    const b = key(2, L);
    // Same primary bucket (low bits), signatures (high 16 bits) differing in their lowest bit; b lands in
    // the entry after a's, the lane a borrowing SWAR test (x - 0x10001) would flag for a's signature.
    const sa = 0x12340005;
    const sb = (sa ^ 0x10000) >>> 0;
    const pa = h.addWithHash(a, sa, 10);
    const pb = h.addWithHash(b, sb, 20);
    expect(h.lookupWithHash(a, sa)).toBe(pa);
    expect(h.lookupWithHash(b, sb)).toBe(pb);
    // b under a's signature is not there (rte_hash compares the signature first), on every path.
    expect(h.lookupWithHash(b, sa)).toBe(-1);
    expect(h.lookupDataWithHash(b, sa)).toBeUndefined();
    const packed = new Uint8Array(2 * L);
    packed.set(b, 0);
    packed.set(a, L);
    const sigs = Uint32Array.of(sa, sa);
    for (const bulk of [
      (pos: Int32Array) => h.lookupBulkWithHash(packed, sigs, pos),
      (pos: Int32Array) => h.lookupBulkWithHash([b, a], sigs, pos),
      (pos: Int32Array) => h.lookupBulkTs(packed, sigs, pos),
    ]) {
      const pos = new Int32Array(2);
      expect(bulk(pos)).toBe(1);
      expect([...pos]).toEqual([-1, pa]);
    }
    expect(h.deleteWithHash(b, sb)).toBe(pb);
    expect(h.lookupWithHash(b, sb)).toBe(-1);
    expect(h.lookupWithHash(a, sa)).toBe(pa);
  });

  it('bulk lookups (array and packed, with and without hashes) match single lookups', () => {
    const h = make(4096);
    const n = 150;
    for (let i = 0; i < n; i += 2) h.add(key(i, L), i * 10);
    const keys = Array.from({ length: n }, (_, i) => key(i, L));
    const packed = new Uint8Array(n * L);
    keys.forEach((k, i) => packed.set(k, i * L));
    const sigs = Uint32Array.from(keys, (k) => h.hash(k));
    for (const [batch, s] of [[keys, undefined], [packed, undefined], [keys, sigs], [packed, sigs]] as const) {
      const pos = new Int32Array(n);
      const data = new Float64Array(n);
      const hits = s === undefined ? h.lookupBulk(batch, pos, data) : h.lookupBulkWithHash(batch, s, pos, data);
      expect(hits).toBe(n / 2);
      for (let i = 0; i < n; i++) {
        expect(pos[i]).toBe(h.lookup(keys[i]!));
        expect(data[i]).toBe(i % 2 === 0 ? i * 10 : -1);
      }
    }
    // Packed keys at an odd byte offset (read byte by byte, not through a u32 view) give the same answer.
    const odd = new Uint8Array(n * L + 1).subarray(1);
    odd.set(packed);
    const pos = new Int32Array(n);
    expect(h.lookupBulk(odd, pos)).toBe(n / 2);
    for (let i = 0; i < n; i++) expect(pos[i]).toBe(h.lookup(keys[i]!));
    expect(code(() => h.lookupBulk(packed.subarray(1), new Int32Array(n)))).toBe('EINVAL');
    expect(code(() => h.lookupBulk(keys, new Int32Array(n - 1)))).toBe('EINVAL');
    expect(code(() => h.lookupBulkWithHash(keys, sigs.subarray(1), new Int32Array(n)))).toBe('EINVAL');
  });

  it('agrees with a Map over random adds, updates and deletes', () => {
    const h = make(2000);
    const model = new Map<number, number>();
    let seed = 42;
    const rnd = (m: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % m;
    for (let op = 0; op < 20_000; op++) {
      const i = rnd(1500);
      const r = rnd(10);
      if (r < 5) {
        const d = rnd(1_000_000);
        h.add(key(i, L), d);
        model.set(i, d);
      } else if (r < 8) {
        if (model.has(i)) {
          h.delete(key(i, L));
          model.delete(i);
        } else expect(code(() => h.delete(key(i, L)))).toBe('ENOENT');
      } else {
        expect(h.lookupData(key(i, L))).toBe(model.get(i));
      }
    }
    expect(h.count()).toBe(model.size);
    expect(h.audit()).toEqual([]);
    const seen = new Map<number, number>();
    for (const e of h.iterate()) {
      const i = new DataView(e.key.buffer).getUint32(0, true) & (L >= 4 ? 0xffffffff : 0);
      expect(h.lookup(e.key)).toBe(e.position);
      seen.set(i, e.data);
    }
    if (L >= 4) expect(seen).toEqual(model);
  });

  it(`fills up: ${mode.extendable ? 'exactly entries keys' : 'most of the buckets'}, then ENOSPC; reset empties`, () => {
    const entries = 512;
    const h = make(entries);
    let added = 0;
    let err: string | undefined;
    for (let i = 0; i < entries + 10 && err === undefined; i++) {
      err = code(() => h.add(key(i, L), i));
      if (err === undefined) added++;
    }
    expect(err).toBe('ENOSPC');
    if (mode.extendable) expect(added).toBe(entries);
    else expect(added).toBeGreaterThan(entries * 0.9);
    expect(h.count()).toBe(added);
    // A full table still updates data of present keys.
    expect(h.add(key(0, L), 77)).toBe(h.lookup(key(0, L)));
    expect(h.lookupData(key(0, L))).toBe(77);
    for (let i = 0; i < added; i++) expect(h.lookupData(key(i, L))).toBe(i === 0 ? 77 : i);
    expect(h.audit()).toEqual([]);
    // Delete half, refill: extendable chains are compacted and recycled.
    for (let i = 0; i < added; i += 2) h.delete(key(i, L));
    expect(h.audit()).toEqual([]);
    for (let i = 1; i < added; i += 2) expect(h.lookupData(key(i, L))).toBe(i);
    h.reset();
    expect(h.count()).toBe(0);
    expect(h.lookup(key(1, L))).toBe(-1);
    expect(h.audit()).toEqual([]);
    for (let i = 0; i < 100; i++) h.add(key(i, L), i);
    expect(h.count()).toBe(100);
  });

  it('writeBatch groups writes and still applies each', () => {
    const h = make(256);
    const n = h.writeBatch(() => {
      for (let i = 0; i < 100; i++) h.add(key(i, L), i);
      return h.count();
    });
    expect(n).toBe(100);
    expect(h.lookupData(key(99, L))).toBe(99);
  });
});

describe('compiled hash code', () => {
  it('every key length 1…72, both functions: the table\'s hash() (compiled up to 64 bytes) is the standalone function', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (const hashFunc of ['crc32c', 'jhash'] as const) {
      const fn = hashFunc === 'crc32c' ? crc32c : jhash;
      for (let len = 1; len <= 72; len++) {
        const initVal = (len * 0x9e3779b9) >>> 0;
        const h = Hash.create(`c${hashFunc}${len}`, { entries: 64, keyLen: len, hashFunc, initVal });
        for (let t = 0; t < 4; t++) {
          const k = Uint8Array.from({ length: len }, rnd);
          expect(h.hash(k), `${hashFunc} len ${len}`).toBe(fn(k, initVal));
          // …and the compiled lookup hashes the same way (a key added through the generic path is found).
          const p = h.add(k, t);
          expect(h.lookup(k), `${hashFunc} len ${len} lookup`).toBe(p);
        }
        h.free();
      }
    }
  });
});

describe('create / lookup / free', () => {
  it('Hash.findExisting returns the table by name, with its parameters from the header; find and the deprecated lookup agree', () => {
    const h = Hash.create('flows', { entries: 100, keyLen: 12, hashFunc: 'crc32c', initVal: 3, flags: HASH_EXTRA_FLAGS_EXT_TABLE });
    const again = Hash.findExisting('flows');
    expect(again).toBe(h);
    expect(Hash.find('flows')).toBe(h);
    expect(Hash.lookup('flows')).toBe(h);
    expect(Hash.find('absent')).toBeUndefined();
    expect([again.keyLen, again.entries, again.hashFunc, again.initVal, again.extendable, again.multiWriter]).toEqual([12, 100, 'crc32c', 3, true, false]);
    expect(h.numBuckets).toBe(16);
  });

  it('errors: EEXIST, ENOENT, EINVAL, ENAMETOOLONG, ENOTSUP, EBADF', () => {
    Hash.create('dup', { entries: 64, keyLen: 4 });
    expect(code(() => Hash.create('dup', { entries: 64, keyLen: 4 }))).toBe('EEXIST');
    expect(code(() => Hash.findExisting('none'))).toBe('ENOENT');
    expect(code(() => Hash.lookup('none'))).toBe('ENOENT');
    expect(code(() => Hash.create('a', { entries: 7, keyLen: 4 }))).toBe('EINVAL');
    expect(code(() => Hash.create('a', { entries: 2 ** 31, keyLen: 4 }))).toBe('EINVAL');
    expect(code(() => Hash.create('a', { entries: 64, keyLen: 0 }))).toBe('EINVAL');
    expect(code(() => Hash.create('a', { entries: 64, keyLen: 4, hashFunc: 'md5' as HashFunc }))).toBe('EINVAL');
    expect(code(() => Hash.create('a', { entries: 64, keyLen: 4, initVal: 1.5 }))).toBe('EINVAL');
    expect(code(() => Hash.create('a', { entries: 64, keyLen: 4, flags: 0x100 }))).toBe('EINVAL');
    expect(code(() => Hash.create('a', { entries: 64, keyLen: 4, flags: HASH_EXTRA_FLAGS_NO_FREE_ON_DEL }))).toBe('ENOTSUP');
    expect(code(() => Hash.create('a/b', { entries: 64, keyLen: 4 }))).toBe('EINVAL');
    expect(code(() => Hash.create('x'.repeat(40), { entries: 64, keyLen: 4 }))).toBe('ENAMETOOLONG');
    const h = Hash.create('k', { entries: 64, keyLen: 4 });
    expect(code(() => h.add(new Uint8Array(5)))).toBe('EINVAL');
    expect(code(() => h.lookup(new Uint8Array(3)))).toBe('EINVAL');
    expect(code(() => h.add(new Uint8Array(4), -1))).toBe('EINVAL');
    expect(code(() => h.add(new Uint8Array(4), 2 ** 53))).toBe('EINVAL');
    expect(code(() => h.keyAt(65))).toBe('EINVAL');
    h.free();
    expect(code(() => Hash.findExisting('k'))).toBe('ENOENT');
    expect(Hash.find('k')).toBeUndefined();
    expect(code(() => h.add(new Uint8Array(4)))).toBe('EBADF');
    // The name is free again.
    expect(Hash.create('k', { entries: 64, keyLen: 4 }).count()).toBe(0);
  });

  // Every public method of a Hash, called as a user would; checked against the built declarations so a
  // new method cannot skip the freed-handle rule.
  const K = new Uint8Array(8);
  const HASH_CALLS: Record<string, (h: Hash) => unknown> = {
    free: (h) => h.free(),
    hash: (h) => h.hash(K),
    lookup: (h) => h.lookup(K),
    lookupWithHash: (h) => h.lookupWithHash(K, 1),
    lookupData: (h) => h.lookupData(K),
    lookupDataWithHash: (h) => h.lookupDataWithHash(K, 1),
    get: (h) => h.get(K),
    lookupBulk: (h) => h.lookupBulk([K, K], new Int32Array(2)),
    lookupBulkWithHash: (h) => h.lookupBulkWithHash([K, K], [1, 2], new Int32Array(2)),
    hashBulk: (h) => h.hashBulk([K, K], new Uint32Array(2)),
    lookupBulkTs: (h) => h.lookupBulkTs([K, K], undefined, new Int32Array(2)),
    dataAt: (h) => h.dataAt(0),
    keyAt: (h) => h.keyAt(0),
    count: (h) => h.count(),
    iterate: (h) => [...h.iterate()],
    add: (h) => h.add(K, 5),
    addWithHash: (h) => h.addWithHash(K, 1, 5),
    delete: (h) => h.delete(K),
    deleteWithHash: (h) => h.deleteWithHash(K, 1),
    reset: (h) => h.reset(),
    writeBatch: (h) => h.writeBatch(() => 1),
    audit: (h) => h.audit(),
  };

  it('the freed-handle table covers every public method of Hash', () => {
    const dts = readFileSync(join(import.meta.dirname, '../dist/index.d.ts'), 'utf8');
    const cls = /declare class Hash \{([\s\S]*?)\n\}/.exec(dts)![1]!;
    const methods = [...cls.matchAll(/^ {4}\*?([a-zA-Z]\w*)(<[^>]*>)?\(/gm)].map((m) => m[1]!);
    expect(methods.length).toBeGreaterThan(15);
    for (const m of methods) expect(Object.keys(HASH_CALLS), `no freed-handle call for Hash.${m}`).toContain(m);
  });

  it.each([
    ['single writer', {}],
    ['multi-writer', { multiWriter: true }],
    ['extendable, multi-writer', { multiWriter: true, flags: HASH_EXTRA_FLAGS_EXT_TABLE }],
  ])('%s: every call on a freed handle throws EBADF; the memzone reserved in its place is untouched', (_l, extra) => {
    const h = Hash.create('freed', { entries: 64, keyLen: 8, ...extra });
    h.add(K, 1);
    const mz = memzone.find('HT_freed')!;
    h.free();
    const next = memzone.reserve('after_freed', mz.len, { align: 64 });
    expect(next.offset, 'the allocator reuses the freed place (else this test proves nothing)').toBe(mz.offset);
    const bytes = new Uint8Array(next.buffer, 0, mz.len);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const before = createHash('sha256').update(bytes).digest('hex');
    for (const [method, call] of Object.entries(HASH_CALLS)) {
      expect(code(() => call(h)), method).toBe('EBADF');
    }
    expect(createHash('sha256').update(bytes).digest('hex'), 'the next memzone was written through a freed handle').toBe(before);
    memzone.free('after_freed');
    // The name is free again, and the new table is a new handle.
    const again = Hash.create('freed', { entries: 64, keyLen: 8 });
    expect(again).not.toBe(h);
    expect(again.lookup(K)).toBe(-1);
    again.free();
  });

  it('key helpers', () => {
    expect(stringKey('ab', 4)).toEqual(new Uint8Array([97, 98, 0, 0]));
    expect(code(() => stringKey('abcde', 4))).toBe('EINVAL');
    expect(u32Key(0x01020304)).toEqual(new Uint8Array([4, 3, 2, 1]));
    expect(u64Key(2n ** 40n + 1n, 12)).toEqual(new Uint8Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
    expect(code(() => u32Key(-1))).toBe('EINVAL');
    const h = Hash.create('s', { entries: 64, keyLen: 8 });
    h.add(stringKey('eth0', 8), 1);
    expect(h.lookupData(stringKey('eth0', 8))).toBe(1);
  });
});
