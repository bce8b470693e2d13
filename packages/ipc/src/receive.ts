/**
 * Receiving: the socket's batches (the binding's watch calls {@link Receiver.onBatch} with n
 * datagrams in `records`), decoding them, and the backlog — messages read while the event loop could
 * not handle them (a blocked send, requestSync), handled later in arrival order. With an inbox, the
 * socket mostly carries wake-ups and descriptor carriers, which are taken aside here.
 */
import { binding } from './binding.js';
import { errnoName } from './errors.js';
import { warnLimited } from './warn.js';
import { decodeRecord, recordParts } from './codec.js';
import type { Decoded } from './codec.js';
import type { Channel } from './channel.js';
import { MSG_CTRUNC, MSG_TRUNC } from './binding.js';
import { EXT_WAKE, FAST_EXT, FAST_OK, FAST_WAKE, MP_REP, RECORD, RECORDS_PER_BATCH, RECV_BUFFER_BYTES, WIRE } from './layout.js';

export const TRUNC = MSG_TRUNC | MSG_CTRUNC;

/** RECORD.fast of a reply the addon checked, carrying @mp's extension (a request id): matched without decoding. */
const FAST_REPLY = FAST_OK | FAST_EXT;

export function closeAll(fds: number[]): void {
  for (const fd of fds) binding.close(fd);
}

/** A receive buffer (records, then the spill area) and its views. */
export class RecordBuffer {
  readonly buffer = new ArrayBuffer(RECV_BUFFER_BYTES);
  readonly u8 = new Uint8Array(this.buffer);
  readonly dv = new DataView(this.buffer);
}

export class Receiver {
  /** Messages read but not handled yet, in arrival order. */
  readonly backlog: Decoded[] = [];
  private backlogScheduled = false;
  /** The watch's buffer (only its callback writes it) and the one for reads outside it. */
  readonly records = new RecordBuffer();
  readonly aside = new RecordBuffer();

  constructor(private readonly ch: Channel) {}

  /** The watch's callback: `n` datagrams in `records` (-errno: the read failed); returns the inbox's pubCount before its drain. */
  onBatch(n: number): number {
    const ch = this.ch;
    if (ch.isClosed) return 0;
    if (n < 0) {
      warnLimited(`recv ${n}`, `reading the IPC socket ${ch.path} failed: ${errnoName(n)}`);
      n = 0;
    }
    const owner = ch.owner;
    if (owner !== undefined) {
      const c0 = owner.inbox.pubCount();
      if (n > 0) this.takeSocket(this.records, n, false, false, true);
      // A full batch may have left datagrams queued: read on before any cell is drained (Inbox.beforeRead).
      while (n === RECORDS_PER_BATCH && !ch.isClosed) {
        n = this.readOwn(this.records);
        if (n > 0) this.takeSocket(this.records, n, false, false, true);
      }
      owner.drain();
      // Work left (a drain queued for later): a poll loop must call again at once, not wait for a publish.
      return owner.drainQueued ? (c0 - 1) | 0 : c0;
    }
    if (this.backlog.length > 0) {
      // Datagrams pulled off the socket earlier (during a requestSync or a blocked send) go first.
      this.toBacklog(this.records, n);
      this.runBacklog();
      return 0;
    }
    // Only this callback writes `records`, and it cannot re-enter: decode and handle one by one.
    const { u8, dv } = this.records;
    for (let i = 0; i < n && !ch.isClosed; i++) {
      const rec = i * RECORD.size;
      const k = recordParts(dv, rec, TRUNC);
      for (let j = 0; j < k && !ch.isClosed; j++) ch.handlers.handle(decodeRecord(u8, dv, rec, TRUNC, j));
    }
    return 0;
  }

  /** `n` datagrams of `b` into the backlog (carriers and wake-ups taken aside first). */
  private toBacklog(b: RecordBuffer, n: number): void {
    if (this.ch.owner !== undefined) {
      this.takeSocket(b, n, true);
      return;
    }
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      const k = recordParts(b.dv, rec, TRUNC);
      for (let j = 0; j < k; j++) this.backlog.push(decodeRecord(b.u8, b.dv, rec, TRUNC, j));
    }
  }

  /** Pull whatever is queued on our socket (and inbox) into the backlog (during a blocked send or requestSync). */
  drainToBacklog(): void {
    const owner = this.ch.owner;
    let n: number;
    // With an inbox: on while the reads come back full, before any cell is drained (Inbox.beforeRead).
    do {
      n = this.readOwn(this.aside);
      this.toBacklog(this.aside, n);
    } while (owner !== undefined && n === RECORDS_PER_BATCH);
    owner?.toBacklog();
    this.scheduleBacklog();
  }

  /**
   * One non-blocking read of our socket into `b`: the count (0: none; a failed read is logged, 0).
   * With an inbox, its readEpoch is advanced first (senders order datagrams against cells by it).
   */
  readOwn(b: RecordBuffer): number {
    this.ch.owner?.inbox.beforeRead();
    try {
      return binding.recv(this.ch.transport.fd, b.buffer, 0);
    } catch (err) {
      warnLimited('recv own', `reading the IPC socket ${this.ch.path} failed: ${(err as Error).message}`);
      return 0;
    }
  }

  /**
   * Socket datagrams when an inbox exists: carriers and wake-ups are taken here (all of a batch
   * first, so a record meets a carrier that came in the same batch); the rest are handled in order,
   * or queued (toBacklog, or a backlog is waiting: order is kept).
   */
  takeSocket(b: RecordBuffer, n: number, toBacklog: boolean, onlyReplies = false, drainFollows = false): void {
    // A reply may be settled as it is read when nothing read before it still waits to be handled.
    const ds = this.socketMessages(b, n, drainFollows, [], !toBacklog && (onlyReplies || this.backlog.length === 0));
    if (ds.length > 0) this.dispatch(ds, toBacklog, onlyReplies);
  }

  /**
   * The messages among `n` socket datagrams of `b` (with an inbox), in the order read: wake-ups and
   * carriers are taken aside. A message that came inline as a wake (EXT_WAKE) rang our doorbell: read
   * where no drain follows, it queues one (as a bare wake does), or the doorbell would stay rung.
   * replyNow: a reply with a request id that comes before any message of `ds` is settled here, from
   * the record (the addon checked it: RECORD.fast), without decoding it.
   */
  socketMessages(b: RecordBuffer, n: number, drainFollows: boolean, ds: Decoded[] = [], replyNow = false): Decoded[] {
    const owner = this.ch.owner!;
    const { u8, dv } = b;
    const uid = this.ch.uid;
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      const fast = dv.getInt32(rec + RECORD.fast, true);
      if ((fast & (FAST_WAKE | FAST_REPLY)) !== 0 && dv.getInt32(rec + RECORD.uid, true) === uid) {
        // The common datagram between inbox peers: no decoding needed.
        if (fast === FAST_WAKE) {
          if (!drainFollows) owner.queueDrain();
          continue;
        }
        // The usual datagram of a round trip between sleeping processes: the reply, inline.
        if ((fast & FAST_REPLY) === FAST_REPLY && replyNow && ds.length === 0 && dv.getInt32(rec + RECORD.data + WIRE.type, true) === MP_REP) {
          const xf = this.ch.requests.replyFromRecord(u8, dv, rec, fast);
          if (xf >= 0) {
            if ((xf & EXT_WAKE) !== 0) {
              this.ch.stats.inlineReceived++;
              if (!drainFollows) owner.queueDrain();
            }
            continue;
          }
        }
      }
      const k = recordParts(dv, rec, TRUNC);
      for (let j = 0; j < k; j++) {
        const d = decodeRecord(u8, dv, rec, TRUNC, j);
        if (owner.internalDatagram(d, drainFollows)) continue;
        if (d.ok && d.ext !== null && (d.ext.flags & EXT_WAKE) !== 0 && d.uid === uid) {
          this.ch.stats.inlineReceived++;
          if (!drainFollows) owner.queueDrain();
        }
        ds.push(d);
      }
    }
    return ds;
  }

  /** Handle decoded messages now, or queue them behind the backlog (toBacklog: always; onlyReplies: all but replies). */
  dispatch(ds: Decoded[], toBacklog: boolean, onlyReplies: boolean): void {
    if (ds.length === 0) return;
    if (onlyReplies) {
      for (const d of ds) {
        if (!this.ch.requests.takeWhileSync(d)) this.backlog.push(d);
      }
      return;
    }
    if (toBacklog || this.backlog.length > 0) {
      for (const d of ds) this.backlog.push(d);
      if (!toBacklog) this.runBacklog();
      return;
    }
    for (const d of ds) {
      if (this.ch.isClosed) {
        closeAll(d.fds);
        continue;
      }
      this.ch.handlers.handle(d);
    }
  }

  scheduleBacklog(): void {
    if (this.backlog.length === 0 || this.backlogScheduled) return;
    this.backlogScheduled = true;
    setImmediate(() => {
      this.backlogScheduled = false;
      this.runBacklog();
    });
  }

  private runBacklog(): void {
    while (this.backlog.length > 0 && !this.ch.isClosed) this.ch.handlers.handle(this.backlog.shift()!);
  }

  /** The channel closed: descriptors of what was never handled are closed. */
  close(): void {
    for (const d of this.backlog.splice(0)) closeAll(d.fds);
  }
}
