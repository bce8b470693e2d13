// Two hosts, one group each, one ring each, joined through NATS JetStream by @mp/bridge-nats.
//
//   pnpm --filter two-hosts-mp start            (root: it makes two network namespaces; 10 s of traffic)
//   node main.mjs --seconds 3                   (short run, as the tests do)
//
// "Hosts" A and B are network namespaces joined by a veth (10.78.0.1 ↔ 10.78.0.2), each running its own
// nats-server (JetStream, clustered over the veth) and its own @mp group. On A a producer fills ring
// 'events' (8-byte elements: seq, 0) and ringToStream drains it into stream EVENTS (2 replicas, one per
// host); on B streamToRing fills ring 'events' of B's group and a consumer checks the sequence. Both
// print per-second counters; at the end B verifies it got every element once, in order. Everything made
// here (namespaces, servers, their storage, the groups) is removed at exit, also on Ctrl-C or an error.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const role = process.argv[2];
if (role === 'host-a') await hostA(process.argv[3], process.argv[4].split(','), Number(process.argv[5]));
else if (role === 'host-b') await hostB(process.argv[3], process.argv[4].split(','));
else await orchestrate();

// ---- the two hosts' programs (each runs inside its namespace) --------------------------------------------

async function hostA(prefix, servers, seconds) {
  const { init } = await import('@mp/eal');
  const { Ring } = await import('@mp/ring');
  const { ringToStream } = await import('@mp/bridge-nats');
  const eal = init(['--proc-type=primary', `--file-prefix=${prefix}`, '--no-huge', '-m', '32', '--no-telemetry']);
  const ring = Ring.create('events', 4096, { elemSize: 8, consumer: 'single' });
  const bridge = await ringToStream(ring, { servers, stream: 'EVENTS', subject: 'events.a', create: true, replicas: 2, batch: 256, waitForServer: true });
  bridge.on('status', (s) => s.status !== 'connected' && console.log(`A: bridge ${s.status}${s.error ? `: ${s.error.message}` : ''}`));
  const buf = new Uint32Array(64 * 2);
  let seq = 0;
  let lastSeq = 0;
  let lastAcked = 0;
  const end = Date.now() + seconds * 1000;
  const tick = setInterval(() => {
    const st = bridge.stats();
    console.log(`A: produced ${seq - lastSeq}/s, acked by the stream ${st.acked - lastAcked}/s (total ${st.acked}, ${st.messages} messages, ${st.retries} retries)`);
    lastSeq = seq;
    lastAcked = st.acked;
  }, 1000);
  // Produce in bursts of 64, yielding to the event loop (the bridge runs in this process too).
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) {
      buf[2 * i] = seq + i;
      buf[2 * i + 1] = 0;
    }
    seq += ring.enqueueBurst(buf, 64);
    await new Promise((r) => setImmediate(r));
  }
  while (bridge.stats().acked < seq) await new Promise((r) => setTimeout(r, 20));
  clearInterval(tick);
  console.log(`A done: produced ${seq}`);
  await bridge.close();
  eal.cleanup();
}

async function hostB(prefix, servers) {
  const { init } = await import('@mp/eal');
  const { Ring } = await import('@mp/ring');
  const { streamToRing } = await import('@mp/bridge-nats');
  const eal = init(['--proc-type=primary', `--file-prefix=${prefix}`, '--no-huge', '-m', '32', '--no-telemetry']);
  const ring = Ring.create('events', 4096, { elemSize: 8, producer: 'single' });
  const bridge = await streamToRing(ring, { servers, stream: 'EVENTS', durable: 'to-b', waitForServer: true, create: true, replicas: 2, subject: 'events.a' });
  let expected = Infinity;
  const rl = createInterface({ input: process.stdin }).on('line', (l) => (expected = Number(l)));
  const buf = new Uint32Array(256 * 2);
  let got = 0;
  let next = 0;
  let dups = 0;
  let gaps = 0;
  let last = 0;
  const tick = setInterval(() => {
    console.log(`B: received ${got - last}/s (total ${got})`);
    last = got;
  }, 1000);
  while (got < expected) {
    let k = ring.dequeueBurst(buf, 256);
    if (k === 0) k = await ring.dequeueBurstAsync(buf, 256, { timeoutMs: 100 });
    for (let i = 0; i < k; i++) {
      const s = buf[2 * i];
      if (s < next) dups++;
      else if (s > next) gaps++;
      next = Math.max(next, s + 1);
    }
    got += k;
  }
  clearInterval(tick);
  rl.close();
  const ok = got === expected && dups === 0 && gaps === 0;
  console.log(ok ? `two-hosts verified: ${got} of ${expected} elements arrived on B, in order, none twice` : `B: FAILED: ${got} of ${expected}, ${dups} duplicates, ${gaps} gaps`);
  await bridge.close();
  eal.cleanup();
  process.exitCode = ok ? 0 : 1;
}

// ---- the orchestrator: namespaces, servers, the two hosts -----------------------------------------------

async function orchestrate() {
  const i = process.argv.indexOf('--seconds');
  const seconds = i > 0 ? Number(process.argv[i + 1]) : 10;
  if (process.getuid?.() !== 0) {
    console.error('two-hosts-mp needs root (it makes network namespaces)');
    process.exit(1);
  }
  const tag = `${process.pid}`;
  const nsA = `mp2hA${tag}`;
  const nsB = `mp2hB${tag}`;
  const dirs = [];
  const children = [];
  const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of [nsA, nsB]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not made
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
  try {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    for (const ns of [nsA, nsB]) ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', nsA, 'link', 'add', 'mp2ha', 'type', 'veth', 'peer', 'name', 'mp2hb', 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '10.78.0.1/24', 'dev', 'mp2ha');
    ip('-n', nsB, 'addr', 'add', '10.78.0.2/24', 'dev', 'mp2hb');
    ip('-n', nsA, 'link', 'set', 'mp2ha', 'up');
    ip('-n', nsB, 'link', 'set', 'mp2hb', 'up');
    const server = (ns, name, addr, peer) => {
      const dir = mkdtempSync(join(tmpdir(), `two-hosts-${name}-`));
      dirs.push(dir);
      const c = spawn('ip', ['netns', 'exec', ns, 'nats-server', '-js', '-sd', dir, '-n', name, '-a', addr, '-p', '4222', '--cluster_name', 'two-hosts', '--cluster', `nats://${addr}:6222`, '--routes', `nats://${peer}:6222`], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return new Promise((resolve, reject) => {
        const lines = [];
        const onLine = (l) => {
          lines.push(l);
          if (/Server is ready/.test(l)) resolve();
        };
        createInterface({ input: c.stderr }).on('line', onLine);
        createInterface({ input: c.stdout }).on('line', onLine);
        c.once('error', (e) => reject(new Error(`nats-server: ${e.message} (apt-get install nats-server)`)));
        c.once('exit', (code) => reject(new Error(`nats-server ${name} exited (${code}):\n${lines.join('\n')}`)));
      });
    };
    await Promise.all([server(nsA, 'host-a', '10.78.0.1', '10.78.0.2'), server(nsB, 'host-b', '10.78.0.2', '10.78.0.1')]);
    console.log(`hosts up: ${nsA} (10.78.0.1) and ${nsB} (10.78.0.2), a nats-server each, clustered`);
    const servers = (first, second) => `nats://${first}:4222,nats://${second}:4222`;
    const run = (ns, args) => {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, process.argv[1], ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(c);
      return c;
    };
    const b = run(nsB, ['host-b', `two_hosts_b_${tag}`, servers('10.78.0.2', '10.78.0.1')]);
    const a = run(nsA, ['host-a', `two_hosts_a_${tag}`, servers('10.78.0.1', '10.78.0.2'), String(seconds)]);
    const bDone = new Promise((resolve) => b.once('exit', (code) => resolve(code)));
    createInterface({ input: b.stdout }).on('line', (l) => console.log(l));
    createInterface({ input: a.stdout }).on('line', (l) => {
      console.log(l);
      const m = /^A done: produced (\d+)/.exec(l);
      if (m) b.stdin.end(`${m[1]}\n`);
    });
    const aCode = await new Promise((resolve) => a.once('exit', (code) => resolve(code)));
    if (aCode !== 0) throw new Error(`host A exited with ${aCode}`);
    const bCode = await bDone;
    process.exitCode = bCode === 0 ? 0 : 1;
  } catch (err) {
    console.error(`two-hosts-mp: ${err.message}`);
    process.exitCode = 1;
  } finally {
    cleanup();
  }
}
