// Single-process conformance, table-driven over cache sizes and flags (as DPDK's test_mempool.c runs
// its checks on a pool with and without cache, and with SP/SC flags).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { init } from '@mp/eal';
import type { Eal } from '@mp/eal';
import { mpErrorCode, uniquePrefix } from '@mp/test-utils';
import {
  Mempool,
  MEMPOOL_F_NO_CACHE_ALIGN,
  MEMPOOL_F_SC_GET,
  MEMPOOL_F_SP_PUT,
  OWNER_FREE,
  OWNER_IN_FLIGHT,
  handleOf,
  indexOf,
  poolOf,
} from '../src/index.js';

let group: Eal;
beforeAll(() => {
  group = init([`--file-prefix=${uniquePrefix('mpl')}`, '--no-huge', '-m', '256']);
});
afterAll(() => group.cleanup());

let seq = 0;
const fresh = (): string => `p${seq++}`;
const code = mpErrorCode;

describe('create / lookup / errors', () => {
  it.each([
    ['n 0', 0, 64, {}, 'EINVAL'],
    ['n 2^24 (over 24 index bits)', 2 ** 24, 64, {}, 'EINVAL'],
    ['n 1.5', 1.5, 64, {}, 'EINVAL'],
    ['eltSize 0', 16, 0, {}, 'EINVAL'],
    ['eltSize -1', 16, -1, {}, 'EINVAL'],
    ['cacheSize 513', 4096, 64, { cacheSize: 513 }, 'EINVAL'],
    ['cacheSize over n / 1.5', 100, 64, { cacheSize: 68 }, 'EINVAL'],
    ['cacheSize n / 1.5 is fine', 100, 64, { cacheSize: 67 }, undefined],
    ['cacheSize -1', 100, 64, { cacheSize: -1 }, 'EINVAL'],
    ['privSize -1', 100, 64, { privSize: -1 }, 'EINVAL'],
    ['unknown flags', 100, 64, { flags: 0x100 }, 'EINVAL'],
  ])('%s → %s', (_label, n, elt, opts, want) => {
    const name = fresh();
    expect(code(() => Mempool.create(name, n as number, elt as number, opts))).toBe(want);
    if (want === undefined) Mempool.lookup(name).free();
    expect(Mempool.find(name)).toBeUndefined();
  });

  it.each([
    ['empty', '', 'EINVAL'],
    ['a slash', 'a/b', 'EINVAL'],
    ['..', 'a..b', 'EINVAL'],
    ['26 bytes', 'x'.repeat(26), 'ENAMETOOLONG'],
  ])('name %s → %s', (_l, name, want) => {
    expect(code(() => Mempool.create(name, 16, 16))).toBe(want);
  });

  it('a 25-byte name is fine; the same name again → EEXIST; lookup/find', () => {
    const name = 'y'.repeat(25);
    const p = Mempool.create(name, 16, 16);
    expect(code(() => Mempool.create(name, 16, 16))).toBe('EEXIST');
    expect(Mempool.lookup(name)).toBe(p);
    expect(Mempool.find(name)).toBe(p);
    expect(code(() => Mempool.lookup('nosuchpool'))).toBe('ENOENT');
    expect(Mempool.find('nosuchpool')).toBeUndefined();
    p.free();
  });

  it('free: the handle then throws EBADF; the name is free again; the id is not reused at once', () => {
    const name = fresh();
    const p = Mempool.create(name, 64, 32, { cacheSize: 8 });
    const id = p.id;
    const h = p.get();
    p.put(h);
    p.free();
    expect(code(() => p.get())).toBe('EBADF');
    expect(code(() => p.put(h))).toBe('EBADF');
    expect(code(() => p.getBulk(new Uint32Array(4), 4))).toBe('EBADF');
    expect(code(() => p.free())).toBe('EBADF');
    expect(code(() => Mempool.lookup(name))).toBe('ENOENT');
    // Ids go round robin: a freed id is not handed out again at once.
    const q = Mempool.create(name, 64, 32);
    expect(q.id).not.toBe(id);
    q.free();
  });

  it('the 256th pool of a group → ENOSPC (a handle holds the pool id in 8 bits); a freed id is reused', () => {
    const made: Mempool[] = [];
    let err: unknown;
    try {
      for (let i = 0; i < 300; i++) made.push(Mempool.create(fresh(), 1, 8));
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('ENOSPC');
    expect((err as Error).message).toMatch(/255 pool ids/);
    const ids = new Set(made.map((p) => p.id));
    expect(ids.size).toBe(made.length);
    const last = made.pop()!;
    const id = last.id;
    last.free();
    const again = Mempool.create(fresh(), 1, 8);
    expect(again.id).toBe(id);
    again.free();
    for (const p of made) p.free();
  });

  it('handles: pool id in the top byte, index below; distinct pools have distinct ids', () => {
    const a = Mempool.create(fresh(), 8, 8);
    const b = Mempool.create(fresh(), 8, 8);
    expect(a.id).not.toBe(b.id);
    const ha = a.get();
    const hb = b.get();
    expect(poolOf(ha)).toBe(a.id);
    expect(poolOf(hb)).toBe(b.id);
    expect(handleOf(poolOf(ha), indexOf(ha))).toBe(ha);
    expect(code(() => a.put(hb))).toBe('EINVAL');
    expect(code(() => a.putBulk(new Uint32Array([ha, hb]), 2))).toBe('EINVAL');
    // Nothing was put by the refused bulk: ha is still out.
    expect(a.availCount).toBe(7);
    a.put(ha);
    b.put(hb);
    a.free();
    b.free();
  });
});

const MODES: Array<[string, number, number]> = [
  ['no cache', 0, 0],
  ['cache 32', 32, 0],
  ['cache 512', 512, 0],
  ['no cache, SP put / SC get', 0, MEMPOOL_F_SP_PUT | MEMPOOL_F_SC_GET],
  ['cache 32, SP put / SC get', 32, MEMPOOL_F_SP_PUT | MEMPOOL_F_SC_GET],
  ['cache 32, no cache align', 32, MEMPOOL_F_NO_CACHE_ALIGN],
];

describe.each(MODES)('get/put (%s)', (_label, cacheSize, flags) => {
  const N = 1000;

  it('every object once, then empty (-1 / 0), then all back', () => {
    const p = Mempool.create(fresh(), N, 40, { cacheSize, flags });
    const seen = new Set<number>();
    for (let i = 0; i < N; i++) {
      const h = p.get();
      expect(h).toBeGreaterThan(0);
      expect(poolOf(h)).toBe(p.id);
      seen.add(h);
    }
    expect(seen.size).toBe(N);
    expect(p.get()).toBe(-1);
    expect(p.getBulk(new Uint32Array(1), 1)).toBe(0);
    expect(p.availCount).toBe(0);
    expect(p.inUseCount).toBe(N);
    for (const h of seen) p.put(h);
    expect(p.availCount).toBe(N);
    expect(p.inUseCount).toBe(0);
    p.free();
  });

  it.each([1, 8, 32, 33, 100, 512, 999])('getBulk(%i) is all or nothing', (k) => {
    const p = Mempool.create(fresh(), N, 16, { cacheSize, flags });
    const hold = new Uint32Array(N);
    // Leave k - 1 available: a bulk of k gets nothing and takes nothing.
    expect(p.getBulk(hold, N - (k - 1))).toBe(N - (k - 1));
    const out = new Uint32Array(k);
    expect(p.getBulk(out, k)).toBe(0);
    expect(p.availCount).toBe(k - 1);
    p.putBulk(hold, N - (k - 1));
    expect(p.availCount).toBe(N);
    expect(p.getBulk(out, k)).toBe(k);
    expect(new Set(out).size).toBe(k);
    expect(p.availCount).toBe(N - k);
    p.putBulk(out, k);
    expect(p.availCount).toBe(N);
    expect(p.getBulk(out, 0)).toBe(0);
    expect(code(() => p.getBulk(out, k + 1))).toBe('EINVAL');
    expect(code(() => p.putBulk(out, k + 1))).toBe('EINVAL');
    p.free();
  });

  it('a double put is ignored (never a duplicate in the pool)', () => {
    const p = Mempool.create(fresh(), 64, 16, { cacheSize: Math.min(cacheSize, 32), flags });
    const h = p.get();
    p.put(h);
    // Push it out of any cache into the ring, then put it again.
    const all = new Uint32Array(64);
    expect(p.getBulk(all, 64)).toBe(64);
    p.putBulk(all, 64);
    const c = p as unknown as { close(): void };
    c.close();
    p.put(h);
    expect(p.availCount).toBe(64);
    expect(p.getBulk(all, 64)).toBe(64);
    expect(new Set(all).size).toBe(64);
    p.free();
  });
});

describe.each([0, 32])('putBulk to the ring (cacheSize %i, then closed)', (cacheSize) => {
  it('skips a handle already free in the middle of a bulk and puts the others once', () => {
    const p = Mempool.create(fresh(), 64, 16, { cacheSize });
    const b = new Uint32Array(3);
    expect(p.getBulk(b, 3)).toBe(3);
    p.close(); // no cache from here: bulks go to the ring
    p.put(b[1]!);
    expect(p.availCount).toBe(62);
    p.putBulk(b, 3);
    expect(p.availCount).toBe(64);
    const all = new Uint32Array(64);
    expect(p.getBulk(all, 64)).toBe(64);
    expect(new Set(all).size).toBe(64);
    p.free();
  });
});

describe('cache (rte_mempool per-lcore cache semantics)', () => {
  it('a miss refills size + 1; puts fill to 1.5 × size, then flush back to size', () => {
    const p = Mempool.create(fresh(), 1000, 16, { cacheSize: 32 });
    expect(p.cacheCount).toBe(0);
    const h = p.get();
    expect(p.cacheCount).toBe(32);
    expect(p.availCount).toBe(999);
    // LIFO: what was put last comes back first.
    p.put(h);
    expect(p.get()).toBe(h);
    p.put(h);
    expect(p.cacheCount).toBe(33);
    const buf = new Uint32Array(100);
    expect(p.getBulk(buf, 1)).toBe(1);
    // Fill: 32 in the cache + 15 puts = 47 (< 48 = flush threshold) … 48 → flush to 32.
    const out = new Uint32Array(20);
    expect(p.getBulk(out, 20)).toBe(20);
    expect(p.cacheCount).toBe(12);
    p.putBulk(out, 20);
    p.put(buf[0]!);
    expect(p.cacheCount).toBe(33);
    const more = new Uint32Array(100);
    expect(p.getBulk(more, 100)).toBe(100); // larger than the cache: straight from the ring
    expect(p.cacheCount).toBe(33);
    for (let i = 0; i < 14; i++) p.put(more[i]!);
    expect(p.cacheCount).toBe(47);
    p.put(more[14]!);
    expect(p.cacheCount).toBe(32);
    p.putBulk(more.subarray(15), 85);
    expect(p.availCount).toBe(1000);
    p.free();
  });

  it('availCount counts cached objects; close() flushes the cache to the ring', () => {
    const p = Mempool.create(fresh(), 200, 16, { cacheSize: 64 });
    const h = p.get();
    p.put(h);
    expect(p.cacheCount).toBe(65);
    expect(p.availCount).toBe(200);
    p.close();
    expect(p.cacheCount).toBe(0);
    expect(p.dump()).not.toMatch(/cache \d+: owner/);
    expect(p.availCount).toBe(200);
    // Still usable, uncached.
    const g = p.get();
    expect(p.cacheCount).toBe(0);
    p.put(g);
    p.free();
  });
});

describe('objects, ownership, private area', () => {
  it('obj(h) is one cached view per object; bytes are shared with offsetOf', () => {
    const p = Mempool.create(fresh(), 16, 100, { privSize: 24 });
    const h = p.get();
    const v = p.obj(h);
    expect(p.obj(h)).toBe(v);
    expect(v.byteLength).toBe(100);
    v.fill(0xab);
    expect(p.bytes[p.offsetOf(h) + 99]).toBe(0xab);
    expect(p.stride % 64).toBe(0);
    expect(p.priv().byteLength).toBe(24);
    expect(code(() => p.obj(h + 16))).toBe('EINVAL');
    p.put(h);
    p.free();
  });

  it('owner words: our tag while held or cached, IN_FLIGHT after release, ours again after adopt, FREE in the ring', () => {
    const p = Mempool.create(fresh(), 64, 16, { cacheSize: 16 });
    const u = Mempool.create(fresh(), 64, 16);
    const b = new Uint32Array(4);
    expect(p.getBulk(b, 4)).toBe(4);
    for (const h of b) expect(p.ownerOf(h)).toBe(p.ownerTag);
    p.release(b, 4);
    for (const h of b) expect(p.ownerOf(h)).toBe(OWNER_IN_FLIGHT);
    p.adopt(b, 4);
    for (const h of b) expect(p.ownerOf(h)).toBe(p.ownerTag);
    p.putBulk(b, 4);
    for (const h of b) expect(p.ownerOf(h)).toBe(p.ownerTag); // in our cache
    expect(u.getBulk(b, 4)).toBe(4);
    u.putBulk(b, 4);
    for (const h of b) expect(u.ownerOf(h)).toBe(OWNER_FREE); // uncached: straight to the ring
    // A released object put back (by whoever received it) is taken over, not lost.
    expect(u.getBulk(b, 2)).toBe(2);
    u.release(b, 2);
    u.putBulk(b, 2);
    expect(u.availCount).toBe(64);
    p.free();
    u.free();
  });
});

describe('worker threads', () => {
  it('a worker opens the pool from describe(), has its own cache, and flushes it when it exits', async () => {
    const p = Mempool.create(fresh(), 1000, 16, { cacheSize: 64 });
    const url = pathToFileURL(join(import.meta.dirname, '../dist/index.js')).href;
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then(({ Mempool }) => {
        const p = Mempool.fromDescriptor(workerData);
        const b = new Uint32Array(10);
        p.getBulk(b, 10);
        p.putBulk(b, 10);
        parentPort.postMessage({ cached: p.cacheCount, avail: p.availCount, handles: [...b] });
        parentPort.once('message', () => parentPort.close()); // then the worker ends by itself
      });`;
    const w = new Worker(src, { eval: true, workerData: p.describe() });
    const msg = await new Promise<{ cached: number; avail: number; handles: number[] }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(msg.cached).toBe(74);
    expect(msg.avail).toBe(1000);
    for (const h of msg.handles) expect(poolOf(h)).toBe(p.id);
    expect(p.dump().match(/cache \d+: owner/g)).toHaveLength(2); // ours and the worker's
    const exited = new Promise((r) => w.once('exit', r));
    w.postMessage('bye');
    await exited;
    expect(p.dump().match(/cache \d+: owner/g)).toHaveLength(1);
    expect(p.availCount).toBe(1000);
    p.free();
  });
});
