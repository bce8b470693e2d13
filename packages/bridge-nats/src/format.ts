/**
 * What a bridge writes into JetStream: the stream's record of its element format, and the headers of
 * every message. One message carries 1..`batch` consecutive ring elements, copied as the ring holds them.
 *
 * Stream record (checked by both ends; a mismatch is `EPROTO` naming both sizes):
 *   - description: `@mp/bridge-nats elemSize=<bytes> encoding=u32le` (every server version)
 *   - metadata `{ "mp.elemSize": "<bytes>", "mp.encoding": "u32le" }` (servers ≥ 2.10 only: 2.9 has no
 *     stream metadata; the description is what is read when both are present and disagree? never: both
 *     are written together, metadata is read first)
 *
 * Message (subject = the bridge's subject; payload = count × elemSize bytes):
 * ```
 * | header          | value                                                                   |
 * | Nats-Msg-Id     | <group>/<ring>/<seq>    JetStream de-duplicates republished batches on it |
 * | Mp-Seq          | seq: the source's sequence number of the first element (decimal, from 0) |
 * | Mp-Count        | elements in the payload                                                 |
 * | Mp-Pos          | the ring's consumer position (u32, free-running) of the first element   |
 * | Mp-Elem-Size    | bytes per element                                                       |
 * ```
 * The source's sequence numbers count the elements it has put into the stream: element k of a message
 * has seq `Mp-Seq + k`. They continue across restarts (a restarted bridge reads the last message of its
 * subject), so `<group>/<ring>/<seq>` names one batch for good.
 */
import { MpError } from '@mp/memory';
import { headers } from '@nats-io/transport-node';
import type { MsgHdrs } from '@nats-io/transport-node';
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';

/** The one element encoding: 32-bit words in little-endian order, as the ring stores them on x64/arm64. */
export const ENCODING = 'u32le';
export const H_SEQ = 'Mp-Seq';
export const H_COUNT = 'Mp-Count';
export const H_POS = 'Mp-Pos';
export const H_ELEM = 'Mp-Elem-Size';
const META_SIZE = 'mp.elemSize';
const META_ENC = 'mp.encoding';
const DESC_RE = /@mp\/bridge-nats elemSize=(\d+) encoding=(\S+)/;

/** The element format a stream records, or undefined when it records none. */
export function streamFormat(info: StreamInfo): { elemSize: number; encoding: string } | undefined {
  const md = info.config.metadata;
  if (md?.[META_SIZE] !== undefined) return { elemSize: Number(md[META_SIZE]), encoding: md[META_ENC] ?? '?' };
  const m = DESC_RE.exec(info.config.description ?? '');
  return m ? { elemSize: Number(m[1]), encoding: m[2]! } : undefined;
}

/** Stream options a bridge may create its stream with. */
export interface StreamCreateOptions {
  /** Create the stream when it does not exist (else `EINVAL`). Default false. */
  create?: boolean;
  /** Replicas of a created stream (the cluster size for fault tolerance); default 1. */
  replicas?: number;
  /** De-duplication window of a created stream in ms; default 120000 (JetStream's). */
  duplicateWindowMs?: number;
}

function serverAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const [a = 0, b = 0] = (version ?? '0.0').split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * Find stream `name` (creating it when asked) and check that it carries elements of `elemSize` bytes.
 *
 * @throws {MpError} EINVAL — no such stream and `create` not set
 * @throws {MpError} EPROTO — the stream records another element size or encoding, or none (not made by a bridge)
 */
export async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subject: string | undefined,
  elemSize: number,
  what: string,
  opts: StreamCreateOptions,
  serverVersion: string | undefined,
): Promise<StreamInfo> {
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if ((err as Error).name !== 'StreamNotFoundError') throw err;
  }
  if (info === undefined) {
    if (opts.create !== true) {
      throw new MpError('EINVAL', `stream '${name}' does not exist (pass create: true to make it)`);
    }
    if (subject === undefined) throw new MpError('EINVAL', `stream '${name}' does not exist and no subject was given to create it with`);
    const cfg: Parameters<JetStreamManager['streams']['add']>[0] = {
      name,
      subjects: [subject],
      description: `@mp/bridge-nats elemSize=${elemSize} encoding=${ENCODING}`,
      num_replicas: opts.replicas ?? 1,
      duplicate_window: (opts.duplicateWindowMs ?? 120_000) * 1_000_000,
    };
    if (serverAtLeast(serverVersion, 2, 10)) cfg.metadata = { [META_SIZE]: String(elemSize), [META_ENC]: ENCODING };
    try {
      info = await jsm.streams.add(cfg);
    } catch (err) {
      // Another bridge made it meanwhile: use theirs (checked below).
      if (!/already in use|already exists/i.test((err as Error).message)) throw err;
      info = await jsm.streams.info(name);
    }
  }
  const f = streamFormat(info);
  if (f === undefined) {
    throw new MpError('EPROTO', `stream '${name}' records no element format (it was not made by @mp/bridge-nats); ${what} has ${elemSize}-byte elements`);
  }
  if (f.elemSize !== elemSize || f.encoding !== ENCODING) {
    throw new MpError('EPROTO', `stream '${name}' carries ${f.elemSize}-byte elements (${f.encoding}) but ${what} has ${elemSize}-byte elements (${ENCODING})`);
  }
  return info;
}

/** Headers of one batch message. */
export function batchHeaders(seq: number, count: number, pos: number, elemSize: number): MsgHdrs {
  const h = headers();
  h.set(H_SEQ, String(seq));
  h.set(H_COUNT, String(count));
  h.set(H_POS, String(pos >>> 0));
  h.set(H_ELEM, String(elemSize));
  return h;
}

/** A batch message's numbers, or undefined when its headers are not a bridge's. */
export function readBatch(h: MsgHdrs | undefined): { seq: number; count: number; pos: number; elemSize: number } | undefined {
  if (h === undefined) return undefined;
  const seq = Number(h.get(H_SEQ));
  const count = Number(h.get(H_COUNT));
  const pos = Number(h.get(H_POS));
  const elemSize = Number(h.get(H_ELEM));
  if (!h.has(H_SEQ) || !Number.isSafeInteger(seq) || !Number.isInteger(count) || count < 1 || !Number.isInteger(pos) || !Number.isInteger(elemSize)) return undefined;
  return { seq, count, pos, elemSize };
}
