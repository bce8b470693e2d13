/**
 * ringToStream: drain a ring into a JetStream stream, losing nothing and duplicating nothing across
 * server, connection and bridge faults.
 *
 * How (a pipeline: publish as soon as elements are there, release as the acks come back):
 *  1. Peek (zero-copy, `dequeueZcBurstStart` + `dequeueZcFinish(0)`: nothing leaves the ring) the
 *     elements past the ones already in flight, up to the room left in the window (`window` messages of
 *     up to `batch` elements); the bridge is the ring's only consumer, so they are the ring's oldest and
 *     their positions follow the consumer tail.
 *  2. Publish each new message at once, with id `<group>/<ring>/<seq>` and an expectation: on a stream
 *     of our own "the stream's last sequence is L + j" (L: the last acked message's sequence, j: messages
 *     in flight before it), else (window 1) "the last message on my subject is L".
 *  3. As acks come back, oldest first: release that message's elements from the ring, L = its sequence.
 *  Idle (window full, or nothing new): wait for the oldest ack or for one more element than in flight
 *  (`ring.dequeueWaitAsync`: ended directly by an enqueue in this process, else a futex wait in the libuv
 *  pool), after a spin if asked for (`idleSpinUs`).
 * On any failure (timeout, no leader, connection lost, wrong last sequence, a duplicate ack) the bridge
 * lets the rest of the flight settle, waits (backoff), re-reads the last message of its subject from the
 * stream (`Mp-Seq`, `Mp-Count`, `Mp-Pos`: what the stream really holds), releases the elements the
 * stream already has, and publishes the rest again. The expectation makes the stream refuse a message
 * that would land after a lost one (so order holds when a leader dies with messages in flight); the
 * message id makes the stream drop a message that landed although its ack was lost.
 * A bridge SIGKILLed anywhere leaves its elements in the ring (nothing is released before its ack; a
 * peek cut short is rolled back by `ring.recover()`): the next bridge on that ring reads the last
 * message the same way and skips what the stream already holds. So the stream receives every element
 * once, in ring order.
 */
import { EventEmitter } from 'node:events';
import { eal } from '@mp/eal';
import { MpError } from '@mp/memory';
import { FAULTS, faultPoint } from '@mp/memory/internal';
import type { Ring } from '@mp/ring';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, JetStreamPublishOptions } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Backoff, intOption, jetStreamSetup, nameOption, openConnection, sleep } from './connection.js';
import type { BridgeStatus, ConnectionOptions } from './connection.js';
import { batchHeaders, ensureStream, readBatch } from './format.js';
import type { StreamCreateOptions } from './format.js';
import { emptyStats } from './stats.js';
import { traceHook, traceNow } from './trace.js';
import type { BridgeStats } from './stats.js';

/** Options of {@link ringToStream}. */
export interface RingToStreamOptions extends ConnectionOptions, StreamCreateOptions {
  /** The JetStream stream. */
  stream: string;
  /** The subject this bridge publishes on (one bridge per subject; the stream must capture it). */
  subject: string;
  /** Most elements per message; default 256. */
  batch?: number;
  /**
   * Messages in flight at once (each up to `batch` elements; at most `batch × window` elements unacked,
   * still in the ring until acked); default 64 (fewer when `batch` > 65536: `batch × window` ≤ 2^22). In the
   * throughput bench a window of 8 moved about a third fewer elements per second.
   * Used only when the stream captures nothing but `subject` (a stream of this bridge's own, as
   * `create` makes it): the expectation of each message is then the stream's last sequence, which is
   * predictable. On a shared stream the window is 1.
   */
  window?: number;
  /** The group name in message ids; default the `--file-prefix` of the group `init()` attached. */
  group?: string;
  /** Publish ack timeout in ms before the batch is retried; default 2000. */
  ackTimeoutMs?: number;
  /**
   * How long an empty ring is re-checked on every event-loop turn before the bridge sleeps on it (futex);
   * default 0: sleep at once. An enqueue in the bridge's own process ends that sleep directly (a
   * microtask), so a spin buys nothing there and costs a core's time; from another process the futex
   * wake takes a pool thread's wake-up, which a spin of a few hundred µs can save for elements that come
   * that soon after a publish.
   */
  idleSpinUs?: number;
}

/** Events of a ring bridge. */
export interface RingBridgeEvents {
  status: [BridgeStatus];
}

/** The consumer tail (position of the next element to leave) of a ring, read from its dump. */
function consumerTail(ring: Ring): number {
  const m = /\bct=(\d+)/.exec(ring.dump());
  if (m === null) throw new MpError('EPROTO', `ring '${ring.name}': its dump has no consumer tail`);
  return Number(m[1]) >>> 0;
}

/** Consumer head minus tail (elements reserved by a consumer and not released). */
function consumerReserved(ring: Ring): number {
  const d = ring.dump();
  const ct = Number(/\bct=(\d+)/.exec(d)?.[1] ?? 0);
  const ch = Number(/\bch=(\d+)/.exec(d)?.[1] ?? 0);
  return (ch - ct) >>> 0;
}

/** One message published and not yet released. */
interface InFlight {
  /** Elements in it. */
  count: number;
  /** Source sequence of its first element. */
  seq: number;
  /** Ring position of its first element. */
  pos: number;
  /** Settled: acked as new (ok), or failed / a duplicate (error). */
  done: boolean;
  ok: boolean;
  ackSeq?: number;
  error?: Error;
  /** Resolves when settled (never rejects). */
  settled: Promise<void>;
}

/** A running ring → stream bridge (see {@link ringToStream}). */
export class RingToStream extends EventEmitter<RingBridgeEvents> {
  private readonly counters = emptyStats();
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  /** Stream sequence of the last message on our subject (0: none) — the stream's last, on a dedicated stream. */
  private lastSeq = 0;
  /** Source sequence number of the next element to publish. */
  private nextSeq = 0;
  /** Ring position just after the last element the stream holds (undefined: unknown / none). */
  private posEnd: number | undefined;
  private readonly js: JetStreamClient;
  private readonly words: number;
  /** Messages published and not yet released, oldest first (their elements are the ring's oldest). */
  private readonly inflight: InFlight[] = [];
  /** Elements of the messages in flight (still in the ring, in front of anything new). */
  private held = 0;
  /** The ring's consumer position of the oldest element held (the ring's consumer tail: we are its only consumer). */
  private tailPos = 0;
  /** Set after a failure until a message is acked again: published elements count as redelivered. */
  private retried = false;
  /** The futex wait on the ring in progress, if any. */
  private ringWait: Promise<unknown> | undefined;
  /** The benchmark's per-hop stamps (trace.ts), when asked for. */
  private readonly trace = traceHook();

  /** @internal use {@link ringToStream} */
  constructor(
    readonly ring: Ring,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly o: Required<Pick<RingToStreamOptions, 'stream' | 'subject' | 'batch' | 'window' | 'group' | 'ackTimeoutMs' | 'idleSpinUs' | 'minBackoffMs' | 'maxBackoffMs'>>,
    /** The stream captures only our subject: every stream sequence is ours (enables the window). */
    private readonly dedicated: boolean,
  ) {
    super();
    this.js = jetstream(nc);
    this.words = ring.elemSize / 4;
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
    // A previous bridge SIGKILLed mid-batch left its peek reserved: hand it back out (a single consumer
    // side is rolled back once head and tail have stayed apart 100 ms: retry for a while).
    const deadline = Date.now() + 2000;
    while (consumerReserved(this.ring) !== 0 && Date.now() < deadline) {
      this.ring.recover();
      if (consumerReserved(this.ring) !== 0) await sleep(25);
    }
    await this.resync();
    // The loop ends only at close(); anything thrown out of it is a bug made visible.
    this.loop = this.run().catch((err: unknown) => {
      this.emit('status', { status: 'error', error: err as Error });
    });
  }

  /** Read what the stream holds of this source: last stream sequence, next seq, ring position after it. */
  private async resync(): Promise<void> {
    this.tailPos = consumerTail(this.ring);
    const backoff = new Backoff(this.o.minBackoffMs, this.o.maxBackoffMs);
    for (;;) {
      try {
        const streamLast = this.dedicated ? (await this.jsm.streams.info(this.o.stream)).state.last_seq : 0;
        const m = await this.jsm.streams.getMessage(this.o.stream, { last_by_subj: this.o.subject });
        if (m === null) {
          this.lastSeq = this.dedicated ? streamLast : 0;
          this.posEnd = undefined;
          return;
        }
        this.lastSeq = this.dedicated ? streamLast : m.seq;
        const b = readBatch(m.header);
        if (b === undefined) {
          this.posEnd = undefined; // someone else's message on our subject: continue after it
          return;
        }
        this.nextSeq = b.seq + b.count;
        this.posEnd = (b.pos + b.count) >>> 0;
        return;
      } catch (err) {
        if (this.stopped) return;
        this.counters.retries++;
        this.emit('status', { status: 'error', error: err as Error });
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  /**
   * Wait until a message in flight settles or (when the window has room) the ring holds more than the
   * bridge has published: a spin on the event loop first if asked for (`idleSpinUs`), then one wait on the
   * ring, kept across turns (its need re-read at every wake-up as `held` changes). An enqueue in this
   * process ends that wait from its own call's microtasks (@mp/ring), one settlement away from this loop.
   */
  private idle(spinUntil: number, room: boolean): Promise<unknown> {
    if (room && this.o.idleSpinUs > 0 && performance.now() < spinUntil) {
      // Spinning: come back on the next turn (acks are handled meanwhile: they are I/O callbacks).
      return new Promise<void>((r) => setImmediate(r));
    }
    this.counters.waits++;
    const head = this.inflight[0]?.settled;
    if (room) {
      this.ringWait ??= this.ring
        .dequeueWaitAsync(() => (this.stopped ? 0 : Math.min(this.held + 1, this.ring.capacity)), { timeoutMs: 250 })
        .then(
          () => {
            this.ringWait = undefined;
          },
          (err: unknown) => {
            this.ringWait = undefined;
            this.emit('status', { status: 'error', error: err as Error });
            return sleep(this.o.minBackoffMs, this.abort.signal);
          },
        );
      return head === undefined ? this.ringWait : Promise.race([head, this.ringWait]);
    }
    return head ?? Promise.resolve();
  }

  /** Release the ring's `n` oldest elements (acked, or already in the stream); the caller adjusts `held`. */
  private release(n: number): void {
    const zc = this.ring.dequeueZcBulkStart(n);
    if (zc.n !== n) throw new MpError('EPROTO', `ring '${this.ring.name}': ${n} elements seen are no longer there (another consumer?)`);
    this.ring.dequeueZcFinish(n);
    this.tailPos = (this.tailPos + n) >>> 0;
  }

  /**
   * Publish the elements the ring holds past the ones in flight, as messages of up to `batch`, while the
   * window has room. Returns the elements published (0: nothing new).
   */
  private publishMore(): number {
    const { ring, words } = this;
    const { batch, window } = this.o;
    const room = window - this.inflight.length;
    const zc = ring.dequeueZcBurstStart(this.held + room * batch);
    const have = zc.n;
    if (have <= this.held) {
      if (have > 0) ring.dequeueZcFinish(0);
      return 0;
    }
    let first = this.held;
    // Elements the stream already holds (after a restart or a fault): release them unpublished.
    if (this.posEnd !== undefined && this.held === 0) {
      const skip = Math.min((this.posEnd - this.tailPos) | 0, have);
      if (skip > 0) {
        ring.dequeueZcFinish(0);
        this.release(skip);
        this.counters.duplicates += skip;
        return skip;
      }
      this.posEnd = undefined;
    }
    const elemSize = ring.elemSize;
    let published = 0;
    while (first < have && this.inflight.length < window) {
      const cnt = Math.min(batch, have - first);
      const data = new Uint32Array(cnt * words);
      // Copy out of the zero-copy views (the run may wrap round the ring's end).
      const a = Math.max(0, Math.min(cnt, zc.n1 - first));
      if (a > 0) data.set(zc.ptr1.subarray(first * words, (first + a) * words));
      if (a < cnt) data.set(zc.ptr2.subarray((first + a - zc.n1) * words, (first + cnt - zc.n1) * words), a * words);
      const seq = this.nextSeq;
      const pos = (this.tailPos + first) >>> 0;
      const j = this.inflight.length;
      const opts: Partial<JetStreamPublishOptions> = {
        msgID: `${this.o.group}/${ring.name}/${seq}`,
        headers: batchHeaders(seq, cnt, pos, elemSize),
        timeout: this.o.ackTimeoutMs,
        // A stream of our own: the stream-wide last sequence is predictable for every message in flight;
        // else only the subject's, for the one message in flight.
        expect: this.dedicated ? { lastSequence: this.lastSeq + j } : { lastSubjectSequence: this.lastSeq },
      };
      const m: InFlight = { count: cnt, seq, pos, ok: false, done: false, settled: Promise.resolve() };
      const trace = this.trace;
      m.settled = this.js.publish(this.o.subject, new Uint8Array(data.buffer), opts).then(
        (ack) => {
          if (trace !== undefined) trace('ack', seq, traceNow());
          m.ok = !ack.duplicate;
          m.ackSeq = ack.seq;
          if (ack.duplicate) m.error = new MpError('EPROTO', `stream '${this.o.stream}' already held message ${opts.msgID}`);
          m.done = true;
        },
        (err: unknown) => {
          m.error = err as Error;
          m.done = true;
        },
      );
      if (trace !== undefined) trace('publish', seq, traceNow());
      this.inflight.push(m);
      this.nextSeq += cnt;
      this.held += cnt;
      first += cnt;
      published += cnt;
    }
    ring.dequeueZcFinish(0);
    this.counters.published += published;
    if (this.retried) this.counters.redelivered += published;
    this.counters.pending = this.held;
    return published;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.o.minBackoffMs, this.o.maxBackoffMs);
    let spinUntil = performance.now() + this.o.idleSpinUs / 1000;
    while (!this.stopped) {
      // Acked messages, oldest first: release their elements (all of them at once: one ring release and
      // one wake of its producers however many acks came back since the last turn).
      let failed: InFlight | undefined;
      let acked = 0;
      while (this.inflight.length > 0 && this.inflight[0]!.done) {
        const m = this.inflight[0]!;
        if (!m.ok) {
          failed = m;
          break;
        }
        this.inflight.shift();
        this.lastSeq = m.ackSeq!;
        this.posEnd = undefined;
        if (FAULTS) faultPoint('ring-to-stream-acked');
        acked += m.count;
        this.counters.messages++;
        this.retried = false;
        backoff.reset();
      }
      if (acked > 0) {
        this.release(acked);
        this.held -= acked;
        this.counters.acked += acked;
      }
      this.counters.pending = this.held;
      if (failed !== undefined) {
        // A message failed (or was a duplicate): let the others settle, forget the flight (its elements
        // are still in the ring), wait, read what the stream holds, and go round (publishMore skips what
        // is there and publishes the rest again).
        await Promise.allSettled(this.inflight.map((m) => m.settled));
        this.inflight.length = 0;
        this.held = 0;
        this.counters.pending = 0;
        if (this.stopped) return;
        this.counters.retries++;
        this.emit('status', { status: 'error', error: failed.error ?? new Error('publish failed') });
        await sleep(backoff.next(), this.abort.signal);
        this.retried = true;
        await this.resync();
        continue;
      }
      // Room: a message more may go out, and the ring can hold an element past the ones in flight (a
      // window of batch × window ≥ the ring's capacity can hold all of them: then only an ack frees room,
      // and a ring wait for held + 1 elements — clamped to the capacity — would return at once, forever).
      const room = this.inflight.length < this.o.window && this.held < this.ring.capacity;
      if (room && this.publishMore() > 0) {
        spinUntil = performance.now() + this.o.idleSpinUs / 1000;
        continue;
      }
      await this.idle(spinUntil, room);
    }
  }

  /**
   * Stop: the batch in flight is waited for (an unacked one goes back to the ring), then the connection
   * closes. Idempotent.
   */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.loop.catch(() => undefined);
    await this.nc.close().catch(() => undefined);
  }
}

/**
 * Drain `ring` (as a consumer: the ring's consumer side must be `single` or `hts`, which allow the peek
 * the bridge releases only after the stream's ack) into JetStream stream `opts.stream` on `opts.subject`.
 * Resolves once connected and resumed (the stream's last message for the subject read).
 *
 * @throws {MpError} EINVAL — `batch` 0 or not an integer, bad names or servers, a ring whose consumer side cannot peek (`multi`, `rts`), stream missing and `create` not set
 * @throws {MpError} EPROTO — the stream carries elements of another size or encoding (both named)
 * @throws {MpError} ENOTCONN — no server answered (addresses named) and `waitForServer` not set; no group attached and no `group` given
 * @throws {MpError} ETIMEDOUT — JetStream did not answer (with `waitForServer`: within JETSTREAM_READY_MS, while a new cluster elects its leader)
 */
export async function ringToStream(ring: Ring, opts: RingToStreamOptions): Promise<RingToStream> {
  if (opts === null || typeof opts !== 'object') throw new MpError('EINVAL', 'ringToStream needs an options object');
  const stream = nameOption('stream', opts.stream, true);
  const subject = nameOption('subject', opts.subject);
  if (/[*>]/.test(subject)) throw new MpError('EINVAL', `subject '${subject}' must not be a wildcard (it is where this bridge publishes)`);
  const batch = intOption('batch', opts.batch, 256, 1, 1 << 20);
  // Default 64, less when the batch is so large that 64 of them would pass the bound below.
  const window = intOption('window', opts.window, Math.max(1, Math.min(64, Math.floor((1 << 22) / batch))), 1, 1024);
  if (batch * window > 1 << 22) throw new MpError('EINVAL', `batch × window = ${batch * window} elements in flight (at most ${1 << 22})`);
  const ackTimeoutMs = intOption('ackTimeoutMs', opts.ackTimeoutMs, 2000);
  const idleSpinUs = intOption('idleSpinUs', opts.idleSpinUs, 0, 0, 1_000_000);
  const minBackoffMs = intOption('minBackoffMs', opts.minBackoffMs, 50);
  const maxBackoffMs = intOption('maxBackoffMs', opts.maxBackoffMs, 2000);
  if (ring.consumerMode !== 'single' && ring.consumerMode !== 'hts') {
    throw new MpError('EINVAL', `ring '${ring.name}' has a '${ring.consumerMode}' consumer side; ringToStream needs 'single' or 'hts' (it peeks and releases only after the stream's ack)`);
  }
  const group = opts.group ?? eal().filePrefix;
  const events = new EventEmitter<RingBridgeEvents>();
  const nc = await openConnection({ ...opts, name: opts.name ?? `mp-ring-to-stream-${group}-${ring.name}` }, events);
  try {
    const { jsm, info } = await jetStreamSetup(opts, async () => {
      const m = await jetstreamManager(nc, { timeout: ackTimeoutMs });
      return { jsm: m, info: await ensureStream(m, stream, subject, ring.elemSize, `ring '${ring.name}'`, opts, nc.info?.version) };
    });
    const subjects = info.config.subjects ?? [];
    const dedicated = subjects.length === 1 && subjects[0] === subject;
    const bridge = new RingToStream(ring, nc, jsm, { stream, subject, batch, window: dedicated ? window : 1, group, ackTimeoutMs, idleSpinUs, minBackoffMs, maxBackoffMs }, dedicated);
    events.on('status', (s) => bridge.emit('status', s));
    await bridge.start();
    return bridge;
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}
