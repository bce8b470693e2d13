// One process of the bridge benchmark (spawned inside a network namespace by bridge.bench.ts): JSON
// commands on stdin, replies on stdout (@mp/test-utils' agent protocol). Elements are 16 bytes:
// [seq, send time in ms (performance.timeOrigin + now: one clock for every process of the host)].
import { init } from '@mp/eal';
import { Ring } from '@mp/ring';
import { ringToStream, streamToRing } from '@mp/bridge-nats';
import { connect, headers } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { serve } from '@mp/test-utils/agent';

const now = () => performance.timeOrigin + performance.now();
const rings = new Map();
const ring = (name) => rings.get(name) ?? (rings.set(name, Ring.lookup(name)), rings.get(name));
let bridge;

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

/** Wait `ms` between paced bursts (a timer; the event loop stays free for the bridge in this process). */
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Read `count` elements; the rate is counted from the first element's send time to the last arrival. */
function collect(count) {
  const lat = [];
  let got = 0;
  let first;
  let last = 0;
  let dups = 0;
  let next = 0;
  return {
    add(f64, k) {
      const t = now();
      for (let i = 0; i < k; i++) {
        const s = f64[2 * i];
        const sent = f64[2 * i + 1];
        if (first === undefined) first = sent;
        if (s < next) dups++;
        next = Math.max(next, s + 1);
        lat.push(t - sent);
      }
      got += k;
      last = t;
    },
    done: () => got >= count,
    result() {
      const { p50, p99 } = quantiles(lat);
      return { got, dups, rate: (got * 1000) / (last - first), p50Us: p50 * 1000, p99Us: p99 * 1000 };
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
  /** Enqueue `count` elements: flat out (`burst` at a time), or `burst` every `everyMs`. */
  async produce({ name, count, burst = 64, everyMs = 0 }) {
    const r = ring(name);
    const f64 = new Float64Array(burst * 2);
    let seq = 0;
    while (seq < count) {
      const n = Math.min(burst, count - seq);
      stamp(f64, seq, n);
      let k = r.enqueueBurst(f64, n);
      // Full: sleep on the ring (futex, libuv pool) until there is room, without spinning.
      if (k === 0) k = await r.enqueueBurstAsync(f64, n, { timeoutMs: 1000 });
      seq += k;
      if (everyMs && k === n) await pause(everyMs);
    }
    return seq;
  },
  async consume({ name, count, burst = 256 }) {
    const r = ring(name);
    const f64 = new Float64Array(burst * 2);
    const c = collect(count);
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
  async closeBridge() {
    await bridge?.close();
    bridge = undefined;
    return true;
  },
  /** Raw JetStream: make stream `stream` on `subject` (replicated `replicas` times). */
  async rawStream({ servers, stream, subject, replicas }) {
    const nc = await connect({ servers });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [subject], num_replicas: replicas });
    await nc.close();
    return true;
  },
  /** Raw JetStream: publish `count` elements as messages of `batch` (the bridge's payloads), `window` acks in flight. */
  async rawPublish({ servers, subject, count, batch, window = 1, burst = 0, everyMs = 0, bridgeHeaders = false }) {
    const nc = await connect({ servers });
    const js = jetstream(nc);
    const f64 = new Float64Array(batch * 2);
    const inflight = new Set();
    let seq = 0;
    let published = 0;
    while (seq < count) {
      const n = Math.min(everyMs ? burst : batch, count - seq);
      stamp(f64, seq, n);
      // bridgeHeaders: what ringToStream adds to each message (a de-duplication id, the expected last
      // sequence, four Mp-* headers) — isolates the server's cost of them from the bridge's own.
      const opts = bridgeHeaders ? { msgID: `raw/${subject}/${seq}`, expect: { lastSequence: published }, headers: bridgeHeadersOf(seq, n) } : undefined;
      const p = js.publish(subject, new Uint8Array(f64.buffer, 0, n * 16).slice(), opts);
      published++;
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
      if (inflight.size >= window) await Promise.race(inflight);
      seq += n;
      if (everyMs) await pause(everyMs);
    }
    await Promise.all(inflight);
    await nc.close();
    return seq;
  },
  /** Raw JetStream: a durable pull consumer (created here, `max_ack_pending` window) reading `count` elements with consume(), acking each message. */
  async rawConsume({ servers, stream, durable, count, window = 8 }) {
    const nc = await connect({ servers });
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, max_ack_pending: window });
    const c = collect(count);
    const consumer = await jetstream(nc).consumers.get(stream, durable);
    // consume(): pulls kept outstanding, as streamToRing does.
    const it = await consumer.consume({ max_messages: window, expires: 5000 });
    for await (const m of it) {
      const f64 = new Float64Array(m.data.length / 8);
      new Uint8Array(f64.buffer).set(m.data);
      c.add(f64, m.data.length / 16);
      m.ack();
      if (c.done()) break;
    }
    await nc.close();
    return c.result();
  },
};

serve(ops, { ready: true });
