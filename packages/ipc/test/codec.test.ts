import { describe, expect, it } from 'vitest';
import { binding, MSG_CTRUNC, MSG_TRUNC } from '../src/binding.js';
import { checkMsg, decodeError, decodeRecord, encode, encodeError, extOffset, nameBytes, recordParts } from '../src/codec.js';
import { EXT, EXT_ERROR, MAX_COALESCE, MP_IGN, MP_MSG, MP_REP, MP_REQ, RECORD, RX_FD_OVERFLOW, WIRE } from '../src/layout.js';

const TRUNC = MSG_TRUNC | MSG_CTRUNC;

/** A receive record as the native side fills it, around a datagram. */
function record(data: Uint8Array, o: { len?: number; flags?: number; fds?: number[]; uid?: number; path?: string } = {}): { u8: Uint8Array; dv: DataView } {
  const u8 = new Uint8Array(RECORD.size);
  const dv = new DataView(u8.buffer);
  dv.setInt32(RECORD.len, o.len ?? data.byteLength, true);
  dv.setInt32(RECORD.flags, o.flags ?? 0, true);
  dv.setInt32(RECORD.pid, 1234, true);
  dv.setInt32(RECORD.uid, o.uid ?? 0, true);
  const fds = o.fds ?? [];
  dv.setInt32(RECORD.nfds, fds.length, true);
  fds.forEach((fd, i) => dv.setInt32(RECORD.fds + 4 * i, fd, true));
  const path = Buffer.from(o.path ?? '/run/x/mp_socket');
  dv.setInt32(RECORD.pathLen, path.byteLength, true);
  u8.set(path, RECORD.path);
  u8.set(data.subarray(0, Math.min(data.byteLength, WIRE.size)), RECORD.data);
  return { u8, dv };
}

function datagram(type: number, name: string, param: Uint8Array, numFds = 0, ext: { id: number; flags: number } | null = null): Uint8Array {
  const out = new Uint8Array(WIRE.size);
  encode(out, new DataView(out.buffer), type, nameBytes(name), param, numFds, ext);
  return out;
}

describe('layout', () => {
  it('the compiler agrees with layout.ts (DPDK 22.11 struct mp_msg_internal)', () => {
    expect(binding.layout).toMatchObject({ sizeofMsgInternal: 364, sizeofRteMpMsg: 360, wireSize: 332, offType: 0, offName: 4, offLenParam: 68, offNumFds: 72, offParam: 76, offFds: 332 });
  });
});

describe.each([
  ['short name, short param: extension after the name', 'act', 10, WIRE.name + 64 - EXT.size],
  ['51-byte name: still after the name', 'n'.repeat(51), 256, WIRE.name + 64 - EXT.size],
  ['52-byte name, 244-byte param: after the param', 'n'.repeat(52), 244, WIRE.param + 256 - EXT.size],
  ['63-byte name, 245-byte param: no room, plain DPDK', 'n'.repeat(63), 245, -1],
])('encode/decode round trip — %s', (_label, name, plen, extAt) => {
  it.each([MP_MSG, MP_REQ, MP_REP, MP_IGN])('type %i', (type) => {
    const param = Uint8Array.from({ length: plen }, (_, i) => (i * 7) & 0xff);
    expect(extOffset(Buffer.byteLength(name), plen)).toBe(extAt);
    const d = decodeRecord(...Object.values(record(datagram(type, name, param, 0, { id: 0xdeadbeef, flags: EXT_ERROR }))) as [Uint8Array, DataView], 0, TRUNC);
    expect(d).toMatchObject({ ok: true, type, name, param, fds: [], pid: 1234, uid: 0, path: '/run/x/mp_socket' });
    if (!d.ok) return;
    expect(d.ext).toEqual(extAt < 0 ? null : { id: 0xdeadbeef, flags: EXT_ERROR });
    // What DPDK reads: the name up to its NUL and len_param bytes of param — unchanged by the extension.
    const raw = datagram(type, name, param, 0, { id: 7, flags: 1 });
    const dv = new DataView(raw.buffer);
    expect(Buffer.from(raw.subarray(WIRE.name, WIRE.name + 64)).toString('latin1').split('\0')[0]).toBe(name);
    expect(dv.getInt32(WIRE.lenParam, true)).toBe(plen);
    expect(raw.subarray(WIRE.param, WIRE.param + plen)).toEqual(param);
  });
});

describe('decode drops every malformed datagram with a reason', () => {
  const good = datagram(MP_MSG, 'ok', new Uint8Array(4));
  const mutate = (f: (dv: DataView, u8: Uint8Array) => void): Uint8Array => {
    const c = good.slice();
    f(new DataView(c.buffer), c);
    return c;
  };
  it.each<[string, Uint8Array, Parameters<typeof record>[1], RegExp]>([
    ['short', good.subarray(0, 100), {}, /length 100/],
    ['oversize', good, { len: 400, flags: MSG_TRUNC }, /length 400/],
    ['truncated control', good, { flags: MSG_CTRUNC }, /truncated/],
    ['more than 8 fds', good, { flags: RX_FD_OVERFLOW, fds: [3, 4, 5, 6, 7, 8, 9, 10] }, /more than 8/],
    ['type 4', mutate((dv) => dv.setInt32(WIRE.type, 4, true)), {}, /type 4/],
    ['type -1', mutate((dv) => dv.setInt32(WIRE.type, -1, true)), {}, /type -1/],
    ['empty name', mutate((_dv, u8) => u8.fill(0, WIRE.name, WIRE.name + 64)), {}, /empty name/],
    ['name without NUL', mutate((_dv, u8) => u8.fill(0x61, WIRE.name, WIRE.name + 64)), {}, /NUL/],
    ['name with a slash', mutate((_dv, u8) => u8.set([0x61, 0x2f, 0x62], WIRE.name)), {}, /forbidden/],
    ['name with ..', mutate((_dv, u8) => u8.set([0x2e, 0x2e], WIRE.name)), {}, /forbidden/],
    ['name not UTF-8', mutate((_dv, u8) => u8.set([0xff, 0xfe], WIRE.name)), {}, /UTF-8/],
    ['len_param 257', mutate((dv) => dv.setInt32(WIRE.lenParam, 257, true)), {}, /len_param 257/],
    ['len_param -1', mutate((dv) => dv.setInt32(WIRE.lenParam, -1, true)), {}, /len_param -1/],
    ['num_fds 9', mutate((dv) => dv.setInt32(WIRE.numFds, 9, true)), {}, /num_fds 9/],
    ['num_fds 2, one fd came', mutate((dv) => dv.setInt32(WIRE.numFds, 2, true)), { fds: [5] }, /num_fds 2 but 1/],
    ['num_fds 0, one fd came', good, { fds: [5] }, /num_fds 0 but 1/],
  ])('%s', (_label, data, o, reason) => {
    const r = record(data, o);
    const d = decodeRecord(r.u8, r.dv, 0, TRUNC);
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.reason).toMatch(reason);
      expect(d.fds).toEqual(o?.fds ?? []); // handed back so the caller closes them
    }
  });
});

describe('coalesced datagrams (k × 332 bytes, the tail in the spill area)', () => {
  /** One record holding `parts` (each a 332-byte datagram), as the native side lays it out. */
  function coalesced(parts: Uint8Array[], o: { fds?: number[]; flags?: number } = {}): { u8: Uint8Array; dv: DataView } {
    const spill = RECORD.size;
    const u8 = new Uint8Array(RECORD.size + (MAX_COALESCE - 1) * WIRE.size);
    const dv = new DataView(u8.buffer);
    const r = record(parts[0]!, { len: parts.length * WIRE.size, ...o });
    u8.set(r.u8);
    dv.setInt32(RECORD.spill, spill, true);
    parts.slice(1).forEach((p, i) => u8.set(p, spill + i * WIRE.size));
    return { u8, dv };
  }
  const msg = (i: number): Uint8Array => datagram(MP_MSG, `m${i}`, new Uint8Array([i]), 0, { id: 0, flags: 0 });

  it('decodes into its messages, in order', () => {
    const parts = Array.from({ length: MAX_COALESCE }, (_, i) => msg(i));
    const { u8, dv } = coalesced(parts);
    expect(recordParts(dv, 0, TRUNC)).toBe(MAX_COALESCE);
    for (let j = 0; j < MAX_COALESCE; j++) {
      expect(decodeRecord(u8, dv, 0, TRUNC, j)).toMatchObject({ ok: true, type: MP_MSG, name: `m${j}`, param: new Uint8Array([j]), fds: [] });
    }
  });

  it.each<[string, () => { u8: Uint8Array; dv: DataView }, RegExp]>([
    ['with descriptors', () => coalesced([msg(0), msg(1)], { fds: [5] }), /length 664/],
    ['truncated', () => coalesced([msg(0), msg(1)], { flags: MSG_TRUNC }), /length 664/],
    ['more than MAX_COALESCE', () => record(msg(0), { len: (MAX_COALESCE + 1) * WIRE.size }), /length/],
    ['no spill', () => record(msg(0), { len: 2 * WIRE.size }), /length 664/],
  ])('is one bad datagram when %s', (_l, make, reason) => {
    const { u8, dv } = make();
    expect(recordParts(dv, 0, TRUNC)).toBe(1);
    const d = decodeRecord(u8, dv, 0, TRUNC);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toMatch(reason);
  });

  it('holds one-way messages only', () => {
    const { u8, dv } = coalesced([msg(0), datagram(MP_REQ, 'r', new Uint8Array(0))]);
    expect(decodeRecord(u8, dv, 0, TRUNC, 0).ok).toBe(true);
    expect(decodeRecord(u8, dv, 0, TRUNC, 1)).toMatchObject({ ok: false, reason: expect.stringMatching(/only MSG/) });
  });
});

describe('checkMsg: DPDK codes', () => {
  it.each<[string, unknown, string]>([
    ['not an object', 'x', 'EINVAL'],
    ['empty name', { name: '' }, 'EINVAL'],
    ['64-byte name', { name: 'a'.repeat(64) }, 'E2BIG'],
    ['64-byte UTF-8 name', { name: 'é'.repeat(32) }, 'E2BIG'],
    ['slash', { name: 'a/b' }, 'EINVAL'],
    ['NUL', { name: 'a\0b' }, 'EINVAL'],
    ['param 257', { name: 'a', param: new Uint8Array(257) }, 'E2BIG'],
    ['param a string', { name: 'a', param: 'x' }, 'EINVAL'],
    ['9 fds', { name: 'a', fds: [1, 2, 3, 4, 5, 6, 7, 8, 9] }, 'E2BIG'],
    ['fd -1', { name: 'a', fds: [-1] }, 'EINVAL'],
    ['fd 1.5', { name: 'a', fds: [1.5] }, 'EINVAL'],
  ])('%s → %s', (_l, msg, code) => {
    expect(() => checkMsg(msg)).toThrow(expect.objectContaining({ code }));
  });
  it('accepts the limits: 63-byte name, 256-byte param, 8 fds', () => {
    expect(() => checkMsg({ name: 'a'.repeat(63), param: new Uint8Array(256), fds: [0, 1, 2, 3, 4, 5, 6, 7] })).not.toThrow();
  });
});

describe('error reply param', () => {
  it('code NUL message, cut to fit', () => {
    expect(decodeError(encodeError('EPERM', 'no', 256))).toEqual({ code: 'EPERM', message: 'no' });
    const long = encodeError('EIO', 'x'.repeat(1000), EXT.paramRoomMax);
    expect(long.byteLength).toBe(EXT.paramRoomMax);
    expect(decodeError(long).code).toBe('EIO');
  });
});
