// A process of the @mp/ipc benchmark (built package): echo, latency loops and floods on request.
//   node child.mjs <prefix> [primary|secondary] [start options as JSON]
// A secondary also takes commands on stdin, one JSON line each, and answers one JSON line on stdout:
// { cmd: 'latency', n, mode: 'async' | 'sync' }, { cmd: 'up', n } (it floods the primary),
// { cmd: 'down', n } (the primary floods it). Timings are taken here, secondary → primary.
import { createInterface } from 'node:readline';
import { init } from '@mp/eal';
import * as ipc from '@mp/ipc';

const [prefix, procType = 'secondary', opts = '{}'] = process.argv.slice(2);
init([`--file-prefix=${prefix}`, `--proc-type=${procType}`, '--no-huge']);
ipc.start(JSON.parse(opts));
const enc = (o) => new Uint8Array(Buffer.from(JSON.stringify(o)));
const dec = (u) => JSON.parse(Buffer.from(u).toString());
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
const param = new Uint8Array(16);
let sunk = 0;

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
async function latency({ n, mode }) {
  const peerCpu0 = dec((await ipc.request({ name: 'cpu' })).msgs[0].param);
  const cpu0 = cpuUs();
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    if (mode === 'sync') ipc.requestSync({ name: 'echo', param }, { timeoutMs: 5000 });
    else await ipc.request({ name: 'echo', param }, { timeoutMs: 5000 });
    t[i] = performance.now() - t0;
  }
  const cpu = (cpuUs() - cpu0) / n;
  const peerCpu = (dec((await ipc.request({ name: 'cpu' })).msgs[0].param) - peerCpu0) / n;
  t.sort();
  // cpu: CPU time (user + system) per round trip of this process and of its peer, in µs
  return { p50: pct(t, 0.5) * 1000, p99: pct(t, 0.99) * 1000, mean: (t.reduce((a, b) => a + b, 0) / n) * 1000, cpu, peerCpu };
}
const flood = (n, to) => {
  for (let i = 0; i < n; i++) ipc.sendMsg({ name: 'sink', param }, to !== undefined ? { to } : {});
};
const peerSunk = async () => dec((await ipc.request({ name: 'sunk' }, { timeoutMs: 60_000 })).msgs[0].param);

ipc.actionRegister('echo', (msg) => msg);
ipc.actionRegister('sink', () => {
  sunk++;
});
ipc.actionRegister('sunk', (msg) => ({ name: msg.name, param: enc(sunk) }));
ipc.actionRegister('cpu', (msg) => ({ name: msg.name, param: enc(cpuUs()) }));
// Round trips secondary → primary, measured here (DPDK's figure is secondary → primary too).
ipc.actionRegister('latency', async (msg) => ({ name: msg.name, param: enc(await latency(dec(msg.param))) }));
// Sends n one-way messages (to `to`, or the default destination), then replies: the reply leaves
// after every message, so the requester holds them all when it has the reply.
ipc.actionRegister('flood', (msg) => {
  const { n, to } = dec(msg.param);
  flood(n, to);
  return { name: msg.name, param: enc({ n }) };
});

const commands = {
  latency,
  // One-way secondary → primary: the primary's answer to 'sunk' comes after every message.
  async up({ n }) {
    const base = await peerSunk();
    const t0 = performance.now();
    flood(n);
    const got = (await peerSunk()) - base;
    return { rate: n / ((performance.now() - t0) / 1000), got };
  },
  // One-way primary → secondary: its 'flood' reply comes after every message.
  async down({ n }) {
    const base = sunk;
    const t0 = performance.now();
    await ipc.request({ name: 'flood', param: enc({ n, to: process.pid }) }, { timeoutMs: 120_000 });
    return { rate: n / ((performance.now() - t0) / 1000), got: sunk - base };
  },
};
createInterface({ input: process.stdin }).on('line', async (line) => {
  const c = JSON.parse(line);
  process.stdout.write(`${JSON.stringify(await commands[c.cmd](c))}\n`);
});
process.stdout.write('ready\n');
process.stdin.on('end', () => process.exit(0));
