/**
 * Receiving from this process's own inbox (the owner's half of inbox.ts's protocol): drain after
 * each wake-up (doorbell cleared first, so a later sender rings again), match records with the
 * descriptors their carrier datagrams brought, and look again at a cell whose claimer may have died.
 */
import { decodeRecord } from './codec.js';
import type { Decoded } from './codec.js';
import type { Channel } from './channel.js';
import type { Inbox } from './inbox.js';
import { CARRIER_ACTION, EXT_CARRIER, EXT_WAKE, INBOX, MP_MSG, RECORD, RECORDS_PER_BATCH, RX_INBOX_CARRIER, RX_INBOX_VOID, WAKE_ACTION, WIRE } from './layout.js';
import { RecordBuffer, TRUNC, closeAll } from './receive.js';
import { warnLimited } from './warn.js';

const NONE: Decoded[] = [];
/** Carriers held at most (senders that died between carrier and record leave theirs behind). */
const CARRIERS_MAX = 4096;
/** Drain passes per wake-up before I/O and timers get their turn. */
const DRAIN_ROUNDS = 16;
/** A drain stopped at a claimed, unpublished cell looks again after this long (its claimer may be dead). */
const STUCK_RETRY_MS = 2;
/** Socket reads a record's carrier is looked for in before its descriptors count as lost. */
const CARRIER_READS_MAX = 1024;

export class InboxOwner {
  /** Descriptors that came in carrier datagrams, by `${pid}:${tag}`, until their inbox record is read. */
  private readonly carriers = new Map<string, number[]>();
  private readonly inU8 = new Uint8Array(RECORDS_PER_BATCH * RECORD.size);
  private readonly inDv = new DataView(this.inU8.buffer);
  /** Socket reads while looking for a carrier (the other buffers may be mid-decode). */
  private readonly pull = new RecordBuffer();
  private queued = false;
  private stuckTimer = false;
  /** Cells the last take() took. */
  taken = 0;

  constructor(
    readonly inbox: Inbox,
    private readonly ch: Channel,
  ) {}

  /** A drain is queued (work left for the next turn of the loop). */
  get drainQueued(): boolean {
    return this.queued;
  }

  /** Descriptors received in carrier datagrams whose inbox records have not been read yet. */
  get carriersHeld(): number {
    return this.carriers.size;
  }

  /** Drain our inbox after a wake-up (doorbell cleared first: later senders ring again), handling in order. */
  drain(force = false): void {
    const ib = this.inbox;
    if (this.ch.isClosed) return;
    ib.clearDoorbell();
    // A record published after a pass ends finds the doorbell cleared and rings: a pass that comes
    // back short of a full batch is the last one needed.
    for (let round = 0; round < DRAIN_ROUNDS && !this.ch.isClosed; round++) {
      const ds = this.take(force);
      const taken = this.taken;
      this.ch.receiver.dispatch(ds, false, false);
      if (taken < RECORDS_PER_BATCH) {
        // Stopped at a claimed, unpublished cell: its claimer rings when it publishes — unless it
        // died first, so look again in 2 ms (the drain then asks whether it lives).
        if (ib.stuck && !this.stuckTimer) {
          this.stuckTimer = true;
          setTimeout(() => {
            this.stuckTimer = false;
            this.drain();
          }, STUCK_RETRY_MS).unref();
        }
        return;
      }
    }
    // More waiting: let I/O and timers run first (fairness), then come back.
    if (!this.ch.isClosed && ib.nonEmpty()) this.queueDrain();
  }

  queueDrain(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      this.drain();
    });
  }

  /** Everything in our inbox into the backlog (a blocked send, the end of a requestSync). */
  toBacklog(): void {
    // Doorbell first, as every drain: a wake datagram this process may never read (its sender met a
    // full socket queue, or it was read here with other datagrams) must not leave the doorbell rung.
    this.inbox.clearDoorbell();
    // At most one inbox's worth per call (senders keep filling it): the rest is drained later.
    for (let round = 0; round <= INBOX.capacity / RECORDS_PER_BATCH; round++) {
      const ds = this.take();
      for (const d of ds) this.ch.receiver.backlog.push(d);
      if (this.taken === 0) return;
    }
    this.queueDrain();
  }

  /**
   * Take up to one batch of records from our inbox, decoded (carriers' descriptors attached), in
   * order; then the messages a carrier's search read off the socket meanwhile (read after these
   * records were: they follow them). `taken` tells how many cells were taken.
   */
  take(force = false): Decoded[] {
    const n = this.inbox.drain(this.inU8, RECORDS_PER_BATCH, force);
    this.taken = n;
    if (n === 0) return NONE;
    this.ch.stats.inboxReceived += n;
    const ds: Decoded[] = [];
    const pulled: Decoded[] = [];
    const u8 = this.inU8;
    const dv = this.inDv;
    for (let i = 0; i < n; i++) {
      const rec = i * RECORD.size;
      const flags = dv.getInt32(rec + RECORD.flags, true);
      if ((flags & RX_INBOX_VOID) !== 0) continue; // a claim its sender could not fill
      // Descriptors are only ever the ones a carrier brought (a record's own nfds/fds would name
      // descriptors of *this* process); one 332-byte message per record.
      dv.setInt32(rec + RECORD.len, WIRE.size, true);
      dv.setInt32(rec + RECORD.flags, 0, true);
      dv.setInt32(rec + RECORD.nfds, 0, true);
      dv.setInt32(rec + RECORD.spill, -1, true);
      dv.setInt32(rec + RECORD.fast, 0, true); // checked in full by decodeRecord (never by the addon)
      if ((flags & RX_INBOX_CARRIER) !== 0) {
        const pid = dv.getInt32(rec + RECORD.pid, true);
        const tag = dv.getInt32(rec + RECORD.carrier, true);
        const fds = this.carrierOf(pid, tag, pulled) ?? [];
        dv.setInt32(rec + RECORD.nfds, fds.length, true);
        for (let f = 0; f < fds.length; f++) dv.setInt32(rec + RECORD.fds + 4 * f, fds[f]!, true);
      }
      // Not a datagram: a record from an inbox is never coalesced (part 0 only).
      ds.push(decodeRecord(u8, dv, rec, TRUNC, 0));
    }
    for (const d of pulled) ds.push(d);
    return ds;
  }

  /**
   * The descriptors of carrier `tag` from `pid`: already taken, or read off the socket now (it was
   * queued first; the messages read meanwhile go to `pulled`, in order).
   */
  private carrierOf(pid: number, tag: number, pulled: Decoded[]): number[] | undefined {
    const key = `${pid}:${tag}`;
    // After a read that came back full, read on before returning to the cells (Inbox.beforeRead).
    let full = false;
    for (let round = 0; round < CARRIER_READS_MAX; round++) {
      const fds = this.carriers.get(key);
      if (fds !== undefined && !full) {
        this.carriers.delete(key);
        return fds;
      }
      const n = this.ch.receiver.readOwn(this.pull);
      full = n === RECORDS_PER_BATCH;
      // Everything else read here follows the records of this take, in order.
      if (n > 0) this.ch.receiver.socketMessages(this.pull, n, false, pulled);
      else if (fds === undefined) break;
    }
    const fds = this.carriers.get(key);
    if (fds !== undefined) {
      this.carriers.delete(key);
      return fds;
    }
    warnLimited('carrier lost', `an inbox record from pid ${pid} lost its descriptors (carrier ${tag} not on the socket)`);
    return undefined;
  }

  /** An @mp-internal datagram (wake-up, descriptor carrier)? Carriers are kept for their records. */
  internalDatagram(d: Decoded, drainFollows: boolean): boolean {
    if (!d.ok || d.ext === null || (d.ext.flags & (EXT_WAKE | EXT_CARRIER)) === 0 || d.type !== MP_MSG) return false;
    if (d.uid !== this.ch.uid) return false; // handle() drops and logs it
    if ((d.ext.flags & EXT_CARRIER) !== 0 && d.name === CARRIER_ACTION) {
      const key = `${d.pid}:${d.ext.id}`;
      const old = this.carriers.get(key);
      if (old !== undefined) closeAll(old);
      if (this.carriers.size > CARRIERS_MAX) this.dropCarriers();
      this.carriers.set(key, d.fds);
      return true;
    }
    if ((d.ext.flags & EXT_WAKE) !== 0 && d.name === WAKE_ACTION) {
      closeAll(d.fds);
      // Read outside the watch (a blocked send, requestSync, a carrier pull): the doorbell is still
      // rung, so no sender will ring again — clear it and drain, soon.
      if (!drainFollows) this.queueDrain();
      return true;
    }
    return false;
  }

  private dropCarriers(): void {
    warnLimited('carriers', `${this.carriers.size} descriptor carriers never met their inbox records (senders died?): closed`);
    for (const fds of this.carriers.values()) closeAll(fds);
    this.carriers.clear();
  }

  /** A process of the group exited: its carriers go, and a cell it claimed and never published is skipped now. */
  forgetPid(pid: number): void {
    for (const [k, fds] of this.carriers) {
      if (k.startsWith(`${pid}:`)) {
        closeAll(fds);
        this.carriers.delete(k);
      }
    }
    setImmediate(() => this.drain(true));
  }

  close(): void {
    for (const fds of this.carriers.values()) closeAll(fds);
    this.carriers.clear();
    this.inbox.close();
  }
}
