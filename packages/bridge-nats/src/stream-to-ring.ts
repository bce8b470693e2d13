/**
 * streamToRing: a durable JetStream pull consumer that enqueues into a ring (as one of its producers)
 * and acks a message only after all its elements are in the ring.
 *
 * - Backpressure: at most `window` messages are fetched at a time (and the consumer's `max_ack_pending`
 *   is `window`); while the ring is full the bridge waits on it (futex, in the libuv pool) and tells the
 *   server it is still working on the message, so nothing is fetched, redelivered or dropped meanwhile.
 *   Memory stays bounded by `window × batch × elemSize` bytes whatever the backlog (defaults: 64 messages
 *   of up to 256 elements; 256 KiB for 16-byte elements).
 * - Duplicates: each message names its elements' source sequence numbers (`Mp-Seq`, `Mp-Count`). The
 *   bridge remembers, per source subject, the next sequence it expects and drops elements it has already
 *   enqueued — so a redelivery after a lost ack or a reconnect adds nothing twice. Across a restart the
 *   expectation comes from the progress record (progress.ts, a small file) and from the consumer's ack
 *   floor. On a ring whose producer side is `single` the record anchors a subject's sequence numbers to
 *   the ring's producer positions, written before any enqueue the anchor does not cover (a steady flow:
 *   once), so a bridge SIGKILLed anywhere and restarted enqueues nothing twice; on other rings (other
 *   producers may move the tail) the record is written after each enqueue, and a kill between the two
 *   re-enqueues that one message.
 */
import { EventEmitter } from 'node:events';
import { eal } from '@mp/eal';
import { MpError } from '@mp/memory';
import { FAULTS, faultPoint } from '@mp/memory/internal';
import type { Ring } from '@mp/ring';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Consumer, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Backoff, intOption, jetStreamSetup, nameOption, openConnection, sleep } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { ensureStream, readBatch } from './format.js';
import { ANCHOR_SPAN, ProgressRecord } from './progress.js';
import type { Anchor } from './progress.js';
import type { StreamCreateOptions } from './format.js';
import type { RingBridgeEvents } from './ring-to-stream.js';
import { emptyStats } from './stats.js';
import { traceHook, traceNow } from './trace.js';
import type { BridgeStats } from './stats.js';

/** Options of {@link streamToRing}. */
export interface StreamToRingOptions extends ConnectionOptions, StreamCreateOptions {
  /** The JetStream stream. */
  stream: string;
  /** The durable consumer's name (created when missing; its position survives bridge restarts). */
  durable: string;
  /** Only this subject of the stream (and, with `create`, the subject the stream is made with). */
  subject?: string;
  /**
   * Messages fetched and unacked at most at a time (the consumer's `max_ack_pending`, set when this call
   * creates the consumer); default 64. What waits in the bridge while its ring is full is bounded by
   * `window × batch × elemSize` bytes (the sender's batch: by default 64 × 256 × 16 B = 256 KiB for
   * 16-byte elements).
   */
  window?: number;
  /** Ack wait of a created consumer in ms (a message unacked that long is redelivered); default 10000. */
  ackWaitMs?: number;
  /**
   * Directory of the progress record (what this bridge has enqueued, read after a restart; deleted by a
   * clean close); default `<os.tmpdir()>/mp-bridge-nats-<uid>`, made 0700.
   */
  stateDir?: string;
}

/** A word of the ring's dump (`pt`, `ph`: producer tail and head), as a u32. */
function ringWord(ring: Ring, word: 'pt' | 'ph'): number {
  const m = new RegExp(`\\b${word}=(\\d+)`).exec(ring.dump());
  if (m === null) throw new MpError('EPROTO', `ring '${ring.name}': its dump has no ${word}`);
  return Number(m[1]) >>> 0;
}

/** Producer head minus tail (slots reserved by a producer and not published). */
function producerReserved(ring: Ring): number {
  return (ringWord(ring, 'ph') - ringWord(ring, 'pt')) >>> 0;
}

/** A running stream → ring bridge (see {@link streamToRing}). */
export class StreamToRing extends EventEmitter<RingBridgeEvents> {
  private readonly counters = emptyStats();
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  /** Per source subject: the next source sequence number expected. */
  private readonly next = new Map<string, number>();
  /** Per source subject: a gap in front of the messages delivered (the sequence expected, since when). */
  private readonly gaps = new Map<string, { expected: number; since: number }>();
  /** Per source subject: messages delivered ahead of a gap, by first sequence, held unacked until it closes. */
  private readonly held = new Map<string, Map<number, { m: JsMsg; seq: number; count: number }>>();
  private readonly words: number;
  private stopFetch: (() => void) | undefined;
  /** The ring's producer side is `single`: this bridge is its only producer (exactly-once across a restart). */
  private readonly single: boolean;
  /** Single producer: the ring's producer tail (where the next enqueue goes). */
  private prodPos = 0;
  private record: ProgressRecord | undefined;
  /** Messages whose elements are in the ring (or were already), not yet acked: flushAcks() sends them. */
  private readonly acks: JsMsg[] = [];
  /** Single producer: the anchor of the last record written (progress.ts); undefined until the first enqueue. */
  private anchor: Anchor | undefined;
  /** The benchmark's per-hop stamps (trace.ts), when asked for. */
  private readonly trace = traceHook();

  /** @internal use {@link streamToRing} */
  constructor(
    readonly ring: Ring,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly consumer: Consumer,
    private readonly o: { stream: string; durable: string; window: number; ackWaitMs: number; minBackoffMs: number; maxBackoffMs: number; stateDir: string | undefined },
  ) {
    super();
    this.words = ring.elemSize / 4;
    this.single = ring.producerMode === 'single';
    this.counters.connected = true;
    this.on('status', (s) => {
      if (s.status === 'disconnected' || s.status === 'closed') this.counters.connected = false;
      else if (s.status === 'connected' || s.status === 'reconnected') this.counters.connected = true;
    });
  }

  /** A copy of the counters. */
  stats(): BridgeStats {
    return { ...this.counters };
  }

  /** @internal */
  async start(): Promise<void> {
    const info = await this.consumer.info();
    if (this.single) {
      // A previous bridge SIGKILLed mid-enqueue left its reservation: roll it back (a single producer
      // side is rolled back once head and tail have stayed apart 100 ms: retry for a while).
      const deadline = Date.now() + 2000;
      while (producerReserved(this.ring) !== 0 && Date.now() < deadline) {
        this.ring.recover();
        if (producerReserved(this.ring) !== 0) await sleep(25);
      }
      this.prodPos = ringWord(this.ring, 'pt');
    }
    const floor = info.ack_floor.stream_seq;
    if (floor > 0) {
      const m = await this.jsm.streams.getMessage(this.o.stream, { seq: floor }).catch(() => null);
      const b = m === null ? undefined : readBatch(m.header);
      if (m !== null && b !== undefined) this.next.set(m.subject, b.seq + b.count);
    }
    this.record = ProgressRecord.open(this.o.stateDir, eal().filePrefix, this.o.stream, this.o.durable, this.ring.name, info.created);
    const rec = this.record.found;
    if (rec !== undefined) {
      const later = (subject: string, next: number): void => {
        if (next > (this.next.get(subject) ?? 0)) this.next.set(subject, next);
      };
      for (const [subject, next] of Object.entries(rec.next)) later(subject, next);
      const it = rec.anchor ?? rec.intent;
      if (it !== undefined && this.single) {
        // Every element enqueued since the anchor's position is the anchor's subject's, in order: the
        // tail says how many (format 1: the one message recorded, so 0 or all of it).
        const moved = (this.prodPos - it.pos) >>> 0;
        const max = rec.intent === undefined ? ANCHOR_SPAN : rec.intent.count;
        if (moved <= max && (rec.intent === undefined || moved === 0 || moved === max)) later(it.subject, it.seq + moved);
        else {
          this.emit('status', {
            status: 'error',
            error: new MpError('EPROTO', `ring '${this.ring.name}': its producer tail moved ${moved} elements since the position recorded (${max} at most): another producer? elements ${it.seq}.. of '${it.subject}' may arrive twice`),
          });
        }
      }
    }
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.o.minBackoffMs, this.o.maxBackoffMs);
    while (!this.stopped) {
      try {
        // consume(): pull requests stay outstanding (refilled before they run out), so a message stored
        // meanwhile is delivered at once, never waiting for the next fetch; the server sends at most
        // `window` unacked (max_ack_pending), which bounds what waits here while the ring is full.
        const iter = await this.consumer.consume({ max_messages: this.o.window, expires: 5000 });
        this.stopFetch = () => iter.stop();
        for await (const m of iter) {
          await this.deliver(m);
          backoff.reset();
          if (this.stopped) break;
        }
      } catch (err) {
        if (this.stopped) break;
        this.counters.retries++;
        this.emit('status', { status: 'error', error: err as Error });
        await sleep(backoff.next(), this.abort.signal);
      } finally {
        this.flushAcks();
        this.stopFetch = undefined;
      }
    }
  }

  /**
   * Ack `m` (its elements are in the ring, or were already) once the messages delivered in this
   * event-loop turn are handled: the client flushes its socket in a microtask after each send, so acks
   * sent one by one as the messages are handled cost one write each; queued and sent together from a
   * setImmediate (after this turn's I/O callbacks and their microtasks: every message read in this turn),
   * one write for all. (Flushing when the iterator's `getPending()` reached 0 stalled the bench for
   * seconds: that count keeps the status callbacks it has run in a batch, so it can stay above 0.)
   */
  private queueAck(m: JsMsg): void {
    if (this.acks.push(m) === 1) setImmediate(this.flushAcks);
  }

  /** Send the queued acks (also before a full-ring wait and when the loop ends). */
  private readonly flushAcks = (): void => {
    for (const m of this.acks) m.ack();
    this.acks.length = 0;
  };

  private async deliver(m: JsMsg): Promise<void> {
    const b = readBatch(m.headers);
    const elemSize = this.ring.elemSize;
    if (b === undefined || b.elemSize !== elemSize || m.data.length !== b.count * elemSize) {
      // Not a bridge's batch, or of another format: it can never be enqueued; drop it for good, loudly.
      m.term();
      this.emit('status', {
        status: 'error',
        error: new MpError('EPROTO', `stream '${this.o.stream}' message ${m.seq} is not a batch of ${elemSize}-byte elements (${b === undefined ? 'no Mp-* headers' : `${b.elemSize}-byte elements, ${m.data.length} bytes`}); dropped`),
      });
      return;
    }
    if (this.trace !== undefined) this.trace('deliver', b.seq, traceNow(), Number(m.info.timestampNanos) / 1e6);
    this.counters.published += b.count;
    if (m.redelivered) this.counters.redelivered += b.count;
    const expected = this.next.get(m.subject);
    if (expected !== undefined && b.seq > expected) {
      // Elements before this message are not in the ring yet: they are pending elsewhere (delivered to a
      // bridge that died; the server redelivers them after the ack wait). Hold this one (unacked: at most
      // `window` are, so memory stays bounded) until they come — for up to twice the ack wait (the held
      // messages' own redeliveries bring us back here); after that the stream no longer holds them (its
      // limits removed them): say so and go on in order.
      let held = this.held.get(m.subject);
      if (held === undefined) this.held.set(m.subject, (held = new Map()));
      held.set(b.seq, { m, seq: b.seq, count: b.count });
      this.counters.waits++;
      const now = Date.now();
      const gap = this.gaps.get(m.subject);
      if (gap === undefined || gap.expected !== expected) {
        this.gaps.set(m.subject, { expected, since: now });
        return;
      }
      if (now - gap.since <= 2 * this.o.ackWaitMs) return;
      const first = Math.min(...held.keys());
      this.emit('status', {
        status: 'error',
        error: new MpError('EPROTO', `stream '${this.o.stream}' subject '${m.subject}': elements ${expected}..${first - 1} are missing (the stream no longer holds them)`),
      });
      this.next.set(m.subject, first);
    } else {
      await this.put(m, b.seq, b.count);
    }
    // The gap closed (or was given up): what was held follows, in order.
    const held = this.held.get(m.subject);
    while (held !== undefined && held.size > 0 && !this.stopped) {
      const first = Math.min(...held.keys());
      if (first > this.next.get(m.subject)!) break;
      const h = held.get(first)!;
      held.delete(first);
      await this.put(h.m, h.seq, h.count);
    }
  }

  /** Enqueue message `m` (elements `seq`..) whole, less what the ring already has, then ack it. */
  private async put(m: JsMsg, seq: number, count: number): Promise<void> {
    const elemSize = this.ring.elemSize;
    const expected = this.next.get(m.subject);
    const skip = expected === undefined ? 0 : Math.max(0, Math.min(count, expected - seq));
    if (skip === count) {
      this.counters.duplicates += count;
      this.queueAck(m);
      return;
    }
    this.counters.duplicates += skip;
    const n = count - skip;
    // The payload as the ring's words: a view when it is 4-byte aligned in the client's read buffer (a
    // message's data is never reused by the client), else a copy.
    const at = m.data.byteOffset + skip * elemSize;
    let data: Uint32Array;
    if (at % 4 === 0) data = new Uint32Array(m.data.buffer, at, n * this.words);
    else new Uint8Array((data = new Uint32Array(n * this.words)).buffer).set(m.data.subarray(skip * elemSize));
    this.counters.pending = n;
    if (this.single) {
      // Single producer: the record must cover this enqueue before it happens (progress.ts: the restart
      // reads the tail to tell how far the anchor's subject got). A continuing flow is covered already.
      const a = this.anchor;
      const q = seq + skip;
      if (a === undefined || a.subject !== m.subject || a.seq + ((this.prodPos - a.pos) >>> 0) !== q || ((this.prodPos + n - a.pos) >>> 0) >= ANCHOR_SPAN) {
        this.anchor = { subject: m.subject, seq: q, pos: this.prodPos };
        this.record!.write(this.next, this.anchor);
      }
    }
    if (FAULTS) faultPoint('stream-to-ring-recorded');
    let k = this.ring.enqueueBulk(data, n);
    while (k === 0) {
      // Full ring: wait for room, keep the message ours (working() restarts its ack wait), fetch nothing.
      this.flushAcks();
      this.counters.waits++;
      m.working();
      k = await this.ring.enqueueBulkAsync(data, n, { timeoutMs: Math.max(100, Math.min(1000, this.o.ackWaitMs / 4)) });
      if (k === 0 && this.stopped) {
        this.counters.pending = 0;
        return; // not acked: redelivered to the next bridge
      }
    }
    this.next.set(m.subject, seq + count);
    this.gaps.delete(m.subject);
    if (this.single) this.prodPos = (this.prodPos + n) >>> 0;
    else this.record!.write(this.next);
    if (FAULTS) faultPoint('stream-to-ring-enqueued');
    if (this.trace !== undefined) this.trace('enqueue', seq, traceNow());
    this.queueAck(m);
    this.counters.pending = 0;
    this.counters.acked += n;
    this.counters.messages++;
  }

  /** Stop fetching (a message being enqueued is finished or left unacked), then close the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.stopFetch?.();
    await this.loop.catch(() => undefined);
    const drained = await this.nc.drain().then(
      () => true,
      () => false,
    );
    // After the drain the server has every ack: the record is no longer needed.
    this.record?.close(drained);
  }
}

/**
 * Feed `ring` (as a producer) from stream `opts.stream` through durable pull consumer `opts.durable`.
 * Resolves once connected and the consumer is bound.
 *
 * @throws {MpError} EINVAL — `window` 0, bad names or servers, stream missing and `create` not set
 * @throws {MpError} EPROTO — the stream carries elements of another size or encoding (both named), or records none
 * @throws {MpError} ENOTCONN — no server answered (addresses named) and `waitForServer` not set
 * @throws {MpError} ETIMEDOUT — JetStream did not answer (with `waitForServer`: within JETSTREAM_READY_MS)
 * @throws {MpError} EPERM — `stateDir` is not a directory of this uid that only it can write
 */
export async function streamToRing(ring: Ring, opts: StreamToRingOptions): Promise<StreamToRing> {
  if (opts === null || typeof opts !== 'object') throw new MpError('EINVAL', 'streamToRing needs an options object');
  const stream = nameOption('stream', opts.stream, true);
  const durable = nameOption('durable', opts.durable, true);
  const subject = opts.subject === undefined ? undefined : nameOption('subject', opts.subject);
  const window = intOption('window', opts.window, 64, 1, 10_000);
  const ackWaitMs = intOption('ackWaitMs', opts.ackWaitMs, 10_000, 100);
  const minBackoffMs = intOption('minBackoffMs', opts.minBackoffMs, 50);
  const maxBackoffMs = intOption('maxBackoffMs', opts.maxBackoffMs, 2000);
  if (opts.stateDir !== undefined && (typeof opts.stateDir !== 'string' || !opts.stateDir.startsWith('/'))) {
    throw new MpError('EINVAL', `stateDir must be an absolute path (got ${JSON.stringify(opts.stateDir)})`);
  }
  const events = new EventEmitter<RingBridgeEvents>();
  const nc = await openConnection({ ...opts, name: opts.name ?? `mp-stream-to-ring-${ring.name}` }, events);
  try {
    const jsm = await jetStreamSetup(opts, async () => {
      const m = await jetstreamManager(nc);
      await ensureStream(m, stream, subject, ring.elemSize, `ring '${ring.name}'`, opts, nc.info?.version);
      return m;
    });
    try {
      await jsm.consumers.info(stream, durable);
    } catch (err) {
      if ((err as Error).name !== 'ConsumerNotFoundError' && !/consumer not found/i.test((err as Error).message)) throw err;
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ackWaitMs * 1_000_000,
        max_ack_pending: window,
        ...(subject === undefined ? {} : { filter_subject: subject }),
      });
    }
    const consumer = await jetstream(nc).consumers.get(stream, durable);
    const bridge = new StreamToRing(ring, nc, jsm, consumer, { stream, durable, window, ackWaitMs, minBackoffMs, maxBackoffMs, stateDir: opts.stateDir });
    events.on('status', (s) => bridge.emit('status', s));
    await bridge.start();
    return bridge;
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}
