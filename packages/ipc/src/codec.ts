/**
 * Encode and decode DPDK 22.11 rte_mp datagrams (see layout.ts). Pure functions over byte arrays: the
 * decoder never throws on hostile input, it returns a reason instead.
 */
import { MpError, validateName } from '@mp/memory';
import {
  EXT,
  EXT_ERROR,
  FAST_EXT,
  FAST_OK,
  MAX_COALESCE,
  MP_IGN,
  MP_MAX_FD_NUM,
  MP_MSG,
  MP_MAX_NAME_LEN,
  MP_MAX_PARAM_LEN,
  RECORD,
  RX_FD_OVERFLOW,
  WIRE,
  extCheck,
  SUN_PATH_MAX,
} from './layout.js';

/** A message: what `sendMsg`, `request` and `reply` take and what handlers receive. */
export interface MpMsg {
  /** Action name, 1..63 bytes of UTF-8 (RTE_MP_MAX_NAME_LEN - 1). */
  name: string;
  /** Up to 256 bytes (RTE_MP_MAX_PARAM_LEN). */
  param?: Uint8Array;
  /** Up to 8 file descriptors (RTE_MP_MAX_FD_NUM), passed with SCM_RIGHTS. */
  fds?: number[];
}

/** A received message: the receiver owns `fds` (new descriptors in this process; close them). */
export interface ReceivedMsg {
  name: string;
  param: Uint8Array;
  fds: number[];
}

const nameCache = new Map<string, Uint8Array>();
const encoder = new TextEncoder();

/**
 * Validate a message as DPDK's check_input does, plus @mp's name charset.
 *
 * @throws {MpError} EINVAL — not an object, empty name, forbidden character, param not a Uint8Array,
 *   fds not an array of descriptors
 * @throws {MpError} E2BIG — name ≥ 64 bytes, param > 256 bytes, more than 8 fds
 */
export function checkMsg(msg: unknown): { name: Uint8Array; param: Uint8Array; fds: number[] } {
  if (typeof msg !== 'object' || msg === null) throw new MpError('EINVAL', `a message must be an object { name, param?, fds? }, got ${msg === null ? 'null' : typeof msg}`);
  const m = msg as MpMsg;
  const name = nameBytes(m.name);
  const param = m.param ?? EMPTY;
  if (!(param instanceof Uint8Array)) throw new MpError('EINVAL', `msg.param must be a Uint8Array (got ${typeof param})`);
  if (param.byteLength > MP_MAX_PARAM_LEN) {
    throw new MpError('E2BIG', `msg.param is ${param.byteLength} bytes (at most ${MP_MAX_PARAM_LEN}, RTE_MP_MAX_PARAM_LEN)`);
  }
  const fds = m.fds ?? NOFDS;
  if (!Array.isArray(fds)) throw new MpError('EINVAL', `msg.fds must be an array of file descriptors`);
  if (fds.length > MP_MAX_FD_NUM) throw new MpError('E2BIG', `msg.fds has ${fds.length} descriptors (at most ${MP_MAX_FD_NUM}, RTE_MP_MAX_FD_NUM)`);
  for (const fd of fds) {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new MpError('EINVAL', `msg.fds holds ${String(fd)}, not a file descriptor`);
  }
  return { name, param, fds };
}

const EMPTY = new Uint8Array(0);
const NOFDS: number[] = [];

/**
 * The UTF-8 bytes of a valid action name.
 *
 * @throws {MpError} EINVAL — not a string, empty, forbidden character (`/`, `\`, `..`, control)
 * @throws {MpError} E2BIG — 64 bytes or more (DPDK: RTE_MP_MAX_NAME_LEN including the NUL)
 */
export function nameBytes(name: unknown): Uint8Array {
  if (typeof name === 'string') {
    const hit = nameCache.get(name);
    if (hit) return hit;
  }
  if (typeof name !== 'string') throw new MpError('EINVAL', `action name must be a string, got ${typeof name}`);
  if (name.length === 0) throw new MpError('EINVAL', 'action name is empty');
  // A lone surrogate would be encoded as U+FFFD: two different names would become one action.
  if (/\p{Cs}/u.test(name)) throw new MpError('EINVAL', `action name '${name.replace(/\p{Cs}/gu, '?')}' holds a lone UTF-16 surrogate (not valid UTF-16)`);
  const bytes = encoder.encode(name);
  if (bytes.length >= MP_MAX_NAME_LEN) {
    throw new MpError('E2BIG', `action name '${name.slice(0, 40)}…' is ${bytes.length} bytes (at most ${MP_MAX_NAME_LEN - 1}, RTE_MP_MAX_NAME_LEN - 1)`);
  }
  validateName('action', name, MP_MAX_NAME_LEN - 1);
  if (nameCache.size > 4096) nameCache.clear();
  nameCache.set(name, bytes);
  return bytes;
}

/** The extension fields carried by a datagram (see layout.ts). */
export interface Ext {
  id: number;
  flags: number;
}

const ZERO_WIRE = new Uint8Array(WIRE.size);

/** Where the extension goes for a name of nameLen bytes and a param of paramLen bytes; -1: no room. */
export function extOffset(nameLen: number, paramLen: number): number {
  if (nameLen <= EXT.nameRoomMax) return WIRE.name + MP_MAX_NAME_LEN - EXT.size;
  if (paramLen <= EXT.paramRoomMax) return WIRE.param + MP_MAX_PARAM_LEN - EXT.size;
  return -1;
}

/**
 * Write a whole 332-byte datagram into `out` at byte `at` (WIRE.size bytes of zeroable scratch there).
 * Returns false when an extension was asked for but did not fit (the datagram is then plain DPDK).
 */
export function encode(out: Uint8Array, dv: DataView, type: number, name: Uint8Array, param: Uint8Array, numFds: number, ext: Ext | null, at = 0): boolean {
  out.set(ZERO_WIRE, at); // a copy: fill() is a runtime call, set() of a same-typed array a plain memmove
  dv.setInt32(at + WIRE.type, type, true);
  out.set(name, at + WIRE.name);
  dv.setInt32(at + WIRE.lenParam, param.byteLength, true);
  dv.setInt32(at + WIRE.numFds, numFds, true);
  out.set(param, at + WIRE.param);
  if (ext === null) return true;
  let off = extOffset(name.length, param.byteLength);
  if (off < 0) return false;
  off += at;
  dv.setUint32(off, EXT.magic, true);
  dv.setUint32(off + EXT.id, ext.id, true);
  dv.setUint16(off + EXT.flags, ext.flags, true);
  dv.setUint16(off + EXT.check, extCheck(ext.id, ext.flags), true);
  return true;
}

/** A decoded datagram, or why it was dropped. */
export type Decoded =
  | {
      ok: true;
      type: number;
      name: string;
      param: Uint8Array;
      fds: number[];
      ext: Ext | null;
      pid: number;
      uid: number;
      /** sender's socket path ('' for an unbound sender) */
      path: string;
    }
  | { ok: false; reason: string; fds: number[]; pid: number; uid: number; path: string };

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

// Most datagrams come from a few peers: keep the last path and compare bytes instead of decoding.
let lastPathBytes = new Uint8Array(0);
let lastPath = '';
/** The sender path of a record (`len` bytes at `at`), as a string (the last one is kept). */
export function pathOf(u8: Uint8Array, at: number, len: number): string {
  if (len === 0) return '';
  if (len === lastPathBytes.length) {
    let same = true;
    for (let i = len - 1; i >= 0; i--) {
      if (u8[at + i] !== lastPathBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastPath;
  }
  lastPathBytes = u8.slice(at, at + len);
  lastPath = Buffer.from(lastPathBytes.buffer, 0, len).toString('utf8');
  return lastPath;
}

/** A record's sender path length, clamped to sun_path. */
export function pathLenOf(dv: DataView, rec: number): number {
  return Math.min(Math.max(dv.getInt32(rec + RECORD.pathLen, true), 0), SUN_PATH_MAX);
}

// Action names checked by the addon (printable ASCII): a few recent ones kept as strings, found by their bytes.
const NAME_CACHE = 16;
const nameKeys: Uint8Array[] = [];
const nameVals: string[] = [];
let nameNext = 0;
function asciiName(u8: Uint8Array, at: number, len: number): string {
  for (let k = 0; k < nameKeys.length; k++) {
    const key = nameKeys[k]!;
    if (key.length !== len) continue;
    let i = 0;
    while (i < len && u8[at + i] === key[i]) i++;
    if (i === len) return nameVals[k]!;
  }
  const bytes = u8.slice(at, at + len);
  const name = String.fromCharCode.apply(null, bytes as unknown as number[]);
  nameKeys[nameNext] = bytes;
  nameVals[nameNext] = name;
  nameNext = (nameNext + 1) % NAME_CACHE;
  return name;
}

/**
 * A record whose datagram the addon checked (RECORD.fast has FAST_OK): every check of decodeRecord
 * held there (native/ipc.cc Classify), so this only reads the fields.
 */
function decodeChecked(u8: Uint8Array, dv: DataView, rec: number, fast: number): Decoded {
  const nfds = dv.getInt32(rec + RECORD.nfds, true);
  const fds: number[] = [];
  for (let i = 0; i < nfds; i++) fds.push(dv.getInt32(rec + RECORD.fds + 4 * i, true));
  const pid = dv.getInt32(rec + RECORD.pid, true);
  const uid = dv.getInt32(rec + RECORD.uid, true);
  const path = pathOf(u8, rec + RECORD.path, pathLenOf(dv, rec));
  const d = rec + RECORD.data;
  const type = dv.getInt32(d + WIRE.type, true);
  const nameLen = (fast >>> 8) & 0xff;
  const name = asciiName(u8, d + WIRE.name, nameLen);
  const lenParam = dv.getInt32(d + WIRE.lenParam, true);
  const param = u8.slice(d + WIRE.param, d + WIRE.param + lenParam);
  let ext: Ext | null = null;
  if ((fast & FAST_EXT) !== 0) {
    const at = d + extOffset(nameLen, lenParam);
    ext = { id: dv.getUint32(at + EXT.id, true), flags: dv.getUint16(at + EXT.flags, true) };
  }
  return { ok: true, type, name, param, fds, ext, pid, uid, path };
}

/**
 * How many messages the receive record at `rec` holds: k for a well-formed coalesced datagram (k × 332
 * bytes, 2 ≤ k ≤ MAX_COALESCE, no descriptors, not truncated, its tail in the spill area), else 1
 * (decodeRecord then accepts it only if it is one plain 332-byte datagram).
 */
export function recordParts(dv: DataView, rec: number, truncFlags: number): number {
  const len = dv.getInt32(rec + RECORD.len, true);
  if (len === WIRE.size || len % WIRE.size !== 0 || len > MAX_COALESCE * WIRE.size || len < 0) return 1;
  if (dv.getInt32(rec + RECORD.nfds, true) !== 0 || (dv.getInt32(rec + RECORD.flags, true) & (truncFlags | RX_FD_OVERFLOW)) !== 0) return 1;
  const spill = dv.getInt32(rec + RECORD.spill, true);
  return spill > 0 && spill + len - WIRE.size <= dv.byteLength ? len / WIRE.size : 1;
}

/**
 * Decode message `part` (0 ≤ part < recordParts) of the receive record at byte offset `rec` of
 * `u8`/`dv` (layout.ts RECORD). Never throws. Checks, in order: length exactly 332 (or a coalesced
 * datagram, whose parts must be type MSG without descriptors), no truncation, ≤ 8 fds, type 0..3, name
 * NUL-terminated, non-empty, UTF-8 and of the allowed charset, len_param 0..256, num_fds 0..8 and equal
 * to the number of descriptors that came. A record the addon checked already (RECORD.fast: FAST_OK)
 * is only read.
 */
export function decodeRecord(u8: Uint8Array, dv: DataView, rec: number, truncFlags: number, part = 0): Decoded {
  if (part === 0) {
    const fast = dv.getInt32(rec + RECORD.fast, true);
    if ((fast & FAST_OK) !== 0) return decodeChecked(u8, dv, rec, fast);
  }
  const nfds = part === 0 ? dv.getInt32(rec + RECORD.nfds, true) : 0;
  const fds: number[] = [];
  for (let i = 0; i < nfds && i < MP_MAX_FD_NUM; i++) fds.push(dv.getInt32(rec + RECORD.fds + 4 * i, true));
  const pid = dv.getInt32(rec + RECORD.pid, true);
  const uid = dv.getInt32(rec + RECORD.uid, true);
  const path = pathOf(u8, rec + RECORD.path, pathLenOf(dv, rec));
  const len = dv.getInt32(rec + RECORD.len, true);
  const flags = dv.getInt32(rec + RECORD.flags, true);
  let d = rec + RECORD.data;
  let type: number;
  if (len !== WIRE.size) {
    if (recordParts(dv, rec, truncFlags) === 1) return badRecord(fds, pid, uid, path, `length ${len} (a DPDK datagram is ${WIRE.size} bytes)`);
    if (part > 0) d = dv.getInt32(rec + RECORD.spill, true) + (part - 1) * WIRE.size;
    type = dv.getInt32(d + WIRE.type, true);
    if (type !== MP_MSG) return badRecord(fds, pid, uid, path, `type ${type} in a coalesced datagram (only MSG)`);
  } else {
    if (flags & RX_FD_OVERFLOW) return badRecord(fds, pid, uid, path, 'more than 8 file descriptors');
    if (flags & truncFlags) return badRecord(fds, pid, uid, path, 'truncated (MSG_TRUNC/MSG_CTRUNC)');
    type = dv.getInt32(d + WIRE.type, true);
    if (type < 0 || type > MP_IGN) return badRecord(fds, pid, uid, path, `type ${type}`);
  }
  let nameLen = -1;
  let ascii = true;
  for (let i = 0; i < MP_MAX_NAME_LEN; i++) {
    const c = u8[d + WIRE.name + i]!;
    if (c === 0) {
      nameLen = i;
      break;
    }
    if (c < 0x20 || c >= 0x7f || c === 0x2f || c === 0x5c) ascii = false;
  }
  if (nameLen < 0) return badRecord(fds, pid, uid, path, 'name not NUL-terminated');
  if (nameLen === 0) return badRecord(fds, pid, uid, path, 'empty name');
  const nb = u8.subarray(d + WIRE.name, d + WIRE.name + nameLen);
  let name: string;
  if (ascii) {
    name = String.fromCharCode.apply(null, nb as unknown as number[]);
    if (name.includes('..')) return badRecord(fds, pid, uid, path, 'forbidden name');
  } else {
    try {
      name = fatalUtf8.decode(nb);
      validateName('action', name, MP_MAX_NAME_LEN - 1);
    } catch {
      return badRecord(fds, pid, uid, path, 'forbidden or non-UTF-8 name');
    }
  }
  const lenParam = dv.getInt32(d + WIRE.lenParam, true);
  if (lenParam < 0 || lenParam > MP_MAX_PARAM_LEN) return badRecord(fds, pid, uid, path, `len_param ${lenParam}`);
  const numFds = dv.getInt32(d + WIRE.numFds, true);
  if (numFds < 0 || numFds > MP_MAX_FD_NUM) return badRecord(fds, pid, uid, path, `num_fds ${numFds}`);
  if (numFds !== fds.length) return badRecord(fds, pid, uid, path, `num_fds ${numFds} but ${fds.length} descriptors came`);
  const param = u8.slice(d + WIRE.param, d + WIRE.param + lenParam);
  let ext: Ext | null = null;
  const xo = extOffset(nameLen, lenParam);
  if (xo >= 0) {
    const at = d + xo;
    if (dv.getUint32(at, true) === EXT.magic) {
      const id = dv.getUint32(at + EXT.id, true);
      const xf = dv.getUint16(at + EXT.flags, true);
      if (dv.getUint16(at + EXT.check, true) === extCheck(id, xf)) ext = { id, flags: xf };
    }
  }
  return { ok: true, type, name, param, fds, ext, pid, uid, path };
}

/** A dropped record: why, and what it brought (its descriptors are closed by the caller). */
function badRecord(fds: number[], pid: number, uid: number, path: string, reason: string): Decoded {
  return { ok: false, reason, fds, pid, uid, path };
}

/** Param of an error reply: `code NUL message`, cut to `max` bytes. */
export function encodeError(code: string, message: string, max: number): Uint8Array {
  const b = Buffer.from(`${code}\0${message}`, 'utf8');
  return b.byteLength <= max ? new Uint8Array(b) : new Uint8Array(b.subarray(0, max));
}

export function decodeError(param: Uint8Array): { code: string; message: string } {
  const s = Buffer.from(param.buffer, param.byteOffset, param.byteLength).toString('utf8');
  const i = s.indexOf('\0');
  return i < 0 ? { code: 'EIO', message: s } : { code: s.slice(0, i), message: s.slice(i + 1) };
}

export { EXT_ERROR };
