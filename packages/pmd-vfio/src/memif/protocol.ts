/**
 * Encode and decode memif 2.0 control messages (layout.ts). Pure functions over byte arrays: the
 * decoder never throws on hostile input, it returns a reason instead (the reason is what goes into
 * the DISCONNECT we answer with).
 */
import { MSG, MSG_SIZE, NAME_SIZE, OFF, REASON_SIZE, SECRET_SIZE, ADD_RING_FLAG_C2S } from './layout.js';

export interface HelloMsg {
  type: 'hello';
  name: string;
  minVersion: number;
  maxVersion: number;
  maxRegion: number;
  maxS2cRing: number;
  maxC2sRing: number;
  maxLog2RingSize: number;
}
export interface InitMsg {
  type: 'init';
  version: number;
  id: number;
  mode: number;
  /** The secret's bytes up to its first NUL (latin1, so every byte maps to one char). */
  secret: string;
  name: string;
}
export interface AddRegionMsg {
  type: 'add-region';
  index: number;
  size: number;
}
export interface AddRingMsg {
  type: 'add-ring';
  /** Client → server (flag C2S); false: server → client. */
  c2s: boolean;
  index: number;
  region: number;
  offset: number;
  log2RingSize: number;
  privateHdrSize: number;
}
export interface ConnectMsg {
  type: 'connect' | 'connected';
  ifName: string;
}
export interface DisconnectMsg {
  type: 'disconnect';
  code: number;
  reason: string;
}
export interface AckMsg {
  type: 'ack';
}
/** A memif control message. */
export type MemifMsg = AckMsg | HelloMsg | InitMsg | AddRegionMsg | AddRingMsg | ConnectMsg | DisconnectMsg;

export type Decoded = { ok: true; msg: MemifMsg } | { ok: false; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: false });
const latin1 = new TextDecoder('latin1');
const encoder = new TextEncoder();

/** The NUL-terminated string in bytes [off, off + size). */
function str(b: Uint8Array, off: number, size: number, dec: { decode(b: Uint8Array): string } = utf8): string {
  let end = off;
  while (end < off + size && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

/** strlcpy: at most size - 1 bytes, NUL-padded. Latin1 for the secret (byte identity). */
function putStr(b: Uint8Array, off: number, size: number, s: string, bytes = false): void {
  b.fill(0, off, off + size);
  const src = bytes ? Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff) : encoder.encode(s);
  b.set(src.subarray(0, size - 1), off);
}

/**
 * Decode one received control packet: `len` is its real length (recvmsg with MSG_TRUNC), `b` holds at
 * least its first min(len, 128) bytes. Never throws.
 */
export function decode(b: Uint8Array, len: number): Decoded {
  if (len !== MSG_SIZE || b.byteLength < MSG_SIZE) return { ok: false, reason: 'Invalid message size' };
  const v = new DataView(b.buffer, b.byteOffset, MSG_SIZE);
  const type = v.getUint16(OFF.type, true);
  switch (type) {
    case MSG.ACK:
      return { ok: true, msg: { type: 'ack' } };
    case MSG.HELLO:
      return {
        ok: true,
        msg: {
          type: 'hello',
          name: str(b, OFF.helloName, NAME_SIZE),
          minVersion: v.getUint16(OFF.helloMinVersion, true),
          maxVersion: v.getUint16(OFF.helloMaxVersion, true),
          maxRegion: v.getUint16(OFF.helloMaxRegion, true),
          maxS2cRing: v.getUint16(OFF.helloMaxS2c, true),
          maxC2sRing: v.getUint16(OFF.helloMaxC2s, true),
          maxLog2RingSize: v.getUint8(OFF.helloMaxLog2),
        },
      };
    case MSG.INIT:
      return {
        ok: true,
        msg: {
          type: 'init',
          version: v.getUint16(OFF.initVersion, true),
          id: v.getUint32(OFF.initId, true),
          mode: v.getUint8(OFF.initMode),
          secret: str(b, OFF.initSecret, SECRET_SIZE, latin1),
          name: str(b, OFF.initName, NAME_SIZE),
        },
      };
    case MSG.ADD_REGION: {
      const size = v.getBigUint64(OFF.regionSize, true);
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'Invalid region size' };
      return { ok: true, msg: { type: 'add-region', index: v.getUint16(OFF.regionIndex, true), size: Number(size) } };
    }
    case MSG.ADD_RING: {
      const flags = v.getUint16(OFF.ringFlags, true);
      return {
        ok: true,
        msg: {
          type: 'add-ring',
          c2s: (flags & ADD_RING_FLAG_C2S) !== 0,
          index: v.getUint16(OFF.ringIndex, true),
          region: v.getUint16(OFF.ringRegion, true),
          offset: v.getUint32(OFF.ringOffset, true),
          log2RingSize: v.getUint8(OFF.ringLog2),
          privateHdrSize: v.getUint16(OFF.ringPrivHdr, true),
        },
      };
    }
    case MSG.CONNECT:
    case MSG.CONNECTED:
      return { ok: true, msg: { type: type === MSG.CONNECT ? 'connect' : 'connected', ifName: str(b, OFF.ifName, NAME_SIZE) } };
    case MSG.DISCONNECT:
      return { ok: true, msg: { type: 'disconnect', code: v.getUint32(OFF.discCode, true), reason: str(b, OFF.discString, REASON_SIZE) } };
    default:
      return { ok: false, reason: 'Unknown message type' };
  }
}

/** Encode `m` into a fresh (or the given) 128-byte packet. Strings are cut as strlcpy cuts them. */
export function encode(m: MemifMsg, out: Uint8Array = new Uint8Array(MSG_SIZE)): Uint8Array {
  out.fill(0, 0, MSG_SIZE);
  const v = new DataView(out.buffer, out.byteOffset, MSG_SIZE);
  switch (m.type) {
    case 'ack':
      v.setUint16(OFF.type, MSG.ACK, true);
      break;
    case 'hello':
      v.setUint16(OFF.type, MSG.HELLO, true);
      putStr(out, OFF.helloName, NAME_SIZE, m.name);
      v.setUint16(OFF.helloMinVersion, m.minVersion, true);
      v.setUint16(OFF.helloMaxVersion, m.maxVersion, true);
      v.setUint16(OFF.helloMaxRegion, m.maxRegion, true);
      v.setUint16(OFF.helloMaxS2c, m.maxS2cRing, true);
      v.setUint16(OFF.helloMaxC2s, m.maxC2sRing, true);
      v.setUint8(OFF.helloMaxLog2, m.maxLog2RingSize);
      break;
    case 'init':
      v.setUint16(OFF.type, MSG.INIT, true);
      v.setUint16(OFF.initVersion, m.version, true);
      v.setUint32(OFF.initId, m.id, true);
      v.setUint8(OFF.initMode, m.mode);
      putStr(out, OFF.initSecret, SECRET_SIZE, m.secret, true);
      putStr(out, OFF.initName, NAME_SIZE, m.name);
      break;
    case 'add-region':
      v.setUint16(OFF.type, MSG.ADD_REGION, true);
      v.setUint16(OFF.regionIndex, m.index, true);
      v.setBigUint64(OFF.regionSize, BigInt(m.size), true);
      break;
    case 'add-ring':
      v.setUint16(OFF.type, MSG.ADD_RING, true);
      v.setUint16(OFF.ringFlags, m.c2s ? ADD_RING_FLAG_C2S : 0, true);
      v.setUint16(OFF.ringIndex, m.index, true);
      v.setUint16(OFF.ringRegion, m.region, true);
      v.setUint32(OFF.ringOffset, m.offset, true);
      v.setUint8(OFF.ringLog2, m.log2RingSize);
      v.setUint16(OFF.ringPrivHdr, m.privateHdrSize, true);
      break;
    case 'connect':
    case 'connected':
      v.setUint16(OFF.type, m.type === 'connect' ? MSG.CONNECT : MSG.CONNECTED, true);
      putStr(out, OFF.ifName, NAME_SIZE, m.ifName);
      break;
    case 'disconnect':
      v.setUint16(OFF.type, MSG.DISCONNECT, true);
      v.setUint32(OFF.discCode, m.code, true);
      putStr(out, OFF.discString, REASON_SIZE, m.reason);
      break;
  }
  return out;
}
