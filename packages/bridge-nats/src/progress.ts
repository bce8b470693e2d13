/**
 * streamToRing's progress record: what it has put into its ring, kept in a small file so that a bridge
 * SIGKILLed and restarted enqueues nothing twice.
 *
 * Why a file: the consumer's ack floor lags the ring (a message is acked after its enqueue, and the ack
 * may never reach the server), and the ring keeps no record of who enqueued what. The record is written
 * with one `pwrite`; a process kill does not lose a completed write (the page cache belongs to the kernel).
 *
 * The file lives in `stateDir` (default `<os.tmpdir()>/mp-bridge-nats-<uid>`, made 0700; the group's
 * runtime directory is not ours to write in) and is deleted by a clean `close()` (the server then has
 * every ack, and the ack floor says it all).
 * ```
 * <stateDir>/<file prefix>.<stream>.<durable>.<ring>.json   (one JSON object, padded with spaces)
 * | field    | meaning                                                                          |
 * | v        | 2 (1: the previous format, still read: `intent` instead of `anchor`)              |
 * | consumer | the durable consumer's creation time: a record of another consumer is ignored      |
 * | next     | { <subject>: the next source sequence expected } — every message before it is in the ring |
 * | anchor   | { subject, seq, pos } (single-producer ring only): the elements at the ring's producer  |
 * |          | positions pos, pos + 1, … up to its producer tail are `subject`'s seq, seq + 1, … in order |
 * ```
 * **Single-producer ring: the anchor.** The bridge is the ring's only producer, so only its enqueues move
 * the producer tail, and it enqueues each subject's elements in sequence order. It writes a record with a
 * new anchor before an enqueue that does not continue the current one — another subject, a sequence that
 * is not the anchor's next (a gap given up), the first enqueue after a start, or one that would take the
 * anchor 2^31 positions away (positions are u32) — and writes nothing before an enqueue that does. So
 * at every instant every element past the anchor's position is the anchor's subject's, contiguous from
 * its seq: after a restart (the ring's producer side recovered first: a reservation cut short by the kill
 * published nothing) the tail T says how many were enqueued since, and the anchor's subject's next is
 * `seq + (T − pos)`; the other subjects' next are in `next` (written when the anchor left them, after
 * their last enqueue). A kill before an enqueue leaves T where it was (nothing counted), after it T has
 * moved (counted): nothing is enqueued twice, nothing skipped. A steady single-subject flow therefore
 * writes the record once, not once per message.
 *
 * **Other rings** (`multi`, `hts`, `rts` producer sides: other producers move the tail too) cannot be
 * told apart that way: `next` is written after each enqueue, and a kill between the two re-enqueues
 * that one message (at-least-once for it).
 */
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MpError } from '@mp/memory';

/** Single-producer ring: the elements from producer position `pos` on are `subject`'s `seq`, `seq + 1`, … */
export interface Anchor {
  subject: string;
  seq: number;
  pos: number;
}

/** Positions past an anchor at most before a new one is written (u32 positions: differences stay unambiguous). */
export const ANCHOR_SPAN = 2 ** 31;

/** What a record holds, read back after a restart. */
export interface Found {
  next: Record<string, number>;
  anchor?: Anchor;
  /** Format 1: the one message being enqueued (its elements at `pos`, `count` of them). */
  intent?: Anchor & { count: number };
}

interface RecordV2 {
  v: 2;
  consumer: string;
  next: Record<string, number>;
  anchor?: Anchor;
}

/** The record file of one streamToRing (see the file comment). */
export class ProgressRecord {
  private readonly fd: number;
  private written = 0;
  private readonly enc = new TextEncoder();

  private constructor(readonly path: string, private readonly consumer: string, readonly found: Found | undefined) {
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
    let found: Found | undefined;
    try {
      const r = JSON.parse(readFileSync(path, 'utf8')) as { v: unknown; consumer: unknown; next: unknown; anchor?: Anchor; intent?: Anchor & { count: number } };
      if ((r.v === 1 || r.v === 2) && r.consumer === consumer && r.next !== null && typeof r.next === 'object') {
        found = { next: r.next as Record<string, number>, ...(r.v === 2 && r.anchor ? { anchor: r.anchor } : {}), ...(r.v === 1 && r.intent ? { intent: r.intent } : {}) };
      }
    } catch {
      found = undefined; // none yet, or unreadable: the ack floor is all there is
    }
    return new ProgressRecord(path, consumer, found);
  }

  /** Replace the record (one pwrite at offset 0, padded over the previous content). */
  write(next: Map<string, number>, anchor?: Anchor): void {
    const rec: RecordV2 = { v: 2, consumer: this.consumer, next: Object.fromEntries(next), ...(anchor ? { anchor } : {}) };
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
