/**
 * streamToRing's progress record: what it has put into its ring, kept in a small file so that a bridge
 * SIGKILLed and restarted enqueues nothing twice.
 *
 * Why a file: the consumer's ack floor lags the ring (a message is acked after its enqueue, and the ack
 * may never reach the server), and the ring keeps no record of who enqueued what. The record is written
 * with one `pwrite` before each enqueue; a process kill does not lose a completed write (the page cache
 * belongs to the kernel), so the record is always at least as new as the ring.
 *
 * The file lives in `stateDir` (default `<os.tmpdir()>/mp-bridge-nats-<uid>`, made 0700; the group's
 * runtime directory is not ours to write in) and is deleted by a clean `close()` (the server then has
 * every ack, and the ack floor says it all).
 * ```
 * <stateDir>/<file prefix>.<stream>.<durable>.<ring>.json   (one JSON object, padded with spaces)
 * | field    | meaning                                                                          |
 * | v        | 1                                                                                |
 * | consumer | the durable consumer's creation time: a record of another consumer is ignored      |
 * | next     | { <subject>: the next source sequence expected } — every message before it is in the ring |
 * | intent   | { subject, seq, count, pos } — the message being enqueued: its first element goes at the   |
 * |          | ring's producer position `pos` (written only on a single-producer ring)           |
 * ```
 * After a restart (the ring's producer side recovered first): the ring's producer tail is `pos` (the
 * enqueue did not happen) or `pos + count` (it did; `next` moves past it). A single-producer ring has no
 * other producer, so nothing else moves that tail. On other rings the bridge cannot tell, so `next` is
 * written after each enqueue instead, and a kill between the two re-enqueues that one message.
 */
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MpError } from '@mp/memory';

/** The message being enqueued. */
export interface Intent {
  subject: string;
  seq: number;
  count: number;
  pos: number;
}

interface RecordV1 {
  v: 1;
  consumer: string;
  next: Record<string, number>;
  intent?: Intent;
}

/** The record file of one streamToRing (see the file comment). */
export class ProgressRecord {
  private readonly fd: number;
  private written = 0;
  private readonly enc = new TextEncoder();

  private constructor(readonly path: string, private readonly consumer: string, readonly found: RecordV1 | undefined) {
    closeSync(openSync(path, 'a'));
    this.fd = openSync(path, 'r+');
    this.written = fstatSync(this.fd).size;
  }

  /**
   * Open (creating) the record `<group>.<stream>.<durable>.<ring>` in `dir` (made 0700 when missing);
   * `found` is its content if it belongs to `consumer`.
   *
   * @throws {MpError} EPERM — `dir` is not a directory of ours (a link, another owner, group/world writable)
   */
  static open(dir: string | undefined, group: string, stream: string, durable: string, ring: string, consumer: string): ProgressRecord {
    const d = dir ?? join(tmpdir(), `mp-bridge-nats-${process.getuid?.() ?? 0}`);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const st = lstatSync(d);
    if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid) || (st.mode & 0o022) !== 0) {
      throw new MpError('EPERM', `bridge state dir ${d} must be a directory of uid ${process.getuid?.()} that only it can write (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)})`);
    }
    const path = join(d, `${group}.${stream}.${durable}.${ring}.json`);
    let found: RecordV1 | undefined;
    try {
      const r = JSON.parse(readFileSync(path, 'utf8')) as RecordV1;
      if (r.v === 1 && r.consumer === consumer && r.next !== null && typeof r.next === 'object') found = r;
    } catch {
      found = undefined; // none yet, or unreadable: the ack floor is all there is
    }
    return new ProgressRecord(path, consumer, found);
  }

  /** Replace the record (one pwrite at offset 0, padded over the previous content). */
  write(next: Map<string, number>, intent?: Intent): void {
    const rec: RecordV1 = { v: 1, consumer: this.consumer, next: Object.fromEntries(next), ...(intent ? { intent } : {}) };
    let bytes = this.enc.encode(JSON.stringify(rec));
    if (bytes.length < this.written) {
      const padded = new Uint8Array(this.written).fill(0x20);
      padded.set(bytes);
      bytes = padded;
    }
    writeSync(this.fd, bytes, 0, bytes.length, 0);
    this.written = bytes.length;
  }

  /** Close the file; `remove`: delete it too (a clean stop: the server has every ack). */
  close(remove: boolean): void {
    closeSync(this.fd);
    if (remove) rmSync(this.path, { force: true });
  }
}
