// One process of the bridge benchmark (spawned inside a network namespace by bridge.bench.ts): JSON
// commands on stdin, replies on stdout (@mp/test-utils' agent protocol). Elements are 16 bytes:
// [seq, send time in ms (performance.timeOrigin + now: one clock for every process of the host)].
// A process may hold a ring's producer or consumer and a bridge at once (the in-process arrangement).
import { init } from '@mp/eal';
import { Ring } from '@mp/ring';
import { ringToStream, streamToRing } from '@mp/bridge-nats';
import { connect, headers } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { serve } from '@mp/test-utils/agent';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';

const now = () => performance.timeOrigin + performance.now();
const rings = new Map();
const ring = (name) => rings.get(name) ?? (rings.set(name, Ring.lookup(name)), rings.get(name));
let bridge;
/** Per-hop stamps of the bridges of this process (src/trace.ts), by hop: [[seq, t, stored?], …]. */
let trace;
/** The raw consumer's run (rawConsume). */
let rawResult;
/** BENCH_PROF: this process's CPU profiler session (profStart → profStop). */
let prof;
let cpu0;

function quantiles(lat) {
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

/** Stamp `n` elements starting at `seq` into `f64` (2 slots each). */
function stamp(f64, seq, n) {
  const t = now();
  for (let i = 0; i < n; i++) {
    f64[2 * i] = seq + i;
    f64[2 * i + 1] = t;
  }
}

function bridgeHeadersOf(seq, n) {
  const h = headers();
  h.set('Mp-Seq', String(seq));
  h.set('Mp-Count', String(n));
  h.set('Mp-Pos', String(seq));
  h.set('Mp-Elem-Size', '16');
  return h;
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Open-loop pacing at `rate` bursts/s: each burst is due at t0 + i/rate whatever happened to the previous
 * ones (a timer; the event loop stays free for a bridge in this process). A late burst goes at once and
 * the schedule does not try to catch up (no back-to-back bursts). Returns a function to await before each.
 */
function pacer(rate) {
  const period = 1000 / rate;
  let next = now();
  return async () => {
    const wait = next - now();
    if (wait > 0) await pause(wait);
    next = Math.max(next + period, now() - period);
  };
}

/** Read `count` elements; the rate is counted from the first element's send time to the last arrival. */
function collect(count, keep) {
  const lat = [];
  let got = 0;
  let first;
  let last = 0;
  let dups = 0;
  let next = 0;
  // keep: every element's send and arrival time by seq (for the per-hop table).
  const sent = keep ? new Array(count).fill(null) : undefined;
  const arrive = keep ? new Array(count).fill(null) : undefined;
  return {
    add(f64, k, t = now()) {
      for (let i = 0; i < k; i++) {
        const s = f64[2 * i];
        const st = f64[2 * i + 1];
        if (first === undefined) first = st;
        if (s < next) dups++;
        next = Math.max(next, s + 1);
        lat.push(t - st);
        if (keep && s < count) {
          sent[s] = st;
          arrive[s] = t;
        }
      }
      got += k;
      last = t;
    },
    done: () => got >= count,
    result(extra = {}) {
      const { p50, p99 } = quantiles(lat);
      return { got, dups, rate: (got * 1000) / (last - first), p50Us: p50 * 1000, p99Us: p99 * 1000, ...(keep ? { sent, arrive } : {}), ...extra };
    },
  };
}

const ops = {
  init({ prefix }) {
    init(['--proc-type=auto', `--file-prefix=${prefix}`, '--no-huge', '-m', '64', '--no-telemetry']);
    return true;
  },
  create({ name, count, opts }) {
    rings.set(name, Ring.create(name, count, opts));
    return true;
  },
  /** Record the bridges' per-hop stamps in this process from now on (before r2s / s2r). */
  traceOn() {
    trace = { publish: [], ack: [], deliver: [], enqueue: [] };
    globalThis[Symbol.for('@mp/bridge-nats.trace')] = (hop, seq, t, stored) => trace[hop].push(stored === undefined ? [seq, t] : [seq, t, stored]);
    return true;
  },
  /** BENCH_PROF: note this process's CPU time from now on and, with `sample`, sample its stacks (node:inspector). */
  async profStart({ sample = false }) {
    cpu0 = process.cpuUsage();
    if (!sample) return true;
    prof = new Session();
    prof.connect();
    await prof.post('Profiler.enable');
    await prof.post('Profiler.setSamplingInterval', { interval: 100 });
    await prof.post('Profiler.start');
    return true;
  },
  /**
   * The CPU time (µs, user + system) since profStart; when sampling, the profile is written to `file`
   * (.cpuprofile: Chrome DevTools or any reader; `mpCpuUs` added: the same CPU time).
   */
  async profStop({ file }) {
    const cpu = process.cpuUsage(cpu0);
    if (prof !== undefined) {
      const { profile } = await prof.post('Profiler.stop');
      prof.disconnect();
      prof = undefined;
      writeFileSync(file, JSON.stringify({ ...profile, mpCpuUs: cpu }));
    }
    return cpu.user + cpu.system;
  },
  traceTake() {
    const t = trace;
    trace = { publish: [], ack: [], deliver: [], enqueue: [] };
    return t;
  },
  /** Enqueue `count` elements: flat out (`burst` at a time), or `burst` at a time, `rate` bursts/s. */
  async produce({ name, count, burst = 64, rate = 0 }) {
    const r = ring(name);
    const f64 = new Float64Array(burst * 2);
    const due = rate > 0 ? pacer(rate) : undefined;
    const t0 = now();
    let seq = 0;
    while (seq < count) {
      if (due) await due();
      const n = Math.min(burst, count - seq);
      stamp(f64, seq, n);
      let k = r.enqueueBurst(f64, n);
      // Full: sleep on the ring until there is room, without spinning.
      if (k === 0) k = await r.enqueueBurstAsync(f64, n, { timeoutMs: 1000 });
      seq += k;
    }
    return { seq, ms: now() - t0 };
  },
  async consume({ name, count, burst = 256, keep = false }) {
    const r = ring(name);
    const f64 = new Float64Array(burst * 2);
    const c = collect(count, keep);
    while (!c.done()) {
      let k = r.dequeueBurst(f64, burst);
      if (k === 0) k = await r.dequeueBurstAsync(f64, burst, { timeoutMs: 30_000 });
      if (k === 0) break;
      c.add(f64, k);
    }
    return c.result();
  },
  async r2s({ name, ...o }) {
    bridge = await ringToStream(ring(name), o);
    return true;
  },
  async s2r({ name, ...o }) {
    bridge = await streamToRing(ring(name), o);
    return true;
  },
  /** CPU time of this process so far (µs, user + system). */
  cpu() {
    const c = process.cpuUsage();
    return c.user + c.system;
  },
  /** Close this process's bridge; returns its last stats() (or null). */
  async closeBridge() {
    const st = bridge?.stats() ?? null;
    await bridge?.close();
    bridge = undefined;
    return st;
  },
  /** Which servers lead stream `stream` and its consumer `durable` (they move the server-side hops). */
  async leaders({ servers, stream, durable }) {
    const nc = await connect({ servers });
    const jsm = await jetstreamManager(nc);
    const s = await jsm.streams.info(stream);
    const c = await jsm.consumers.info(stream, durable);
    await nc.close();
    return { stream: s.cluster?.leader, consumer: c.cluster?.leader };
  },
  /**
   * Wait until a new cluster's JetStream takes a replicated stream (its meta leader elected): the bench's
   * first bridge would otherwise meet a cluster still electing, on a quiet machine where the agents start
   * fast (the bridges' own `waitForServer` is not what is measured).
   */
  async jsReady({ servers, replicas, timeoutMs = 30_000 }) {
    const nc = await connect({ servers });
    const end = Date.now() + timeoutMs;
    try {
      for (;;) {
        try {
          const jsm = await jetstreamManager(nc, { timeout: 1000 });
          await jsm.streams.add({ name: 'BENCH_READY', subjects: ['bench.ready'], num_replicas: replicas });
          await jsm.streams.delete('BENCH_READY');
          return true;
        } catch (err) {
          if (Date.now() > end) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await nc.close();
    }
  },
  /** Raw JetStream: make stream `stream` on `subject` (replicated `replicas` times). */
  async rawStream({ servers, stream, subject, replicas }) {
    const nc = await connect({ servers });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject], num_replicas: replicas });
    await nc.close();
    return true;
  },
  /**
   * Raw JetStream: publish `count` elements as messages of `batch` elements (the bridge's payloads), at
   * most `window` acks outstanding — flat out, or messages of `burst` elements at `rate` messages/s (open
   * loop, as the bridge's producer: a publish does not wait for the previous ack unless `window` are out).
   */
  async rawPublish({ servers, subject, count, batch, window = 1, burst = 0, rate = 0, headers: hmode = 'none' }) {
    const nc = await connect({ servers });
    const js = jetstream(nc);
    const f64 = new Float64Array(batch * 2);
    const inflight = new Set();
    const due = rate > 0 ? pacer(rate) : undefined;
    const t0 = now();
    let seq = 0;
    let published = 0;
    const callUs = [];
    while (seq < count) {
      if (due) await due();
      const n = Math.min(rate > 0 ? burst : batch, count - seq);
      stamp(f64, seq, n);
      // headers 'bridge': what ringToStream adds to each message (a de-duplication id, the expected last
      // sequence, four Mp-* headers) — isolates the server's cost of them from the bridge's own; 'expect':
      // the expected last sequence alone (the one that makes the leader check order).
      const opts =
        hmode === 'bridge'
          ? { msgID: `raw/${subject}/${seq}`, expect: { lastSequence: published }, headers: bridgeHeadersOf(seq, n) }
          : hmode === 'expect'
            ? { expect: { lastSequence: published } }
            : undefined;
      const p = js.publish(subject, new Uint8Array(f64.buffer, 0, n * 16).slice(), opts);
      // The publish call itself (headers, request, encoding): inside raw's latency as inside the bridge's
      // "enqueued → published" hop, which this makes comparable.
      callUs.push((now() - f64[1]) * 1000);
      published++;
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= window) await Promise.race(inflight);
      seq += n;
    }
    await Promise.all(inflight);
    await nc.close();
    return { seq, ms: now() - t0, publishCallUs: quantiles(callUs).p50 };
  },
  /**
   * Raw JetStream: a durable pull consumer (created here as streamToRing creates its own: explicit acks,
   * `max_ack_pending` window) reading `count` elements with consume() — pulls kept outstanding, as
   * streamToRing does — acking each message. Resolves once consume() has started (as streamToRing has
   * when it resolves: a publish before that would wait for the consumer and count its creation as
   * latency); `rawConsumed` gives the result. `keep`: also per element send/arrival times and per message
   * [seq of its first element, server store time] for the per-hop table.
   */
  async rawConsume({ servers, stream, durable, count, window = 64, keep = false }) {
    const nc = await connect({ servers });
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, max_ack_pending: window });
    const c = collect(count, keep);
    const stored = [];
    const consumer = await jetstream(nc).consumers.get(stream, durable);
    const it = await consumer.consume({ max_messages: window, expires: 5000 });
    rawResult = (async () => {
      for await (const m of it) {
        const t = now();
        const f64 = new Float64Array(m.data.length / 8);
        new Uint8Array(f64.buffer).set(m.data);
        if (keep) stored.push([f64[0], Number(m.info.timestampNanos) / 1e6]);
        c.add(f64, m.data.length / 16, t);
        m.ack();
        if (c.done()) break;
      }
      await nc.close();
      return c.result(keep ? { stored } : {});
    })();
    return true;
  },
  rawConsumed() {
    return rawResult;
  },
};

serve(ops, { ready: true });
