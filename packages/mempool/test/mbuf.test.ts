// rte_mbuf semantics (DPDK's test_mbuf.c checks): defaults after alloc, prepend/append/adj/trim return
// values and limits, chains, clones and refcnt, bulk alloc all-or-nothing, the bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants } from 'node:os';
import { init } from '@mp/eal';
import type { Eal } from '@mp/eal';
import { mpErrorCode, uniquePrefix } from '@mp/test-utils';
import { Mbuf, Mempool, MBUF_HDR_SIZE, MBUF_PORT_INVALID, OWNER_IN_FLIGHT, PKTMBUF_HEADROOM, mempoolLayout, pktmbufPoolCreate } from '../src/index.js';

let group: Eal;
beforeAll(() => {
  group = init([`--file-prefix=${uniquePrefix('mbf')}`, '--no-huge', '-m', '256']);
});
afterAll(() => group.cleanup());

let seq = 0;
const fresh = (): string => `m${seq++}`;
const code = mpErrorCode;

describe('pool creation', () => {
  it.each([
    ['privSize 7 (not a multiple of 8)', { privSize: 7 }, 'EINVAL'],
    ['dataRoomSize 65536', { dataRoomSize: 65536 }, 'EINVAL'],
    ['dataRoomSize -1', { dataRoomSize: -1 }, 'EINVAL'],
    ['cacheSize 600', { cacheSize: 600 }, 'EINVAL'],
  ])('%s → %s', (_l, opts, want) => {
    expect(code(() => pktmbufPoolCreate(fresh(), 64, opts))).toBe(want);
  });

  it('alloc on a plain pool → EINVAL', () => {
    const p = Mempool.create(fresh(), 8, 64);
    expect(code(() => Mbuf.alloc(p))).toBe('EINVAL');
    p.free();
  });
});

describe.each([
  ['default room, no cache', 0, 0, undefined],
  ['default room, cache 32, priv 16', 32, 16, undefined],
  ['room 200 (72 bytes of tailroom)', 0, 0, 200],
  ['room 64 (< headroom)', 8, 0, 64],
])('mbuf ops (%s)', (_l, cacheSize, privSize, dataRoomSize) => {
  const room = dataRoomSize ?? 2048 + 128;
  const head = Math.min(PKTMBUF_HEADROOM, room);
  let pool: Mempool;
  beforeAll(() => {
    pool = pktmbufPoolCreate(fresh(), 128, { cacheSize, privSize, dataRoomSize });
  });
  afterAll(() => pool.free());

  it('alloc: a reset mbuf (rte_pktmbuf_reset)', () => {
    const m = Mbuf.alloc(pool);
    expect(m).toBeGreaterThan(0);
    expect(Mbuf.bufLen(m)).toBe(room);
    expect(Mbuf.dataOff(m)).toBe(head);
    expect(Mbuf.headroom(m)).toBe(head);
    expect(Mbuf.tailroom(m)).toBe(room - head);
    expect([Mbuf.dataLen(m), Mbuf.pktLen(m), Mbuf.next(m), Mbuf.refcntRead(m), Mbuf.nbSegs(m)]).toEqual([0, 0, 0, 1, 1]);
    expect(Mbuf.port(m)).toBe(MBUF_PORT_INVALID);
    expect(Mbuf.olFlags(m)).toBe(0n);
    expect(Mbuf.isDirect(m)).toBe(true);
    expect(Mbuf.owner(m)).toBe(pool.ownerTag);
    // Fields written are reset by the next alloc of the same mbuf.
    Mbuf.setPort(m, 3);
    Mbuf.setOlFlags(m, 1n << 63n);
    Mbuf.setTimestamp(m, 123456789012345n);
    Mbuf.setRssHash(m, 0xdeadbeef);
    expect(Mbuf.olFlags(m)).toBe(1n << 63n);
    expect(Mbuf.timestamp(m)).toBe(123456789012345n);
    expect(Mbuf.rssHash(m)).toBe(0xdeadbeef);
    Mbuf.append(m, 10);
    Mbuf.free(m);
    const all = new Uint32Array(128);
    expect(Mbuf.allocBulk(pool, all, 128)).toBe(128);
    expect(all).toContain(m);
    // rte_pktmbuf_reset: port, olFlags, lengths; not the RSS hash
    expect([Mbuf.port(m), Mbuf.olFlags(m), Mbuf.dataLen(m), Mbuf.rssHash(m)]).toEqual([MBUF_PORT_INVALID, 0n, 0, 0xdeadbeef]);
    Mbuf.freeBulk(all, 128);
    expect(pool.availCount).toBe(128);
  });

  it('prepend / append / adj / trim: DPDK return values and limits', () => {
    const m = Mbuf.alloc(pool);
    const base = Mbuf.dataOffset(m);
    // append beyond the tailroom: -1, nothing changes
    expect(Mbuf.append(m, room - head + 1)).toBe(-1);
    expect(Mbuf.dataLen(m)).toBe(0);
    const add = Math.min(60, room - head);
    expect(Mbuf.append(m, add)).toBe(base);
    expect([Mbuf.dataLen(m), Mbuf.pktLen(m)]).toEqual([add, add]);
    // prepend beyond the headroom: -1
    expect(Mbuf.prepend(m, head + 1)).toBe(-1);
    if (head >= 14) {
      expect(Mbuf.prepend(m, 14)).toBe(base - 14);
      expect([Mbuf.dataOff(m), Mbuf.dataLen(m), Mbuf.pktLen(m)]).toEqual([head - 14, add + 14, add + 14]);
      expect(Mbuf.dataOffset(m)).toBe(base - 14);
      expect(Mbuf.adj(m, 14)).toBe(base);
    }
    // adj beyond the data: -1
    expect(Mbuf.adj(m, add + 1)).toBe(-1);
    expect(Mbuf.trim(m, add + 1)).toBe(-1);
    if (add >= 4) {
      expect(Mbuf.trim(m, 4)).toBe(0);
      expect([Mbuf.dataLen(m), Mbuf.pktLen(m), Mbuf.dataOff(m)]).toEqual([add - 4, add - 4, head]);
      expect(Mbuf.adj(m, add - 4)).toBe(base + add - 4);
      expect(Mbuf.dataLen(m)).toBe(0);
    } else {
      expect(room - head).toBe(0); // room 64: all headroom, nothing fits
    }
    Mbuf.free(m);
  });

  it('the bytes: data() and bytes()+dataOffset() see the same memory', () => {
    const m = Mbuf.alloc(pool);
    const len = Math.min(32, room - head);
    const at = Mbuf.append(m, len);
    const bytes = Mbuf.bytes(m);
    for (let i = 0; i < len; i++) bytes[at + i] = i + 1;
    const d = Mbuf.data(m);
    expect(d.byteLength).toBe(len);
    expect([...d]).toEqual(Array.from({ length: len }, (_, i) => i + 1));
    // The data room starts after the header and the private area.
    expect(Mbuf.dataOffset(m) - Mbuf.dataOff(m)).toBe(pool.offsetOf(m) + MBUF_HDR_SIZE + privSize);
    expect(Mbuf.privOffset(m)).toBe(pool.offsetOf(m) + MBUF_HDR_SIZE);
    Mbuf.free(m);
  });

  it("read: a chain's bytes in order into one buffer, from an offset, cut where the buffer ends", () => {
    const segs = [Mbuf.alloc(pool), Mbuf.alloc(pool), Mbuf.alloc(pool)];
    const k = Math.min(7, room - head);
    let v = 1;
    for (const m of segs) {
      const at = Mbuf.append(m, k);
      const bytes = Mbuf.bytes(m);
      for (let i = 0; i < k; i++) bytes[at + i] = v++;
    }
    expect(Mbuf.chain(segs[0]!, segs[1]!)).toBe(0);
    expect(Mbuf.chain(segs[0]!, segs[2]!)).toBe(0);
    const want = Array.from({ length: 3 * k }, (_, i) => i + 1);
    const dst = new Uint8Array(3 * k + 4);
    expect(Mbuf.read(segs[0]!, dst, 2)).toBe(3 * k);
    expect([...dst.subarray(2, 2 + 3 * k)]).toEqual(want);
    expect([dst[0], dst[1], dst[3 * k + 2], dst[3 * k + 3]]).toEqual([0, 0, 0, 0]);
    const short = new Uint8Array(k + 3);
    const n = Math.min(k + 3, 3 * k); // a pool with no room past the headroom has empty segments
    expect(Mbuf.read(segs[0]!, short)).toBe(n);
    expect([...short.subarray(0, n)]).toEqual(want.slice(0, n));
    Mbuf.free(segs[0]!);
  });

  it('chain: nbSegs and pktLen add up; free returns every segment; lastSeg/append/trim act on the tail', () => {
    const a = Mbuf.alloc(pool);
    const b = Mbuf.alloc(pool);
    const c = Mbuf.alloc(pool);
    const k = Math.min(10, room - head);
    Mbuf.append(a, k);
    Mbuf.append(b, k);
    Mbuf.append(c, k);
    expect(Mbuf.chain(a, b)).toBe(0);
    expect(Mbuf.chain(a, c)).toBe(0);
    expect([Mbuf.nbSegs(a), Mbuf.pktLen(a), Mbuf.next(a), Mbuf.next(b), Mbuf.lastSeg(a)]).toEqual([3, 3 * k, b, c, c]);
    if (k > 0) {
      expect(Mbuf.trim(a, 1)).toBe(0);
      expect([Mbuf.dataLen(c), Mbuf.pktLen(a)]).toEqual([k - 1, 3 * k - 1]);
    } else {
      expect(Mbuf.trim(a, 1)).toBe(-1);
    }
    const before = pool.availCount;
    Mbuf.free(a);
    expect(pool.availCount).toBe(before + 3);
    Mbuf.free(0); // NULL
  });

  it('clone: indirect mbufs share the data; refcnt keeps the direct one until the last user frees', () => {
    const m = Mbuf.alloc(pool);
    const len = Math.min(16, room - head);
    const at = Mbuf.append(m, len);
    Mbuf.bytes(m).fill(0x5a, at, at + len);
    Mbuf.setPort(m, 7);
    const before = pool.availCount;
    const c = Mbuf.clone(m, pool);
    expect(c).toBeGreaterThan(0);
    expect(Mbuf.isDirect(c)).toBe(false);
    expect(Mbuf.refcntRead(m)).toBe(2);
    expect([Mbuf.dataLen(c), Mbuf.pktLen(c), Mbuf.port(c)]).toEqual([len, len, 7]);
    expect(Mbuf.dataOffset(c)).toBe(Mbuf.dataOffset(m));
    expect([...Mbuf.data(c)]).toEqual(Array(len).fill(0x5a));
    Mbuf.free(m); // refcnt 2 → 1: stays out
    expect(pool.availCount).toBe(before - 1);
    expect(Mbuf.refcntRead(m)).toBe(1);
    Mbuf.free(c); // detach frees m too
    expect(pool.availCount).toBe(before + 1);
    // refcnt by hand
    const r = Mbuf.alloc(pool);
    expect(Mbuf.refcntUpdate(r, 2)).toBe(3);
    Mbuf.free(r);
    Mbuf.free(r);
    expect(Mbuf.refcntRead(r)).toBe(1);
    expect(pool.availCount).toBe(before);
    Mbuf.free(r);
    expect(pool.availCount).toBe(before + 1);
  });

  it('allocBulk is all or nothing; clone out of mbufs → -1 keeping nothing', () => {
    const n = pool.availCount;
    const all = new Uint32Array(n + 1);
    expect(Mbuf.allocBulk(pool, all, n + 1)).toBe(0);
    expect(pool.availCount).toBe(n);
    expect(Mbuf.allocBulk(pool, all, n)).toBe(n);
    expect(Mbuf.alloc(pool)).toBe(-1);
    Mbuf.free(all[0]!);
    // Clone of a 2-segment packet needs 2 mbufs; 1 free → -1 and the 1 stays free.
    Mbuf.chain(all[1]!, all[2]!);
    expect(Mbuf.clone(all[1]!, pool)).toBe(-1);
    expect(pool.availCount).toBe(1);
    expect(Mbuf.refcntRead(all[1]!)).toBe(1);
    expect(Mbuf.refcntRead(all[2]!)).toBe(1);
    Mbuf.free(all[1]!);
    for (let i = 3; i < n; i++) Mbuf.free(all[i]!);
    expect(pool.availCount).toBe(n);
  });
});

it('Mbuf.release / adopt mark every segment of each packet, across pools; Mempool.fromHandle finds the pool', () => {
  const a = pktmbufPoolCreate(fresh(), 8, { dataRoomSize: 64 });
  const b = pktmbufPoolCreate(fresh(), 8, { dataRoomSize: 64 });
  const h1 = Mbuf.alloc(a);
  const h2 = Mbuf.alloc(b);
  const h3 = Mbuf.alloc(a);
  Mbuf.chain(h1, h2);
  const pkts = new Uint32Array([h1, h3]);
  Mbuf.release(pkts, 2);
  expect([h1, h2, h3].map((h) => Mbuf.owner(h))).toEqual([OWNER_IN_FLIGHT, OWNER_IN_FLIGHT, OWNER_IN_FLIGHT]);
  Mbuf.adopt(pkts, 2);
  expect([h1, h2, h3].map((h) => Mbuf.owner(h))).toEqual([a.ownerTag, b.ownerTag, a.ownerTag]);
  expect(Mempool.fromHandle(h2)).toBe(b);
  Mbuf.freeBulk(pkts, 2);
  expect([a.availCount, b.availCount]).toEqual([8, 8]);
  const id = a.id;
  a.free();
  b.free();
  expect(code(() => Mempool.fromHandle(((id << 24) | 1) >>> 0))).toBe('EBADF');
  expect(code(() => Mbuf.dataLen(h1))).toBe('EBADF');
});

it('chain beyond 65535 segments → -EOVERFLOW, nothing changes', () => {
  const pool = pktmbufPoolCreate(fresh(), 4, { dataRoomSize: 0 });
  const a = Mbuf.alloc(pool);
  const b = Mbuf.alloc(pool);
  // Pretend a already has 65535 segments (rte_pktmbuf_chain checks the sum only).
  pool.words[pool.wordOf(a) + mempoolLayout.W_NB_SEGS] = 65535;
  expect(Mbuf.chain(a, b)).toBe(-constants.errno.EOVERFLOW);
  expect(Mbuf.next(a)).toBe(0);
  pool.words[pool.wordOf(a) + mempoolLayout.W_NB_SEGS] = 1;
  Mbuf.free(a);
  Mbuf.free(b);
  pool.free();
});
