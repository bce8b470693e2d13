/**
 * The addon checks every datagram it reads (native/ipc.cc Classify, RECORD.fast) so that decodeRecord
 * need not, wake-ups are skipped and replies matched without decoding. What it may accept is exactly
 * what the TypeScript decoder accepts: each record here is judged both ways — the decoder on the record
 * with its fast word cleared (the reference), the addon's word, and the decoder trusting that word.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { binding, MSG_CTRUNC, MSG_TRUNC } from '../src/binding.js';
import { decodeRecord, encode, nameBytes } from '../src/codec.js';
import type { Decoded } from '../src/codec.js';
import { EXT, EXT_ERROR, EXT_WAKE, FAST_EXT, FAST_OK, FAST_WAKE, MP_IGN, MP_MAX_NAME_LEN, MP_MSG, MP_REP, MP_REQ, RECORD, RX_FD_OVERFLOW, WAKE_ACTION, WIRE } from '../src/layout.js';

const TRUNC = MSG_TRUNC | MSG_CTRUNC;
const BATCH = 16;

interface Rx {
  len?: number;
  flags?: number;
  fds?: number[];
}

/** One record of a batch buffer as a read fills it (fast word cleared). */
function put(u8: Uint8Array, dv: DataView, i: number, data: Uint8Array, o: Rx = {}): number {
  const rec = i * RECORD.size;
  u8.fill(0, rec, rec + RECORD.size);
  dv.setInt32(rec + RECORD.len, o.len ?? WIRE.size, true);
  dv.setInt32(rec + RECORD.flags, o.flags ?? 0, true);
  dv.setInt32(rec + RECORD.pid, 4321, true);
  dv.setInt32(rec + RECORD.uid, 1000, true);
  const fds = o.fds ?? [];
  dv.setInt32(rec + RECORD.nfds, fds.length, true);
  fds.forEach((fd, k) => dv.setInt32(rec + RECORD.fds + 4 * k, fd, true));
  const path = Buffer.from('/run/mp/x/mp_socket_1_ab');
  dv.setInt32(rec + RECORD.pathLen, path.byteLength, true);
  u8.set(path, rec + RECORD.path);
  dv.setInt32(rec + RECORD.spill, -1, true);
  u8.set(data.subarray(0, WIRE.size), rec + RECORD.data);
  return rec;
}

function datagram(type: number, name: Uint8Array, param: Uint8Array, numFds = 0, ext: { id: number; flags: number } | null = null): Uint8Array {
  const out = new Uint8Array(WIRE.size);
  encode(out, new DataView(out.buffer), type, name, param, numFds, ext);
  return out;
}

/** receive.ts's wake test before the addon took it over (less the uid, which the reader compares). */
function isWakeSpec(u8: Uint8Array, dv: DataView, rec: number): boolean {
  if (dv.getInt32(rec + RECORD.len, true) !== WIRE.size || dv.getInt32(rec + RECORD.nfds, true) !== 0 || dv.getInt32(rec + RECORD.flags, true) !== 0) return false;
  const d = rec + RECORD.data;
  if (dv.getInt32(d + WIRE.type, true) !== MP_MSG || dv.getInt32(d + WIRE.lenParam, true) !== 0 || dv.getInt32(d + WIRE.numFds, true) !== 0) return false;
  const want = Buffer.from(`${WAKE_ACTION}\0`);
  for (let i = 0; i < want.length; i++) if (u8[d + WIRE.name + i] !== want[i]) return false;
  const x = d + WIRE.name + MP_MAX_NAME_LEN - EXT.size;
  return dv.getUint32(x, true) === EXT.magic && dv.getUint16(x + EXT.flags, true) === EXT_WAKE;
}

const printable = (s: string): boolean => /^[\x20-\x7e]+$/.test(s);

/**
 * Judge the first n records of the batch both ways; returns the fast words and what disagreed (one
 * line each; the tests expect none — a mismatch names the record and both verdicts).
 */
function judge(u8: Uint8Array, dv: DataView, n: number): { words: number[]; bad: string[] } {
  const refs: Decoded[] = [];
  for (let i = 0; i < n; i++) refs.push(decodeRecord(u8, dv, i * RECORD.size, TRUNC));
  binding.classify(u8.buffer as ArrayBuffer, n);
  const words: number[] = [];
  const bad: string[] = [];
  for (let i = 0; i < n; i++) {
    const rec = i * RECORD.size;
    const fast = dv.getInt32(rec + RECORD.fast, true);
    const ref = refs[i]!;
    words.push(fast);
    const wrong = (why: string): void => {
      bad.push(`record ${i}: ${why}; fast ${fast.toString(16)}, decoder ${JSON.stringify({ ...ref, param: undefined })}`);
    };
    if ((fast === FAST_WAKE) !== isWakeSpec(u8, dv, rec)) wrong('wake verdicts differ');
    if (fast === FAST_WAKE) continue;
    if (fast === 0) {
      // Left to the decoder: it must be something the addon does not vouch for.
      if (ref.ok && dv.getInt32(rec + RECORD.len, true) === WIRE.size && printable(ref.name)) wrong('a plain ASCII datagram the decoder accepts was not vouched for');
      continue;
    }
    if ((fast & ~(FAST_OK | FAST_EXT | (0xff << 8))) !== 0 || (fast & FAST_OK) === 0) wrong('unknown bits');
    if (!ref.ok) {
      wrong('vouched for a datagram the decoder drops');
      continue;
    }
    if (((fast >>> 8) & 0xff) !== ref.name.length) wrong('name length');
    if (((fast & FAST_EXT) !== 0) !== (ref.ext !== null)) wrong('extension verdicts differ');
    // The decoder trusting the word reads exactly what the full check reads.
    if (!isDeepStrictEqual(decodeRecord(u8, dv, rec, TRUNC), ref)) wrong('the trusting decode differs');
  }
  return { words, bad };
}

function batch(): { u8: Uint8Array; dv: DataView } {
  const u8 = new Uint8Array(BATCH * RECORD.size);
  return { u8, dv: new DataView(u8.buffer) };
}

describe("the addon's check of each datagram read (RECORD.fast) agrees with decodeRecord", () => {
  it('on every shape of valid datagram, wake-ups, and each way of being malformed', () => {
    const p = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 13 + 1) & 0xff);
    const wake = datagram(MP_MSG, nameBytes(WAKE_ACTION), new Uint8Array(0), 0, { id: 0, flags: EXT_WAKE });
    const edit = (d: Uint8Array, f: (dv: DataView, u8: Uint8Array) => void): Uint8Array => {
      const c = d.slice();
      f(new DataView(c.buffer), c);
      return c;
    };
    const ok = datagram(MP_REP, nameBytes('echo'), p(16), 0, { id: 77, flags: 0 });
    const cases: Array<[Uint8Array, Rx?]> = [
      [ok],
      [datagram(MP_REQ, nameBytes('a'), p(0), 0, { id: 1, flags: 0 })],
      [datagram(MP_MSG, nameBytes('n'.repeat(51)), p(256), 0, { id: 2, flags: EXT_ERROR })],
      [datagram(MP_IGN, nameBytes('n'.repeat(52)), p(244), 0, { id: 3, flags: EXT_WAKE })],
      [datagram(MP_REP, nameBytes('n'.repeat(63)), p(245), 0, { id: 4, flags: 0 })], // no room: plain DPDK
      [datagram(MP_REQ, nameBytes('dpdk_style'), p(8))], // no extension
      [datagram(MP_REQ, nameBytes('with.fds'), p(8), 2, { id: 5, flags: EXT_WAKE }), { fds: [7, 8] }],
      [datagram(MP_MSG, nameBytes('é-name'), p(3), 0, { id: 6, flags: 0 })], // UTF-8: the decoder's to judge
      [wake],
      [edit(wake, (dv) => dv.setUint16(WIRE.name + 52 + EXT.flags, EXT_WAKE | EXT_ERROR, true))], // not a wake
      [edit(wake, (dv) => dv.setUint16(WIRE.name + 52 + EXT.check, 0, true))], // a wake whose check is off: still a wake (as before)
      [wake, { fds: [9] }],
      [edit(ok, (dv) => dv.setUint16(WIRE.name + 52 + EXT.check, 1, true))], // check off: no extension
      [ok, { len: 331 }],
      [ok, { len: 2 * WIRE.size }],
      [ok, { flags: MSG_TRUNC }],
      [ok, { flags: MSG_CTRUNC }],
      [ok, { flags: RX_FD_OVERFLOW, fds: [1, 2, 3, 4, 5, 6, 7, 8] }],
      [ok, { fds: [5] }],
      [edit(ok, (dv) => dv.setInt32(WIRE.type, 4, true))],
      [edit(ok, (dv) => dv.setInt32(WIRE.type, -1, true))],
      [edit(ok, (_dv, u8) => u8.fill(0, WIRE.name, WIRE.name + 64))],
      [edit(ok, (_dv, u8) => u8.fill(0x61, WIRE.name, WIRE.name + 64))],
      [edit(ok, (_dv, u8) => u8.set([0x61, 0x2f, 0x62], WIRE.name))],
      [edit(ok, (_dv, u8) => u8.set([0x61, 0x5c, 0x62], WIRE.name))],
      [edit(ok, (_dv, u8) => u8.set([0x61, 0x2e, 0x2e], WIRE.name))],
      [edit(ok, (_dv, u8) => u8.set([0x2e, 0x61, 0x2e], WIRE.name))], // single dots are allowed
      [edit(ok, (_dv, u8) => u8.set([0x61, 0x09], WIRE.name))],
      [edit(ok, (_dv, u8) => u8.set([0x61, 0x7f], WIRE.name))],
      [edit(ok, (dv) => dv.setInt32(WIRE.lenParam, 257, true))],
      [edit(ok, (dv) => dv.setInt32(WIRE.lenParam, -1, true))],
      [edit(ok, (dv) => dv.setInt32(WIRE.numFds, 9, true))],
      [edit(ok, (dv) => dv.setInt32(WIRE.numFds, 1, true))],
    ];
    const { u8, dv } = batch();
    const words: number[] = [];
    const bad: string[] = [];
    for (let at = 0; at < cases.length; at += BATCH) {
      const part = cases.slice(at, at + BATCH);
      part.forEach(([d, o], i) => put(u8, dv, i, d, o));
      const j = judge(u8, dv, part.length);
      words.push(...j.words);
      bad.push(...j.bad.map((b) => `case ${at + Number(b.split(' ')[1]!.replace(':', ''))} (${b})`));
    }
    expect(bad).toEqual([]);
    // The addon vouches for the plain datagrams and wake-ups (not only for nothing).
    expect(words.filter((w) => (w & FAST_OK) !== 0).length).toBe(10);
    expect(words.filter((w) => (w & FAST_EXT) !== 0).length).toBe(6);
    expect(words.filter((w) => w === FAST_WAKE).length).toBe(2);
  });

  it('on 3 × 10^4 mutated datagrams (seeded): never vouches for what the decoder drops', () => {
    let s = 0x9e3779b9;
    const rnd = (n: number): number => {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const names = ['a', 'echo', WAKE_ACTION, 'x.y', 'n'.repeat(51), 'n'.repeat(52), 'n'.repeat(63)];
    const special = [0, 0x2e, 0x2f, 0x5c, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xff];
    const { u8, dv } = batch();
    let vouched = 0;
    const bad: string[] = [];
    for (let round = 0; round < 30_000 / BATCH; round++) {
      for (let i = 0; i < BATCH; i++) {
        const plen = [0, 1, 16, 244, 245, 256][rnd(6)]!;
        const ext = rnd(4) === 0 ? null : { id: rnd(3) === 0 ? 0 : rnd(0x7fffffff), flags: [0, EXT_ERROR, EXT_WAKE, EXT_WAKE | EXT_ERROR][rnd(4)]! };
        const d = datagram(rnd(4), nameBytes(names[rnd(names.length)]!), new Uint8Array(plen), 0, ext);
        const ddv = new DataView(d.buffer);
        for (let k = rnd(4); k > 0; k--) {
          const at = rnd(3) === 0 ? WIRE.name + rnd(MP_MAX_NAME_LEN) : rnd(3) === 0 ? WIRE.name + 52 + rnd(12) : rnd(WIRE.size);
          d[at] = rnd(2) === 0 ? special[rnd(special.length)]! : rnd(256);
        }
        if (rnd(8) === 0) ddv.setInt32([WIRE.type, WIRE.lenParam, WIRE.numFds][rnd(3)]!, rnd(2) === 0 ? rnd(300) - 20 : rnd(10), true);
        const nfds = rnd(6) === 0 ? rnd(10) : 0;
        const o: Rx = { fds: Array.from({ length: Math.min(nfds, 8) }, (_, k) => 100 + k) };
        if (rnd(10) === 0) o.len = [331, 333, 664][rnd(3)];
        if (nfds > 8) o.flags = RX_FD_OVERFLOW;
        else if (rnd(12) === 0) o.flags = [MSG_TRUNC, MSG_CTRUNC][rnd(2)];
        if (nfds > 0 && nfds <= 8 && rnd(2) === 0) ddv.setInt32(WIRE.numFds, nfds, true);
        put(u8, dv, i, d, o);
      }
      const j = judge(u8, dv, BATCH);
      vouched += j.words.filter((w) => w !== 0).length;
      if (bad.length < 10) bad.push(...j.bad.map((b) => `round ${round} ${b}`));
    }
    expect(bad).toEqual([]);
    expect(vouched).toBeGreaterThan(1000); // the mutations leave many intact: both sides were exercised
  });
});
