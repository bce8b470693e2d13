/**
 * ringToStream: drain a ring into a JetStream stream, losing nothing and duplicating nothing across
 * server, connection and bridge faults.
 *
 * How (one peek at a time):
 *  1. Peek up to `batch × window` elements (`dequeueBurstStart`: the elements stay in the ring) and read
 *     the ring's consumer position `pos` of the first one.
 *  2. Publish them as messages of up to `batch` elements, all at once, message j with id
 *     `<group>/<ring>/<seq>` and an expectation: on a stream of our own "the stream's last sequence is
 *     L + j" (L: the last ack), else (window 1) "the last message on my subject is L".
 *  3. When every ack is back: release them from the ring (`dequeueFinish`), seq += count, L = last ack.
 * On any failure (timeout, no leader, connection lost, wrong last sequence, a duplicate ack) the bridge
 * waits (backoff), re-reads the last message of its subject from the stream (`Mp-Seq`, `Mp-Count`,
 * `Mp-Pos`: what the stream really holds), releases from its peek the elements the stream already has,
 * and publishes the rest again. The expectation makes the stream refuse a batch that would land after a
 * lost one (so order holds when a leader dies with batches in flight); the message id makes the stream
 * drop a batch that landed although its ack was lost.
 * A bridge SIGKILLed between 1 and 3 leaves its peek in the ring: the next bridge on that ring calls
 * `ring.recover()` (which hands the peeked elements out again), reads the last message the same way and
 * skips what the stream already holds. So the stream receives every element once, in ring order.
 */
import { EventEmitter } from 'node:events';
import { eal } from '@mp/eal';
import { MpError } from '@mp/memory';
import type { Ring } from '@mp/ring';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Backoff, intOption, jetStreamSetup, nameOption, openConnection, sleep } from './connection.js';
import type { BridgeStatus, ConnectionOptions } from './connection.js';
import { batchHeaders, ensureStream, readBatch } from './format.js';
import type { StreamCreateOptions } from './format.js';
import { emptyStats } from './stats.js';
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
   * Messages in flight at once (each `batch` elements; one ring peek of up to `batch × window`); default 8.
   * Used only when the stream captures nothing but `subject` (a stream of this bridge's own, as
   * `create` makes it): the expectation of each message is then the stream's last sequence, which is
   * predictable. On a shared stream the window is 1.
   */
  window?: number;
  /** The group name in message ids; default the `--file-prefix` of the group `init()` attached. */
  group?: string;
  /** Publish ack timeout in ms before the batch is retried; default 2000. */
  ackTimeoutMs?: number;
  /** How long an empty ring is re-checked on every event-loop turn before the bridge sleeps 1 ms per check; default 200 µs. */
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
  private readonly buf: Uint32Array;

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
    this.buf = new Uint32Array(o.batch * o.window * this.words);
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
    this.loop = this.run();
  }

  /** Read what the stream holds of this source: last stream sequence, next seq, ring position after it. */
  private async resync(): Promise<void> {
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

  private async idle(spinUntil: number): Promise<void> {
    this.counters.waits++;
    if (performance.now() < spinUntil) await new Promise<void>((r) => setImmediate(r));
    else await sleep(1, this.abort.signal);
  }

  private async run(): Promise<void> {
    const { ring, buf, words } = this;
    const { batch, window } = this.o;
    const elemSize = ring.elemSize;
    const backoff = new Backoff(this.o.minBackoffMs, this.o.maxBackoffMs);
    let spinUntil = performance.now() + this.o.idleSpinUs / 1000;
    let retried = false;
    while (!this.stopped) {
      const n = ring.dequeueBurstStart(buf, batch * window);
      if (n === 0) {
        await this.idle(spinUntil);
        continue;
      }
      spinUntil = performance.now() + this.o.idleSpinUs / 1000;
      const pos = consumerTail(ring);
      this.counters.pending = n;
      // Elements the stream already holds (after a restart or a fault): release them unpublished; the
      // rest (if any) is peeked again with its own position.
      if (this.posEnd !== undefined) {
        const have = (this.posEnd - pos) | 0;
        if (have > 0) {
          const k = Math.min(have, n);
          ring.dequeueFinish(k);
          this.counters.duplicates += k;
          this.counters.pending = 0;
          continue;
        }
      }
      // One message per `batch` elements, all in flight at once (window), each expecting its predecessor.
      const seq0 = this.nextSeq;
      const sends: Array<Promise<PubAck>> = [];
      for (let off = 0, j = 0; off < n; off += batch, j++) {
        const cnt = Math.min(batch, n - off);
        const seq = seq0 + off;
        const opts: Partial<JetStreamPublishOptions> = {
          msgID: `${this.o.group}/${ring.name}/${seq}`,
          headers: batchHeaders(seq, cnt, (pos + off) >>> 0, elemSize),
          timeout: this.o.ackTimeoutMs,
          // A stream of our own: the stream-wide last sequence is predictable for every message of the
          // window; else only the subject's, for the one message in flight.
          expect: this.dedicated ? { lastSequence: this.lastSeq + j } : { lastSubjectSequence: this.lastSeq },
        };
        sends.push(this.js.publish(this.o.subject, new Uint8Array(buf.buffer, off * elemSize, cnt * words * 4).slice(), opts));
      }
      this.counters.published += n;
      if (retried) this.counters.redelivered += n;
      const acks = await Promise.allSettled(sends);
      const ok = acks.every((a) => a.status === 'fulfilled' && !a.value.duplicate);
      if (ok) {
        const last = acks[acks.length - 1] as PromiseFulfilledResult<PubAck>;
        this.lastSeq = last.value.seq;
        this.nextSeq = seq0 + n;
        this.posEnd = (pos + n) >>> 0;
        ring.dequeueFinish(n);
        this.counters.acked += n;
        this.counters.messages += acks.length;
        this.counters.pending = 0;
        retried = false;
        backoff.reset();
        continue;
      }
      // Some message failed (or was a duplicate): give the peek back, wait, read what the stream holds,
      // and go round (the skip above releases what is there; the rest is published again).
      ring.dequeueFinish(0);
      this.counters.pending = 0;
      if (this.stopped) return;
      const failed = acks.find((a) => a.status === 'rejected') as PromiseRejectedResult | undefined;
      if (failed !== undefined) {
        this.counters.retries++;
        this.emit('status', { status: 'error', error: failed.reason as Error });
        await sleep(backoff.next(), this.abort.signal);
      }
      retried = true;
      await this.resync();
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
  const window = intOption('window', opts.window, 8, 1, 1024);
  if (batch * window > 1 << 22) throw new MpError('EINVAL', `batch × window = ${batch * window} elements in flight (at most ${1 << 22})`);
  const ackTimeoutMs = intOption('ackTimeoutMs', opts.ackTimeoutMs, 2000);
  const idleSpinUs = intOption('idleSpinUs', opts.idleSpinUs, 200, 0, 1_000_000);
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
